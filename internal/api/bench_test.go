package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
)

// seedDomains stores n domains of one org straight into the store, as a
// long-running service would have them.
func seedDomains(tb testing.TB, e *env, org string, n int) []string {
	tb.Helper()
	now := time.Now().UTC()
	ids := make([]string, 0, n)
	for i := range n {
		d := customdomain.Domain{
			ID: fmt.Sprintf("dom%017d", i), OrgID: org, Name: fmt.Sprintf("d%d.bench.test", i),
			CertSource: customdomain.Managed, Status: customdomain.InProgress, Token: "0123456789abcdef0123456789abcdef",
			BrandID: "bndBench", Created: now, Updated: now, WindowStart: now,
		}
		if err := e.store.CreateDomain(tb.Context(), d); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	return ids
}

// BenchmarkGetDomain measures GET /api/v1/domains/{id} over real HTTP on
// loopback against SQLite: requests per second with 8 concurrent clients
// on the same 2 cores as the server, and the 99th percentile latency.
func BenchmarkGetDomain(b *testing.B) {
	e := newBenchEnv(b)
	ids := seedDomains(b, e, "", 1000)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/domains/"+ids[i%len(ids)], nil)
			req.Header.Set("Authorization", "SSWS "+e.operator)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			local = append(local, time.Since(t0))
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			i++
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkListDomains compares a page of GET /api/v1/domains with 100
// and 100,000 domains stored, first page and deep page: keyset paging
// costs the same at both sizes.
func BenchmarkListDomains(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		e := newBenchEnv(b)
		start := time.Now()
		ids := seedDomains(b, e, "", n)
		b.Logf("seeded %d domains in %v", n, time.Since(start))
		for _, page := range []struct{ name, query string }{
			{"first", "?limit=50"},
			{"deep", "?limit=50&after=" + ids[n*9/10]},
		} {
			b.Run(fmt.Sprintf("stored=%d/%s", n, page.name), func(b *testing.B) {
				for b.Loop() {
					r := e.do("GET", "/api/v1/domains"+page.query, e.operator, nil)
					if r.status != 200 {
						b.Fatalf("status %d %s", r.status, r.body)
					}
				}
			})
		}
	}
}

func newBenchEnv(b *testing.B) *env {
	return newEnv(b, envOptions{rateLimit: -1, domainLimit: -1})
}

// BenchmarkListPage200 measures the server's time for a full page of
// GET /api/v1/domains (200 domains of 1,000 stored): the handler with its
// middleware (token check, rate limit, access log, metrics) called
// in-process, so the figure is server time without the network and the
// client.
func BenchmarkListPage200(b *testing.B) {
	e := newBenchEnv(b)
	seedDomains(b, e, "", 1000)
	h := e.srv.Config.Handler
	req := httptest.NewRequest("GET", "/api/v1/domains?limit=200", nil)
	req.Header.Set("Authorization", "SSWS "+e.operator)
	req.RemoteAddr = "127.0.0.1:40000"
	// hallmark serve runs the collector at GOGC 200 (cmd/hallmark's
	// serveGCPercent); measure the handler as it runs there.
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	b.ReportAllocs()
	var server time.Duration
	for b.Loop() {
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		server += time.Since(start)
		if n := bytes.Count(rec.Body.Bytes(), []byte(`"domain":"`)); rec.Code != 200 || n != 200 {
			b.Fatalf("status %d with %d domains, want 200 with 200", rec.Code, n)
		}
	}
	// The handler's own time, without the recorder and the check above.
	b.ReportMetric(float64(server.Microseconds())/float64(b.N), "server-µs/op")
}
