//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

type benchConfig struct {
	hallmark, dir         string
	stored, hot           int
	rounds                int
	round                 time.Duration
	hsWorkers, reqWorkers int
	conns                 int
	flood                 int
	hallmarkEnv           string
	databaseURL           string
	handshakesOnly        bool
}

func runBench(ctx context.Context, args []string) error {
	var c benchConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&c.hallmark, "hallmark", "bin/hallmark", "the hallmark binary to measure")
	fs.StringVar(&c.dir, "dir", filepath.Join(os.TempDir(), "hallmark-bench-edge"), "work dir: the seeded data dir is kept there between runs")
	fs.IntVar(&c.stored, "stored", 100_000, "names stored, each with a certificate")
	fs.IntVar(&c.hot, "hot", 10_000, "names the handshakes pick from at random")
	fs.IntVar(&c.rounds, "rounds", 4, "rounds of each measurement per server, alternated")
	fs.DurationVar(&c.round, "round", 3*time.Second, "length of one round")
	fs.IntVar(&c.hsWorkers, "handshake-workers", 8, "concurrent handshakes")
	fs.IntVar(&c.reqWorkers, "request-workers", 16, "concurrent proxied requests")
	fs.IntVar(&c.conns, "conns", 4, "client transports the request workers share (HTTP/2: connections)")
	fs.IntVar(&c.flood, "flood", 20_000, "handshakes with unknown names at the end (memory must stay bounded)")
	fs.StringVar(&c.hallmarkEnv, "hallmark-env", "", "space-separated NAME=value set for hallmark serve only (GOGC=200, say)")
	fs.StringVar(&c.databaseURL, "database-url", "", "measure hallmark serve on this PostgreSQL database (postgres://...), filled from the seeded data dir with hallmark migrate when empty")
	fs.BoolVar(&c.handshakesOnly, "handshakes-only", false, "measure the handshakes only (no proxying, no flood): a quicker look while tuning")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.hot > c.stored || c.rounds < 1 || c.round <= 0 || c.round > time.Minute {
		return errors.New("run: want -hot <= -stored, -rounds >= 1 and 0 < -round <= 1m")
	}
	hallmark, err := filepath.Abs(c.hallmark)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	data := filepath.Join(c.dir, "data")
	fmt.Printf("hallmark-bench: %s %s, %d names stored, %d hot; load average before: %s\n", c.hallmarkEnv, hallmark, c.stored, c.hot, loadAverage())
	if !seeded(data, c.stored) {
		os.RemoveAll(data)
		fmt.Fprintf(os.Stderr, "seeding %s (once; kept for later runs)\n", data)
		if err := seed(ctx, data, c.stored); err != nil {
			return err
		}
	}
	logs := filepath.Join(c.dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}

	// The static upstream every proxy forwards to.
	upAddr, err := freeAddr()
	if err != nil {
		return err
	}
	up, err := start("upstream", logs, nil, self, "upstream", "-addr", upAddr)
	if err != nil {
		return err
	}
	defer up.stop()
	if err := waitHTTP(ctx, "http://"+upAddr+"/"); err != nil {
		return fmt.Errorf("upstream: %w", err)
	}

	// hallmark serve itself, on the seeded SQLite data dir or on
	// PostgreSQL holding the same installation.
	store := []string{"--data-dir", data}
	if c.databaseURL != "" {
		key := filepath.Join(data, "master.key")
		store = append(store, "--database-url", c.databaseURL, "--master-key-file", key)
		out, err := exec.CommandContext(ctx, hallmark, "migrate", "--data-dir", data, "--master-key-file", key, "--to", c.databaseURL).CombinedOutput()
		switch {
		case err == nil:
			fmt.Printf("copied the seeded installation into PostgreSQL\n")
		case strings.Contains(string(out), "not empty"):
			fmt.Printf("PostgreSQL already holds an installation: measuring it as it is\n")
		default:
			return fmt.Errorf("hallmark migrate: %v\n%s", err, out)
		}
	}
	api, https, plain := must(freeAddr()), must(freeAddr()), must(freeAddr())
	hp, err := start("hallmark", logs, strings.Fields(c.hallmarkEnv), hallmark, append(append([]string{"serve"}, store...),
		"--api-addr", api, "--https-addr", https, "--http-addr", plain, "--upstream", "http://"+upAddr,
		"--dns-resolvers", "127.0.0.1:9", "--bootstrap-token", "bench-operator-token-0123456789", "--log-level", "error")...)
	if err != nil {
		return err
	}
	defer hp.stop()
	if err := waitHTTP(ctx, "http://"+api+"/readyz"); err != nil {
		return fmt.Errorf("hallmark serve: %w (see %s/hallmark.log)", err, logs)
	}
	edge := &server{name: "hallmark", addr: https, host: benchName(0), p: hp}
	if err := waitTLS(ctx, https, edge.host, hp); err != nil {
		return fmt.Errorf("hallmark serve: %w", err)
	}

	bareAddr := must(freeAddr())
	bp, err := start("bare", logs, nil, self, "bare", "-addr", bareAddr,
		"-cert", filepath.Join(data, "bare.pem"), "-key", filepath.Join(data, "bare.key"), "-upstream", "http://"+upAddr)
	if err != nil {
		return err
	}
	defer bp.stop()
	bare := &server{name: "bare Go", addr: bareAddr, host: bareName, p: bp}
	if err := waitTLS(ctx, bareAddr, bareName, bp); err != nil {
		return fmt.Errorf("bare: %w", err)
	}

	// bare crypto/tls serving the hot names from a map, each with its own
	// certificate: the same work for the load generator as hallmark.
	bareNAddr := must(freeAddr())
	bnp, err := start("bare-names", logs, nil, self, "bare", "-addr", bareNAddr, "-names", fmt.Sprint(c.hot))
	if err != nil {
		return err
	}
	defer bnp.stop()
	bareN := &server{name: fmt.Sprintf("bare Go, %d certificates", c.hot), addr: bareNAddr, host: benchName(0), p: bnp}
	if err := waitTLS(ctx, bareNAddr, bareN.host, bnp); err != nil {
		return fmt.Errorf("bare with %d names: %w", c.hot, err)
	}

	peers := []*server{}
	for _, st := range []struct {
		name  string
		start func(context.Context, string, string, string) (*server, error)
	}{{"caddy", startCaddy}, {"nginx", startNginx}} {
		s, err := st.start(ctx, logs, data, upAddr)
		switch {
		case errors.Is(err, errNotInstalled):
			fmt.Printf("%s: not found (command -v %s); not measured\n", st.name, st.name)
		case err != nil:
			fmt.Printf("%s: could not start, not measured: %v\n", st.name, err)
		default:
			defer s.p.stop()
			peers = append(peers, s)
		}
	}

	// Warm-up: every hot name once through the edge (fills its cache from
	// the store) and through bare Go with as many names (the load generator
	// then holds every chain either sends, see peerCerts).
	for _, s := range []*server{edge, bareN} {
		var seq atomic.Int64
		if n, _, err := handshakes(ctx, s.addr, c.hsWorkers, 5*time.Minute, int64(c.hot), func(*rand.Rand) string {
			return benchName(int(seq.Add(1)-1) % c.hot)
		}, false); err != nil || n < int64(c.hot) {
			return fmt.Errorf("warming %s with %d names: %d done: %v", s.name, c.hot, n, err)
		}
	}
	fmt.Printf("warm: %d hot names handshaken once; hallmark RSS %s\n", c.hot, mib(procRSS(edge.p.pid())))

	// Full handshakes.
	hsTargets := append([]*server{bare, edge, bareN}, peers...)
	hot := func(s *server) func(*rand.Rand) string {
		if s == edge || s == bareN {
			return func(r *rand.Rand) string { return benchName(r.IntN(c.hot)) }
		}
		return func(*rand.Rand) string { return s.host }
	}
	hs, err := alternate(ctx, c, hsTargets, func(s *server) (int64, time.Duration, error) {
		return handshakes(ctx, s.addr, c.hsWorkers, c.round, 1<<40, hot(s), false)
	})
	if err != nil {
		return fmt.Errorf("handshakes: %w", err)
	}
	rssAfterHS := procRSS(edge.p.pid())

	// Proxied keep-alive requests, HTTP/1.1 then HTTP/2.
	reqTargets := append([]*server{bare, edge}, peers...)
	proxied := map[string]map[*server]result{}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		if c.handshakesOnly {
			break
		}
		r, err := alternate(ctx, c, reqTargets, func(s *server) (int64, time.Duration, error) {
			return requests(ctx, s.addr, s.host, proto == "HTTP/2", c.reqWorkers, c.conns, c.round, 1<<40)
		})
		if err != nil {
			return fmt.Errorf("%s requests: %w", proto, err)
		}
		proxied[proto] = r
	}
	rssAfterLoad := procRSS(edge.p.pid())

	// A flood of unknown names: each handshake fails with
	// unrecognized_name; the negative cache is bounded.
	var unknown atomic.Int64
	floodStart := time.Now()
	for range c.flood / 1000 * b2i(!c.handshakesOnly) {
		if _, _, err := handshakes(ctx, edge.addr, c.hsWorkers, time.Minute, 1000, func(*rand.Rand) string {
			return fmt.Sprintf("u%09d.unknown.test", unknown.Add(1))
		}, true); err != nil {
			return fmt.Errorf("unknown-name flood: %w", err)
		}
	}
	rssAfterFlood := procRSS(edge.p.pid())

	report(c, edge, bare, bareN, peers, hs, proxied, rssAfterHS, rssAfterLoad, rssAfterFlood, time.Since(floodStart))
	fmt.Printf("hallmark /metrics: %s\n", edgeMetrics(api))
	fmt.Printf("load average after: %s\n", loadAverage())
	return nil
}

