package systemlog

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store built on Query.Matches.
type memStore struct {
	mu  sync.Mutex
	evs []Event
}

func (m *memStore) AppendEvent(_ context.Context, e Event) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.Seq = int64(len(m.evs) + 1)
	m.evs = append(m.evs, e)
	return e.Seq, nil
}

func (m *memStore) QueryEvents(_ context.Context, q Query) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, e := range m.evs {
		if q.Matches(e) {
			out = append(out, e)
		}
	}
	if q.Descending {
		slices.Reverse(out)
	}
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func newTestLog(now time.Time) (*Log, *memStore) {
	m := &memStore{}
	return New(m, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now }), m
}

func TestAppendFills(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	l, m := newTestLog(now)
	e, err := l.Append(t.Context(), Event{EventType: DomainVerify, Outcome: Outcome{Result: "failure"}, OrgID: "org1"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(e.UUID) {
		t.Errorf("uuid: got %q, want a random UUID", e.UUID)
	}
	if !e.Published.Equal(now) || e.Published.Location() != time.UTC {
		t.Errorf("published: got %v, want %v in UTC", e.Published, now)
	}
	if e.Version != "0" || e.Severity != "INFO" || e.Outcome.Result != "FAILURE" || e.Seq != 1 {
		t.Errorf("got version %q severity %q result %q seq %d, want 0 INFO FAILURE 1", e.Version, e.Severity, e.Outcome.Result, e.Seq)
	}
	if m.evs[0].UUID != e.UUID {
		t.Errorf("stored uuid %q, returned %q", m.evs[0].UUID, e.UUID)
	}
	e2, err := l.Append(t.Context(), Event{EventType: DomainVerify, Severity: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	if e2.UUID == e.UUID || e2.Severity != "WARN" {
		t.Errorf("second event: uuid %q severity %q", e2.UUID, e2.Severity)
	}
}

func TestQueryPaging(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	l, _ := newTestLog(now)
	for i := range 5 {
		if _, err := l.Append(t.Context(), Event{EventType: DomainVerify, OrgID: "org1", Published: now.Add(time.Duration(i-10) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	page := func(q Query) ([]int64, string, bool) {
		t.Helper()
		p, err := l.Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, e := range p.Events {
			seqs = append(seqs, e.Seq)
		}
		c, ok := p.NextCursor()
		return seqs, c, ok
	}
	since := now.Add(-time.Hour)

	// Polling: follow next links to the end, then an empty page still has next.
	q := Query{OrgID: "org1", Since: since, Limit: 2}
	var got []int64
	for range 4 {
		seqs, c, ok := page(q)
		if !ok {
			t.Fatalf("polling page after %d: no next cursor", q.AfterSeq)
		}
		got = append(got, seqs...)
		cur, err := DecodeCursor(c)
		if err != nil {
			t.Fatal(err)
		}
		if !cur.Since.Equal(since) {
			t.Errorf("cursor since: got %v, want %v", cur.Since, since)
		}
		q.AfterSeq = cur.Seq
	}
	if want := []int64{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("polling: got %v, want %v", got, want)
	}
	if q.AfterSeq != 5 {
		t.Errorf("cursor after the empty page: got seq %d, want 5", q.AfterSeq)
	}

	// Bounded, descending: next only while more may follow.
	q = Query{OrgID: "org1", Since: since, Until: now, Limit: 3, Descending: true}
	seqs, c, ok := page(q)
	if !slices.Equal(seqs, []int64{5, 4, 3}) || !ok {
		t.Fatalf("descending page 1: got %v next %v, want [5 4 3] with next", seqs, ok)
	}
	cur, _ := DecodeCursor(c)
	q.AfterSeq = cur.Seq
	seqs, _, ok = page(q)
	if !slices.Equal(seqs, []int64{2, 1}) || ok {
		t.Fatalf("descending page 2: got %v next %v, want [2 1] without next", seqs, ok)
	}

	// Bounded with an exact fit: no next.
	seqs, _, ok = page(Query{OrgID: "org1", Since: since, Until: now, Limit: 5})
	if len(seqs) != 5 || ok {
		t.Errorf("exact fit: got %d events next %v, want 5 without next", len(seqs), ok)
	}
	// Polling with nothing at all: next link, cursor seq 0.
	_, c, ok = page(Query{OrgID: "nobody", Since: since, Limit: 5})
	if cur, _ := DecodeCursor(c); !ok || cur.Seq != 0 {
		t.Errorf("empty polling: got next %v seq %d, want a next cursor at 0", ok, cur.Seq)
	}

	for _, bad := range []int{0, -1, MaxLimit + 1} {
		if _, err := l.Query(t.Context(), Query{All: true, Limit: bad}); err == nil {
			t.Errorf("limit %d: got no error", bad)
		}
	}
}

func TestChanged(t *testing.T) {
	l, _ := newTestLog(time.Now())
	ch := l.Changed()
	if ch2 := l.Changed(); ch2 != ch {
		t.Error("two calls before an append: got different channels")
	}
	select {
	case <-ch:
		t.Fatal("closed before any append")
	default:
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ch
	}()
	if _, err := l.Append(t.Context(), Event{EventType: "x"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not woken by Append")
	}
	select {
	case <-l.Changed():
		t.Fatal("the channel taken after the append is already closed")
	default:
	}
}
