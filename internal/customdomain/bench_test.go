package customdomain_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// BenchmarkCreateToCompleted drains the queue as a real server does: b.N
// managed domains are created, their records published in a DNS world on
// loopback, verify pressed once each (8 clients), and the scheduler (8
// workers, the built-in CA) runs until every one is COMPLETED. It reports
// domains per second from the first create to the last COMPLETED, and the
// process CPU per domain. Run with -benchtime 10000x for the figure.
func BenchmarkCreateToCompleted(b *testing.B) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "hallmark.db"), logger)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	world := dnstest.NewWorld(b, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2})
	world.Set(cnameTarget + ". 300 IN A 127.0.0.1")
	checker, err := dnscheck.New(dnscheck.Config{Resolvers: world.Resolvers(), NameserverPort: world.NameserverPort(), Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	box, err := sealed.New(make([]byte, sealed.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	ca, err := issuance.LoadOrCreateCA(b.TempDir(), box)
	if err != nil {
		b.Fatal(err)
	}
	keeper, err := issuance.NewKeeper(ca, box)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := customdomain.New(customdomain.Config{CNAMETarget: cnameTarget, DomainLimit: -1, PollInterval: 100 * time.Millisecond},
		st, checker, systemlog.New(st, logger, time.Now), logger)
	if err != nil {
		b.Fatal(err)
	}
	svc.UseCertificates(customdomain.Certificates{Certifier: keeper, Keeper: keeper})
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	n := b.N
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("d%06d.acme.test", i)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				d, err := svc.Create(ctx, operator, names[i], customdomain.Managed)
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = d.ID
				for _, r := range svc.Records(d) {
					switch r.Type {
					case "TXT":
						world.Set(fmt.Sprintf("%s. 300 IN TXT %q", r.FQDN, r.Values[0]))
					case "CNAME":
						world.Set(fmt.Sprintf("%s. 300 IN CNAME %s.", r.FQDN, r.Values[0]))
					}
				}
				if d, _, err = svc.Verify(ctx, operator, d.ID); err != nil || d.Status != customdomain.Verified {
					b.Errorf("verify %s: %s %v", d.Name, d.Status, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		left, err := countNotCompleted(ctx, st)
		if err != nil {
			b.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d domains not COMPLETED after 10 minutes", left, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "domains/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/domain")
}

func countNotCompleted(ctx context.Context, st *sqlite.Store) (int, error) {
	left, after := 0, ""
	for {
		ds, err := st.ListDomains(ctx, "", after, 1000)
		if err != nil {
			return 0, err
		}
		for _, d := range ds {
			if d.Status != customdomain.Completed {
				left++
			}
		}
		if len(ds) < 1000 {
			return left, nil
		}
		after = ds[len(ds)-1].ID
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
