//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
)

// BenchmarkClusterPostgres measures a cluster of real `hallmark serve`
// processes on one PostgreSQL (its own server, durable commits), with the
// clients on the same two cores:
//
//   - creates/s: POST /api/v1/domains by 8 clients spread over the nodes;
//   - get-req/s and get-p99-ms: GET /api/v1/domains/{id} on one node by 8
//     clients for 3 s;
//   - served-p50-ms and served-p99-ms: from a DELETE answered by node 0 to
//     the moment nodes 1 and 2, which served the name from their caches,
//     stop serving it (the outbox announced over LISTEN/NOTIFY), over
//     b.N rounds.
//
// go test -run '^$' -bench ClusterPostgres -benchtime 100x ./cmd/hallmark/
func BenchmarkClusterPostgres(b *testing.B) {
	pg := pgtest.Own(b)
	world := newWorld(b)
	nodes := newCluster(b, 3, pg.URL(), world, freePort(b), freePort(b), "--log-level", "warn", "--rate-limit", "-1")
	startAll(b, nodes)
	const clients = 8
	// Until the CA is shared every node may have its own: trust each.
	var rootPEMs []byte
	for _, nd := range nodes {
		rootPEMs = append(rootPEMs, fetchRoot(b, nd)...)
	}
	roots := pool(rootPEMs)

	// Creates, spread over the nodes.
	const creates = 2000
	var next atomic.Int64
	var wg sync.WaitGroup
	ids := make([]string, creates)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= creates {
					return
				}
				st, _, body, err := nodes[(c+i)%len(nodes)].try("POST", "/api/v1/domains", e2eToken,
					map[string]string{"domain": fmt.Sprintf("c%05d.acme.test", i), "certificateSourceType": "MANUAL"})
				if err != nil || st != 200 {
					b.Errorf("create: %d %v %s", st, err, body)
					return
				}
				var d e2eDomain
				json.Unmarshal(body, &d)
				ids[i] = d.ID
			}
		})
	}
	wg.Wait()
	// Reported after b.Loop, which resets what was reported before it.
	metrics := map[string]float64{"creates/s": creates / time.Since(start).Seconds()}

	// Reads on one node.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	stop := time.Now().Add(3 * time.Second)
	start = time.Now()
	for c := range clients {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for i := c; time.Now().Before(stop); i += clients {
				req, _ := http.NewRequest("GET", "http://"+nodes[0].api+"/api/v1/domains/"+ids[i%creates], nil)
				req.Header.Set("Authorization", "SSWS "+e2eToken)
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
					b.Errorf("GET: %d", resp.StatusCode)
					return
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	if len(lat) > 0 {
		metrics["get-req/s"] = float64(len(lat)) / elapsed.Seconds()
		metrics["get-p99-ms"] = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	}

	// A certificate removed on one node, as seen by the others' edges.
	var lags []time.Duration
	round := 0
	for b.Loop() {
		round++
		name := fmt.Sprintf("r%04d.acme.test", round)
		d := nodes[0].create(e2eToken, name, "OKTA_MANAGED")
		publish(world, d)
		nodes[0].verify(e2eToken, d.ID)
		nodes[0].waitDomain(e2eToken, d.ID, 30*time.Second, "COMPLETED", status("COMPLETED"))
		for _, nd := range nodes[1:] {
			if _, err := nd.handshake(name, roots); err != nil {
				b.Fatalf("%s does not serve %s: %v", nd.id, name, err)
			}
		}
		if st := nodes[0].call("DELETE", "/api/v1/domains/"+d.ID, e2eToken, nil, nil); st != 204 {
			b.Fatalf("delete: %d", st)
		}
		t0 := time.Now()
		for _, nd := range nodes[1:] {
			for {
				if _, err := nd.handshake(name, roots); err != nil {
					break
				}
				if time.Since(t0) > 10*time.Second {
					b.Fatalf("%s still serves %s 10s after its deletion", nd.id, name)
				}
				time.Sleep(time.Millisecond)
			}
		}
		lags = append(lags, time.Since(t0))
	}
	slices.Sort(lags)
	if len(lags) > 0 {
		b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "served-p50-ms")
		b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "served-p99-ms")
	}
	for unit, v := range metrics {
		b.ReportMetric(v, unit)
	}
}

func fetchRoot(tb testing.TB, nd *node) []byte {
	resp, err := http.Get("http://" + nd.api + "/api/v1/ca/root.pem")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		tb.Fatalf("root.pem: %d", resp.StatusCode)
	}
	return b
}
