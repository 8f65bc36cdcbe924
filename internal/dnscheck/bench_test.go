package dnscheck_test

import (
	"testing"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
)

// BenchmarkCheck measures full checks (TXT, CNAME and CAA of one domain
// against two authoritative servers and a resolver) per second, with
// GOMAXPROCS*parallelism checks in flight.
func BenchmarkCheck(b *testing.B) {
	w := dnstest.NewWorld(b, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2, Records: healthy})
	c := newChecker(b, w)
	e := expectation()
	if r := c.Check(b.Context(), e); !finding.Healthy(r.Findings) {
		b.Fatalf("got findings %v, want none", finding.IDs(r.Findings))
	}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := c.Check(b.Context(), e); !finding.Healthy(r.Findings) {
				b.Errorf("got findings %v, want none", finding.IDs(r.Findings))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}
