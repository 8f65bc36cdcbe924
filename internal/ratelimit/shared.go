package ratelimit

import (
	"context"
	"log/slog"
	"time"
)

// Counter keeps per-key event counts of one-minute windows that every node
// adds to: the cluster's count of a token's requests.
type Counter interface {
	// AddCounts adds deltas (key → events) to window's counts and returns
	// the keys' new totals across the cluster.
	AddCounts(ctx context.Context, window int64, deltas map[string]int) (map[string]int, error)
	// PruneCounts deletes the counts of windows before window.
	PruneCounts(ctx context.Context, before int64) error
}

// SyncInterval is how often a shared limiter adds its events to the
// cluster's counts and learns the others': with N nodes a key may go over
// its limit by what N-1 nodes admit in one interval.
const SyncInterval = 250 * time.Millisecond

type sharing struct {
	c       Counter
	scope   string         // prefix of this limiter's keys in the Counter
	pending map[string]int // events counted here and not yet added
}

// Share makes the limit apply across every node that shares c, until ctx
// ends: each node counts locally and, every SyncInterval, adds its events
// to c and takes the totals. Keys are stored as scope + ":" + key. While c
// fails, each node goes on counting its own events on top of the last
// totals it knew.
func (l *Limiter) Share(ctx context.Context, c Counter, scope string, logger *slog.Logger) {
	if l.Disabled() {
		return
	}
	l.mu.Lock()
	l.shared = &sharing{c: c, scope: scope + ":", pending: make(map[string]int)}
	l.mu.Unlock()
	go func() {
		t := time.NewTicker(SyncInterval)
		defer t.Stop()
		failing := false
		var pruned int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := l.sync(ctx)
			if win := time.Now().Unix() / 60; err == nil && win != pruned {
				// The previous window's counts still answer a late sync.
				err = c.PruneCounts(ctx, win-1)
				pruned = win
			}
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				logger.Warn("sharing rate limit counts; counting on this node alone meanwhile", "scope", scope, "err", err)
				failing = true
			case err == nil && failing:
				logger.Info("sharing rate limit counts again", "scope", scope)
				failing = false
			}
		}
	}()
}

// sync adds the pending events to the shared counts and adopts the totals.
func (l *Limiter) sync(ctx context.Context) error {
	l.mu.Lock()
	sh, win := l.shared, l.win
	if len(sh.pending) == 0 {
		l.mu.Unlock()
		return nil
	}
	deltas := make(map[string]int, len(sh.pending))
	for k, n := range sh.pending {
		deltas[sh.scope+k] = n
	}
	sent := sh.pending
	sh.pending = make(map[string]int)
	l.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	totals, err := sh.c.AddCounts(cctx, win, deltas)
	cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.win != win {
		return err // the window ended meanwhile: its counts no longer matter
	}
	if err != nil {
		// Not added: send them again next time.
		for k, n := range sent {
			sh.pending[k] += n
		}
		return err
	}
	for k := range sent {
		if total, ok := totals[sh.scope+k]; ok {
			// The cluster's total, plus what this node counted since.
			l.used[k] = total + sh.pending[k]
		}
	}
	return nil
}
