//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one round: operations done in the elapsed time, with the
// server's CPU over it.
type result struct {
	ops     int64
	elapsed time.Duration
	cpu     time.Duration
	gen     time.Duration // the load generator's own CPU over the same rounds
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }
func (r result) cpuPerOp() time.Duration {
	if r.ops == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.ops)
}

// drive runs op from workers goroutines until d has passed or max ops
// were done, and returns how many succeeded in how long. A worker stops
// at its first error; an error at the end of the round (the round's
// deadline reached a dial or a read) is not a failure.
func drive(ctx context.Context, workers int, d time.Duration, max int64, op func(ctx context.Context, w int, rnd *rand.Rand) error) (int64, time.Duration, error) {
	var done atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	deadline, _ := ctx.Deadline()
	var wg sync.WaitGroup
	for w := range workers {
		rnd := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
		wg.Go(func() {
			for ctx.Err() == nil && done.Load() < max {
				if err := op(ctx, w, rnd); err != nil {
					if ctx.Err() == nil && time.Now().Before(deadline) {
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	err, _ := firstErr.Load().(error)
	return done.Load(), time.Since(start), err
}

// peerCerts holds every certificate chain a handshake was sent, by server
// address and name, for the rest of the run. crypto/tls's client keeps a
// parsed certificate only while something else holds it (a weak cache):
// against a server with one certificate the load generator almost never
// parses one, against one with 10,000 names it would parse a leaf and its
// public key on nearly every handshake, 7 to 45 µs of the two cores the
// servers share with it. Holding the chains makes the generator's work per
// handshake the same whatever the server, so the ratios measure servers.
var peerCerts sync.Map // addr + " " + name → []*x509.Certificate

// handshakes runs full TLS 1.3 handshakes (X25519, no session cache, so
// never a resumption), each on a new TCP connection with the SNI sni
// picks. With unknown, the handshakes must fail with the unrecognized_name
// alert instead (names the server does not serve), and such failures count.
func handshakes(ctx context.Context, addr string, workers int, d time.Duration, max int64, sni func(*rand.Rand) string, unknown bool) (int64, time.Duration, error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return drive(ctx, workers, d, max, func(ctx context.Context, _ int, rnd *rand.Rand) error {
		conf := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
			CurvePreferences: []tls.CurveID{tls.X25519}, ServerName: sni(rnd)}
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Client(c, conf)
		err = tc.HandshakeContext(ctx)
		switch {
		case unknown && (err == nil || !strings.Contains(err.Error(), "unrecognized name")):
			return fmt.Errorf("handshake %s: got %v, want the unrecognized_name alert", conf.ServerName, err)
		case unknown:
			return nil
		case err != nil:
			return fmt.Errorf("handshake %s: %w", conf.ServerName, err)
		}
		key := addr + " " + conf.ServerName
		if _, ok := peerCerts.Load(key); !ok {
			peerCerts.Store(key, tc.ConnectionState().PeerCertificates)
		}
		return nil
	})
}

// requests sends keep-alive GETs for https://host/ to addr from workers
// goroutines over conns client transports (HTTP/2 multiplexes the workers
// of a transport on one connection).
func requests(ctx context.Context, addr, host string, h2 bool, workers, conns int, d time.Duration, max int64) (int64, time.Duration, error) {
	clients := make([]*http.Client, conns)
	for i := range clients {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
			},
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, ServerName: host},
			ForceAttemptHTTP2:   h2,
			MaxIdleConnsPerHost: workers,
			DisableCompression:  true,
		}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
		}
		defer tr.CloseIdleConnections()
		clients[i] = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	return drive(ctx, workers, d, max, func(ctx context.Context, w int, _ *rand.Rand) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+host+"/", nil)
		resp, err := clients[w%conns].Do(req)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(upstreamBody)) || (h2 && resp.ProtoMajor != 2) || (!h2 && resp.ProtoMajor != 1) {
			return fmt.Errorf("%s: got %s with %d bytes over HTTP/%d", host, resp.Status, n, resp.ProtoMajor)
		}
		return nil
	})
}

// handshakesCmd drives handshakes (or proxied requests) at one running
// server for a while, the load of make bench-edge's rounds, to profile a
// server under it.
func handshakesCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("handshakes", flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port of the TLS server")
	name := fs.String("name", bareName, "the SNI, when -names is 0")
	names := fs.Int("names", 0, "pick the SNI at random from this many bench names (h000000.bench.test…)")
	workers := fs.Int("workers", 8, "concurrent handshakes (with -requests: concurrent requests)")
	d := fs.Duration("d", 10*time.Second, "how long")
	reqs := fs.String("requests", "", "instead of handshakes, proxied keep-alive GETs of -name over HTTP/1.1 or HTTP/2")
	conns := fs.Int("conns", 4, "with -requests, client transports the workers share")
	unknown := fs.Bool("unknown", false, "handshakes with names nobody serves (u000000001.unknown.test…), each expecting the unrecognized_name alert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" || *d <= 0 || *d > 10*time.Minute || (*reqs != "" && *reqs != "HTTP/1.1" && *reqs != "HTTP/2") {
		return errors.New("handshakes: want -addr, 0 < -d <= 10m and -requests HTTP/1.1, HTTP/2 or none")
	}
	sni := func(*rand.Rand) string { return *name }
	if *names > 0 {
		sni = func(r *rand.Rand) string { return benchName(r.IntN(*names)) }
	}
	var seq atomic.Int64
	if *unknown {
		sni = func(*rand.Rand) string { return fmt.Sprintf("u%09d.unknown.test", seq.Add(1)) }
	}
	var n int64
	var elapsed time.Duration
	var err error
	if *reqs != "" {
		n, elapsed, err = requests(ctx, *addr, *name, *reqs == "HTTP/2", *workers, *conns, *d, 1<<40)
	} else {
		n, elapsed, err = handshakes(ctx, *addr, *workers, *d, 1<<40, sni, *unknown)
	}
	fmt.Printf("%d operations in %v: %.0f/s\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	return err
}
