package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// memCounter is a Counter in memory, standing for the shared database;
// fail makes it refuse (the database unreachable).
type memCounter struct {
	mu     sync.Mutex
	counts map[int64]map[string]int
	fail   bool
}

func (m *memCounter) AddCounts(_ context.Context, win int64, deltas map[string]int) (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return nil, errors.New("database unreachable")
	}
	if m.counts == nil {
		m.counts = map[int64]map[string]int{}
	}
	if m.counts[win] == nil {
		m.counts[win] = map[string]int{}
	}
	out := map[string]int{}
	for k, n := range deltas {
		m.counts[win][k] += n
		out[k] = m.counts[win][k]
	}
	return out, nil
}

func (m *memCounter) PruneCounts(context.Context, int64) error { return nil }

func TestSharedLimitAcrossNodes(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	c := &memCounter{}
	a, b := New(10, clock), New(10, clock)
	a.shared = &sharing{c: c, scope: "token:", pending: map[string]int{}}
	b.shared = &sharing{c: c, scope: "token:", pending: map[string]int{}}
	ctx := t.Context()

	for range 6 {
		if !a.Take("tok1").Allowed {
			t.Fatal("node a refused within the limit")
		}
	}
	if err := a.sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Node b has seen none of a's requests yet; its first sync teaches it.
	for range 2 {
		if !b.Take("tok1").Allowed {
			t.Fatal("node b refused within the limit")
		}
	}
	if err := b.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b.Peek("tok1"); st.Remaining != 2 {
		t.Errorf("node b after syncing: %d remaining, want 2 (6 on a, 2 on b, limit 10)", st.Remaining)
	}
	b.Take("tok1")
	b.Take("tok1")
	if st := b.Take("tok1"); st.Allowed {
		t.Errorf("node b allowed the 11th request of the cluster's minute")
	}
	// Another token is not affected.
	if !b.Take("tok2").Allowed {
		t.Error("tok2 refused")
	}

	// A failing database: events stay pending and are added later.
	c.fail = true
	a.Take("tok3")
	if err := a.sync(ctx); err == nil {
		t.Fatal("sync succeeded against a failing counter")
	}
	c.fail = false
	if err := a.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.counts[now.Unix()/60]["token:tok3"]; got != 1 {
		t.Errorf("tok3's event after a failed sync: shared count %d, want 1", got)
	}

	// A new window starts from zero everywhere.
	now = now.Add(time.Minute)
	if st := b.Take("tok1"); !st.Allowed || st.Remaining != 9 {
		t.Errorf("tok1 in the next minute: %+v, want allowed with 9 remaining", st)
	}
}
