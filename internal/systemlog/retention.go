package systemlog

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultRetention is how long events are kept: 90 days, as Okta keeps
// its system log.
const DefaultRetention = 90 * 24 * time.Hour

// Pruner deletes old events; the stores implement it.
type Pruner interface {
	// DeleteEventsBefore deletes at most limit of the events published
	// before t, oldest first, with their targets and search entries, and
	// returns how many it deleted.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error)
}

// RetentionConfig configures Retention. Zero values mean defaults.
type RetentionConfig struct {
	// Keep is how long an event is kept (default DefaultRetention);
	// negative keeps events forever.
	Keep time.Duration
	// Batch is the most events one delete removes (default 500), so a
	// delete holds the database's write lock only briefly.
	Batch int
	// Pause separates two full batches (default 20ms), leaving the write
	// lock to writers.
	Pause time.Duration
	// Interval separates two rounds once nothing old is left (default 10m).
	Interval time.Duration
}

// Retention deletes events older than Keep in the background, in small
// batches.
type Retention struct {
	cfg    RetentionConfig
	store  Pruner
	logger *slog.Logger
	now    func() time.Time
}

// NewRetention returns the retention of store's events.
func NewRetention(cfg RetentionConfig, store Pruner, logger *slog.Logger, now func() time.Time) *Retention {
	if cfg.Keep == 0 {
		cfg.Keep = DefaultRetention
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 20 * time.Millisecond
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Minute
	}
	return &Retention{cfg: cfg, store: store, logger: logger, now: now}
}

// Run prunes until ctx ends; a failed round is logged and retried at the
// next interval.
func (r *Retention) Run(ctx context.Context) {
	if r.cfg.Keep < 0 {
		return
	}
	for {
		if n, err := r.Prune(ctx); err != nil && ctx.Err() == nil {
			r.logger.Warn("system log retention", "deleted", n, "err", err)
		} else if n > 0 {
			r.logger.Info("system log retention", "deleted", n, "keep", r.cfg.Keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.cfg.Interval):
		}
	}
}

// Prune deletes every event older than Keep, a batch at a time with a
// pause between batches, and returns how many it deleted.
func (r *Retention) Prune(ctx context.Context) (int, error) {
	if r.cfg.Keep < 0 {
		return 0, nil
	}
	cutoff := r.now().Add(-r.cfg.Keep)
	total := 0
	for {
		n, err := r.store.DeleteEventsBefore(ctx, cutoff, r.cfg.Batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("deleting events before %s: %w", cutoff.Format(time.RFC3339), err)
		}
		if n < r.cfg.Batch {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(r.cfg.Pause):
		}
	}
}
