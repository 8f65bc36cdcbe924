package systemlog_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

func TestRetentionDeletesOldEventsInBatches(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	log := systemlog.New(st, logger, func() time.Time { return now })
	for i := range 250 {
		at := now.Add(-91*24*time.Hour - time.Duration(i)*time.Minute) // older than 90 days
		if i%50 == 0 {
			at = now.Add(-89 * 24 * time.Hour) // kept
		}
		if _, err := log.Append(t.Context(), systemlog.Event{EventType: "x", Published: at,
			Target: []systemlog.Target{{ID: "dom1"}}}); err != nil {
			t.Fatal(err)
		}
	}
	counting := &countingPruner{Pruner: st}
	r := systemlog.NewRetention(systemlog.RetentionConfig{Batch: 40, Pause: time.Millisecond}, counting, logger, func() time.Time { return now })
	n, err := r.Prune(t.Context())
	if err != nil || n != 245 {
		t.Fatalf("Prune = %d, %v; want 245 deleted", n, err)
	}
	if counting.maxBatch > 40 || counting.calls < 7 {
		t.Errorf("deleted in %d calls of at most %d, want batches of at most 40", counting.calls, counting.maxBatch)
	}
	page, err := log.Query(t.Context(), systemlog.Query{All: true, Limit: 100})
	if err != nil || len(page.Events) != 5 {
		t.Fatalf("kept %d events (%v), want the 5 younger than 90 days", len(page.Events), err)
	}
	// Keep < 0 keeps everything.
	if n, _ := systemlog.NewRetention(systemlog.RetentionConfig{Keep: -1}, st, logger, time.Now).Prune(t.Context()); n != 0 {
		t.Errorf("Keep -1 deleted %d events", n)
	}
}

type countingPruner struct {
	systemlog.Pruner
	calls, maxBatch int
}

func (c *countingPruner) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	c.calls++
	c.maxBatch = max(c.maxBatch, limit)
	return c.Pruner.DeleteEventsBefore(ctx, t, limit)
}
