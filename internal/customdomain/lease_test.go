package customdomain_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// pausingChecker is the real DNS checker with a fault injected: once
// paused, the next check runs against DNS and then holds its report until
// resumed, as a worker stopped between its check and its commit (a long
// GC pause, a suspended VM, a node cut off from the database) would.
type pausingChecker struct {
	customdomain.Checker

	mu    sync.Mutex
	pause *pause
}

type pause struct {
	checked chan struct{} // closed when the check has its report
	resume  chan struct{}
}

func (c *pausingChecker) hold() *pause {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pause = &pause{checked: make(chan struct{}), resume: make(chan struct{})}
	return c.pause
}

func (c *pausingChecker) Check(ctx context.Context, e dnscheck.Expectation) dnscheck.Report {
	rep := c.Checker.Check(ctx, e)
	c.mu.Lock()
	p := c.pause
	c.pause = nil
	c.mu.Unlock()
	if p != nil {
		close(p.checked)
		<-p.resume // paused: the worker's context and lease are not looked at
	}
	return rep
}

// clock is a test clock shared by the workers of one test.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	c.set(time.Now().UTC())
	return c
}

func (c *clock) now() time.Time         { return *c.t.Load() }
func (c *clock) set(t time.Time)        { c.t.Store(&t) }
func (c *clock) add(d time.Duration)    { c.set(c.now().Add(d)) }
func (c *clock) since(t time.Time) bool { return c.now().After(t) }

// TestStaleWorkerRefused: a background check whose lease ran out while its
// worker was paused between the check and the commit, and which another
// worker (another node) has claimed meanwhile, is refused when it tries to
// store its result; the newer worker's state stands.
func TestStaleWorkerRefused(t *testing.T) {
	tests := []struct {
		name string
		// newFinished: the new worker has stored its result before the
		// stale one wakes up; otherwise it is still working on the domain.
		newFinished bool
	}{
		{"refused/new-worker-finished", true},
		{"refused/new-worker-still-holds-the-lease", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			const lease = 30 * time.Second
			clk := newClock()
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			base, err := dnscheck.New(dnscheck.Config{Resolvers: h.world.Resolvers(), NameserverPort: h.world.NameserverPort(),
				Timeout: 500 * time.Millisecond, DiscoveryTTL: -1})
			if err != nil {
				t.Fatal(err)
			}
			worker := func(owner string) (*customdomain.Service, *pausingChecker) {
				c := &pausingChecker{Checker: base}
				svc, err := customdomain.New(customdomain.Config{CNAMETarget: cnameTarget, Lease: lease, Owner: owner},
					h.st, c, systemlog.New(h.st, logger, clk.now), logger)
				if err != nil {
					t.Fatal(err)
				}
				svc.SetClock(clk.now)
				return svc, c
			}
			stale, staleChecker := worker("node-a")
			fresh, freshChecker := worker("node-b")

			// The records are not published yet: the stale worker's check
			// fails; by the time the fresh worker checks, they are there.
			d, err := stale.Create(t.Context(), operator, "login.acme.test", customdomain.Managed)
			if err != nil {
				t.Fatal(err)
			}
			clk.set(d.NextCheck.Add(time.Second))
			p := staleChecker.hold()
			staleDone := make(chan struct{})
			go func() { defer close(staleDone); stale.RunOnce(t.Context()) }()
			waitClosed(t, p.checked, "the stale worker's check")
			claimed := h.get(d.ID)
			if claimed.Lease.Owner != "node-a" {
				t.Fatalf("lease %+v, want node-a's", claimed.Lease)
			}

			for _, r := range stale.Records(d) {
				h.world.Set(r.FQDN + ". 300 IN " + r.Type + " " + rdata(r))
			}
			clk.add(lease + time.Second) // node-a's lease has run out
			var freshPause *pause
			freshDone := make(chan struct{})
			if tc.newFinished {
				fresh.RunOnce(t.Context())
				close(freshDone)
			} else {
				freshPause = freshChecker.hold()
				go func() { defer close(freshDone); fresh.RunOnce(t.Context()) }()
				waitClosed(t, freshPause.checked, "the fresh worker's check")
			}
			before := h.get(d.ID)
			if !tc.newFinished && (before.Lease.Owner != "node-b" || !clk.since(claimed.Lease.Until)) {
				t.Fatalf("before the stale worker wakes: lease %+v, want node-b's after node-a's ran out at %v", before.Lease, claimed.Lease.Until)
			}
			eventsBefore := domainEvents(t, h, d.ID)

			close(p.resume)
			waitClosed(t, staleDone, "the stale worker to end")
			after := h.get(d.ID)
			if after.Version != before.Version || after.Status != before.Status || after.Attempts != before.Attempts ||
				!after.LastChecked.Equal(before.LastChecked) || after.Lease != before.Lease || len(after.Diagnosis) != len(before.Diagnosis) {
				t.Errorf("the stale worker's result was stored: domain moved from v%d %s attempts %d lease %+v %v to v%d %s attempts %d lease %+v %v",
					before.Version, before.Status, before.Attempts, before.Lease, finding.IDs(before.Diagnosis),
					after.Version, after.Status, after.Attempts, after.Lease, finding.IDs(after.Diagnosis))
			}
			if evs := domainEvents(t, h, d.ID); len(evs) != len(eventsBefore) {
				t.Errorf("events after the stale worker: %v, want %v", evs, eventsBefore)
			}

			if freshPause != nil {
				close(freshPause.resume)
				waitClosed(t, freshDone, "the fresh worker to end")
			}
			got := h.get(d.ID)
			if got.Status != customdomain.Verified || got.Lease != (customdomain.Lease{}) || finding.HasError(got.Diagnosis) {
				t.Errorf("after both workers: %s lease %+v %v, want VERIFIED (the fresh worker's check) and no lease",
					got.Status, got.Lease, finding.IDs(got.Diagnosis))
			}
			want := []string{systemlog.DomainInitiate, systemlog.DomainVerify}
			if evs := domainEvents(t, h, d.ID); !slices.Equal(evs, want) {
				t.Errorf("events %v, want %v (the fresh worker's verify only)", evs, want)
			}
		})
	}
}

// rdata is r's value in zone-file syntax.
func rdata(r customdomain.Record) string {
	if r.Type == "TXT" {
		return `"` + r.Values[0] + `"`
	}
	return r.Values[0] + "."
}

// domainEvents are the types of the domain's system log events, oldest first.
func domainEvents(t *testing.T, h *harness, id string) []string {
	t.Helper()
	evs, err := h.st.QueryEvents(t.Context(), systemlog.Query{All: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		for _, tg := range e.Target {
			if tg.ID == id {
				types = append(types, e.EventType)
			}
		}
	}
	return types
}
