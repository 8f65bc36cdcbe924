package systemlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Log appends events and answers queries with Okta's paging rules.
type Log struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	changed chan struct{} // closed at the next Append; nil until asked for
}

// Changed returns a channel that is closed when the next event is appended
// through this Log, for followers (a long poll, `hallmark logs --follow`):
// take the channel, query with the next cursor, and when the page is empty
// wait on the channel or the context, then query again. Taking it before
// the query means no append can fall in between unseen. Appends by other
// processes sharing the database do not close it, so a follower on a
// shared database also re-queries on a timer.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// New returns a Log on store. now is the clock (time.Now in production).
func New(store Store, logger *slog.Logger, now func() time.Time) *Log {
	return &Log{store: store, logger: logger, now: now}
}

// Prepare fills what the caller left empty (a random UUID, Published =
// now, Version "0", Severity INFO) and upper-cases Severity and
// Outcome.Result (the filter compares them exactly; see ParseFilter). An
// event stored by a store's transaction of its own (a domain's change) is
// prepared with it first.
func Prepare(e Event, now time.Time) Event {
	if e.UUID == "" {
		e.UUID = NewUUID()
	}
	if e.Published.IsZero() {
		e.Published = now
	}
	e.Published = e.Published.UTC()
	if e.Version == "" {
		e.Version = "0"
	}
	if e.Severity == "" {
		e.Severity = "INFO"
	}
	e.Severity = asciiUpper(e.Severity)
	e.Outcome.Result = asciiUpper(e.Outcome.Result)
	return e
}

// Append prepares e (Prepare), stores it and returns it as stored, with
// its Seq.
func (l *Log) Append(ctx context.Context, e Event) (Event, error) {
	e = Prepare(e, l.now())
	seq, err := l.store.AppendEvent(ctx, e)
	if err != nil {
		return Event{}, fmt.Errorf("appending %s event: %w", e.EventType, err)
	}
	e.Seq = seq
	l.Notify()
	l.logger.DebugContext(ctx, "system log event", "eventType", e.EventType, "uuid", e.UUID, "seq", seq, "org", e.OrgID)
	return e, nil
}

// Notify wakes the followers waiting on Changed: events were committed
// (by Append, or by a store transaction that carried them).
func (l *Log) Notify() {
	l.mu.Lock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	l.mu.Unlock()
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Page is one page of a query's answer.
type Page struct {
	Events []Event
	next   *Cursor
}

// NextCursor returns the after token of the next page and whether there is
// one. The API writes it into `Link: <...&after=TOKEN>; rel="next"` with
// the request's other parameters.
func (p Page) NextCursor() (string, bool) {
	if p.next == nil {
		return "", false
	}
	return p.next.Encode(), true
}

// Polling reports whether q is an Okta polling request: until unset and
// ascending. Its answer always has a next link, even when empty, so that a
// client can keep following it for new events.
func (q Query) Polling() bool { return q.Until.IsZero() && !q.Descending }

// Query returns the page of events q selects, in Seq order (ascending or
// descending), and the cursor of the next page: always for a polling
// request, otherwise only when more events may follow.
func (l *Log) Query(ctx context.Context, q Query) (Page, error) {
	if q.Limit < 1 || q.Limit > MaxLimit {
		return Page{}, fmt.Errorf("querying events: limit %d out of range 1..%d", q.Limit, MaxLimit)
	}
	want := q.Limit
	q.Limit++ // one more tells whether another page exists
	evs, err := l.store.QueryEvents(ctx, q)
	if err != nil {
		return Page{}, fmt.Errorf("querying events: %w", err)
	}
	more := len(evs) > want
	if more {
		evs = evs[:want]
	}
	p := Page{Events: evs}
	if more || q.Polling() {
		c := Cursor{Seq: q.AfterSeq, Since: q.Since}
		if len(evs) > 0 {
			c.Seq = evs[len(evs)-1].Seq
		}
		p.next = &c
	}
	return p, nil
}
