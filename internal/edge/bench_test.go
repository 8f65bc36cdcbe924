package edge_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store"
)

const (
	benchStored = 100_000
	benchHot    = 10_000
)

// mintSource stands for a store holding benchStored certificates: names
// h000000.bench.test … h099999.bench.test exist; a look-up mints the
// certificate from the built-in CA as a store would read and unseal it.
// It holds nothing in memory, like a database on disk, so resident memory
// measures the edge and not a fake store.
type mintSource struct{ ca *issuance.CA }

func benchName(i int) string { return fmt.Sprintf("h%06d.bench.test", i) }

func (s mintSource) Lookup(ctx context.Context, name string) (edge.Entry, error) {
	num, ok := strings.CutSuffix(strings.TrimPrefix(name, "h"), ".bench.test")
	i, err := strconv.Atoi(num)
	if !ok || err != nil || i < 0 || i >= benchStored {
		return edge.Entry{}, store.ErrNotFound
	}
	iss, err := s.ca.Issue(ctx, issuance.Request{Name: name})
	if err != nil {
		return edge.Entry{}, err
	}
	c := &tls.Certificate{PrivateKey: iss.Key, Leaf: iss.Leaf()}
	for _, x := range iss.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return edge.Entry{Certificate: c}, nil
}

func benchEdge(b *testing.B, ca *issuance.CA) *edge.Edge {
	e, err := edge.New(edge.Config{}, mintSource{ca}, issuance.NewMemStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// warm fills the cache with the hot names through the SNI callback.
func warm(b *testing.B, e *edge.Edge) {
	get := e.TLSConfig().GetCertificate
	for i := range benchHot {
		if c, err := get(&tls.ClientHelloInfo{ServerName: benchName(i)}); err != nil || c == nil {
			b.Fatalf("warming %s: %v", benchName(i), err)
		}
	}
}

// handshakeServer accepts and completes handshakes with cfg until ln closes.
func handshakeServer(b *testing.B, cfg *tls.Config) string {
	cfg = cfg.Clone()
	cfg.SessionTicketsDisabled = true // every handshake is a full one
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(c, cfg)
				tc.Handshake()
				tc.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// load runs n full TLS 1.3 handshakes with random hot SNI from workers
// goroutines and returns the elapsed time. The same generator drives both
// servers.
func load(b *testing.B, addr string, n, workers int) time.Duration {
	var wg sync.WaitGroup
	per := n / workers
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		rnd := rand.New(rand.NewPCG(uint64(w), uint64(n)))
		wg.Go(func() {
			cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}
			for range per {
				conf := cfg.Clone()
				conf.ServerName = benchName(rnd.IntN(benchHot))
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				tc := tls.Client(c, conf)
				if err := tc.Handshake(); err != nil {
					c.Close()
					errs <- err
					return
				}
				tc.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkHandshakeRatio alternates rounds against a bare crypto/tls server
// with one certificate and against the edge (100,000 names in the Source,
// 10,000 hot), and reports handshakes per second of each and their ratio.
func BenchmarkHandshakeRatio(b *testing.B) {
	ca := newCA(b)
	e := benchEdge(b, ca)
	warm(b, e)
	one := mint(b, ca, benchName(0))
	bare := handshakeServer(b, &tls.Config{Certificates: []tls.Certificate{*one}})
	edgeAddr := handshakeServer(b, e.TLSConfig())
	const round, workers = 400, 8
	load(b, bare, round, workers) // warm up both
	load(b, edgeAddr, round, workers)
	var tBare, tEdge time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			tBare += load(b, bare, round, workers)
			tEdge += load(b, edgeAddr, round, workers)
		} else {
			tEdge += load(b, edgeAddr, round, workers)
			tBare += load(b, bare, round, workers)
		}
	}
	n := float64(b.N * round)
	bareRate, edgeRate := n/tBare.Seconds(), n/tEdge.Seconds()
	b.ReportMetric(bareRate, "bare-hs/s")
	b.ReportMetric(edgeRate, "edge-hs/s")
	b.ReportMetric(edgeRate/bareRate, "ratio")
	if e.Cached() < benchHot {
		b.Fatalf("cached %d names, want the %d hot ones", e.Cached(), benchHot)
	}
}

// BenchmarkMemory reports the resident memory of the process after the
// edge has served 10,000 hot names of 100,000 stored. Run it alone
// (-run '^$' -bench Memory) so that nothing else lives in the process.
func BenchmarkMemory(b *testing.B) {
	for b.Loop() {
		ca := newCA(b)
		e := benchEdge(b, ca)
		warm(b, e)
		// Twice: the first collection queues the cleanups that drop
		// crypto/ecdsa's cached FIPS forms of keys no longer referenced,
		// the second frees what they released.
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(rssBytes(b))/(1<<20), "RSS-MiB")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-live-MiB")
		b.ReportMetric(float64(ms.HeapObjects), "heap-objects")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "go-sys-MiB")
		runtime.KeepAlive(e)
	}
}

func rssBytes(b *testing.B) int64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(s)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkStartup measures New + Serve until the first handshake for a
// stored (cold) name completes, with 100,000 names in the Source.
func BenchmarkStartup(b *testing.B) {
	ca := newCA(b)
	for i := 0; b.Loop(); i++ {
		e := benchEdge(b, ca)
		httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
		httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Serve(ctx, httpsLn, httpLn) }()
		name := benchName(rand.IntN(benchStored))
		var err error
		for range 100 {
			var c *tls.Conn
			c, err = tls.Dial("tcp", httpsLn.Addr().String(), &tls.Config{ServerName: name, InsecureSkipVerify: true})
			if err == nil {
				c.Close()
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
}

// BenchmarkProxy sends keep-alive HTTPS requests through the edge to a
// static loopback upstream, over HTTP/1.1 and HTTP/2, from 8 goroutines.
// Allocations are those of the whole process (client, edge, upstream).
func BenchmarkProxy(b *testing.B) {
	body := strings.Repeat("x", 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	b.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	ca := newCA(b)
	e, err := edge.New(edge.Config{DefaultUpstream: upURL}, mintSource{ca}, issuance.NewMemStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, httpsLn, httpLn) }()
	b.Cleanup(func() { cancel(); <-done })
	addr := httpsLn.Addr().String()
	for _, proto := range []string{"http1", "h2"} {
		b.Run(proto, func(b *testing.B) {
			tr := &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				},
				TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
				ForceAttemptHTTP2:   proto == "h2",
				MaxIdleConnsPerHost: 16,
			}
			b.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get("https://" + benchName(1) + "/")
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