// alternate runs c.rounds rounds of measure on every target, the order
// rotated each round, and sums each target's rounds.
func alternate(ctx context.Context, c benchConfig, targets []*server, measure func(*server) (int64, time.Duration, error)) (map[*server]result, error) {
	out := map[*server]result{}
	for r := range c.rounds {
		for k := range targets {
			s := targets[(k+r)%len(targets)]
			if r%2 == 1 {
				s = targets[(len(targets)-1-k+r)%len(targets)]
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cpu0, gen0 := procCPU(s.p.pid()), statCPU(os.Getpid())
			n, elapsed, err := measure(s)
			cpu, gen := procCPU(s.p.pid())-cpu0, statCPU(os.Getpid())-gen0
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			sum := out[s]
			sum.ops += n
			sum.elapsed += elapsed
			sum.cpu += cpu
			sum.gen += gen
			out[s] = sum
		}
	}
	return out, nil
}

func report(c benchConfig, edge, bare, bareN *server, peers []*server, hs map[*server]result, proxied map[string]map[*server]result, rssHS, rssLoad, rssFlood int64, floodTime time.Duration) {
	fmt.Printf("\n%d rounds of %v per server and figure, alternated; CPU per op is the server process's (user+system, /proc, %v ticks)\n\n", c.rounds, c.round, clockTick)
	row := func(figure string, rs map[*server]result, order []*server) {
		e := rs[edge]
		for _, s := range order {
			r, ok := rs[s]
			if !ok {
				continue
			}
			ratio := ""
			if s != edge {
				ratio = fmt.Sprintf("%.2f, %.2f", e.rate()/r.rate(), float64(e.cpuPerOp())/float64(r.cpuPerOp()))
			}
			fmt.Printf("| %s | %s | %.0f | %v | %s | %v |\n", figure, s.name, r.rate(), r.cpuPerOp().Round(time.Microsecond), ratio,
				(r.gen / time.Duration(max(r.ops, 1))).Round(time.Microsecond))
		}
	}
	order := append([]*server{edge, bare, bareN}, peers...)
	fmt.Printf("handshakes: full TLS 1.3 (X25519, ECDSA P-256), %d workers, a new connection each; hallmark with random SNI over %d of %d stored names, the others with one certificate\n", c.hsWorkers, c.hot, c.stored)
	fmt.Printf("proxy: keep-alive HTTPS GETs of a 1 KiB static loopback upstream, %d workers over %d client transports\n\n", c.reqWorkers, c.conns)
	fmt.Println("| figure | server | ops/s | CPU per op | hallmark / this (ops/s, CPU per op) | load generator CPU per op |")
	fmt.Println("|---|---|---|---|---|---|")
	row("handshakes", hs, order)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		row("proxy "+proto, proxied[proto], order)
	}
	fmt.Printf("\nhallmark RSS: %s after the handshake rounds, %s after the proxy rounds, %s after %d handshakes with unknown names (%v)\n",
		mib(rssHS), mib(rssLoad), mib(rssFlood), c.flood, floodTime.Round(time.Millisecond))
	for _, p := range peers {
		fmt.Printf("%s RSS: %s\n", p.name, mib(procRSS(p.p.pid())))
	}
}

// edgeMetrics reads the edge's cache figures and the Go heap from
// hallmark's /metrics.
func edgeMetrics(api string) string {
	resp, err := http.Get("http://" + api + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "hallmark_edge_") || strings.HasPrefix(line, "go_memstats_heap_inuse_bytes ") ||
			strings.HasPrefix(line, "go_memstats_heap_released_bytes ") || strings.HasPrefix(line, "go_memstats_sys_bytes ") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, ", ")
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
