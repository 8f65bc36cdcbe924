package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// runFollow appends events from several writers at once (as several nodes
// do) while a reader follows the log page by page after the last position
// it saw, as `hallmark logs --follow` and the event hooks do: the reader
// must see every acknowledged event exactly once. A store that hands out
// positions in insert order but commits them out of order fails it.
func runFollow(t *testing.T, open func(t *testing.T) Backend) {
	s := open(t)
	const writers, each = 8, 60
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[int64]bool{}
		fail  = make(chan error, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := systemlog.Prepare(systemlog.Event{
					EventType: systemlog.DomainVerify, Version: "0", Severity: "INFO",
					DisplayMessage: fmt.Sprintf("writer %d event %d", w, i),
					Actor:          systemlog.Actor{ID: "system", Type: "SystemPrincipal"},
					Outcome:        systemlog.Outcome{Result: "SUCCESS"},
					Target:         []systemlog.Target{{ID: fmt.Sprintf("dom%d", w), Type: "CustomDomain"}},
					OrgID:          "org1",
				}, time.Now())
				seq, err := s.AppendEvent(t.Context(), e)
				if err != nil {
					fail <- err
					return
				}
				mu.Lock()
				acked[seq] = true
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[int64]int{}
	var after int64
	follow := func() {
		for {
			evs, err := s.QueryEvents(t.Context(), systemlog.Query{All: true, AfterSeq: after, Limit: 25})
			if err != nil {
				t.Fatalf("QueryEvents after %d: %v", after, err)
			}
			for _, e := range evs {
				seen[e.Seq]++
				after = e.Seq
			}
			if len(evs) < 25 {
				return
			}
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		follow()
	}
	follow() // what committed after the last poll
	select {
	case err := <-fail:
		t.Fatalf("AppendEvent: %v", err)
	default:
	}
	if len(acked) != writers*each {
		t.Fatalf("%d events acknowledged, want %d", len(acked), writers*each)
	}
	missed := 0
	for seq := range acked {
		switch seen[seq] {
		case 0:
			missed++
		case 1:
		default:
			t.Errorf("event %d seen %d times", seq, seen[seq])
		}
	}
	if missed > 0 {
		t.Errorf("the follower never saw %d of %d acknowledged events: a later position committed before an earlier one", missed, len(acked))
	}
	if len(seen) != len(acked) {
		t.Errorf("the follower saw %d events, %d were acknowledged", len(seen), len(acked))
	}
}
