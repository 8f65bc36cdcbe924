package sqlcommon

import (
	"context"
	"fmt"
	"sort"

	"github.com/hallmark-dev/hallmark/internal/ratelimit"
)

// RateCounts is ratelimit.Counter over a backend's write transactions.
type RateCounts struct {
	Begin func(ctx context.Context) (Tx, error)
}

var _ ratelimit.Counter = RateCounts{}

func (r RateCounts) AddCounts(ctx context.Context, window int64, deltas map[string]int) (map[string]int, error) {
	tx, err := r.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("adding rate counts: %w", err)
	}
	defer tx.Rollback()
	// In key order, so that two nodes' transactions lock rows in the same
	// order and never deadlock.
	keys := make([]string, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	totals := make(map[string]int, len(keys))
	for _, k := range keys {
		var n int
		if err := tx.QueryRowContext(ctx, `INSERT INTO rate_counts (win, key, n) VALUES (?, ?, ?)
			ON CONFLICT (win, key) DO UPDATE SET n = rate_counts.n + excluded.n RETURNING n`, window, k, deltas[k]).Scan(&n); err != nil {
			return nil, fmt.Errorf("adding rate counts: %w", err)
		}
		totals[k] = n
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("adding rate counts: %w", err)
	}
	return totals, nil
}

func (r RateCounts) PruneCounts(ctx context.Context, before int64) error {
	tx, err := r.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM rate_counts WHERE win < ?`, before); err != nil {
		return fmt.Errorf("pruning rate counts: %w", err)
	}
	return tx.Commit()
}
