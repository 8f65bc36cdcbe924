package storetest

import (
	"sync"
	"testing"
)

// runRateCounts: counts add up per window and key, also from several
// writers at once (nodes), and old windows are pruned.
func runRateCounts(t *testing.T, open func(t *testing.T) Backend) {
	ctx := t.Context()
	s := open(t)
	got, err := s.AddCounts(ctx, 100, map[string]int{"token:a": 2, "token:b": 1})
	if err != nil {
		t.Fatalf("AddCounts: %v", err)
	}
	if got["token:a"] != 2 || got["token:b"] != 1 {
		t.Errorf("AddCounts = %v, want a=2 b=1", got)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if _, err := s.AddCounts(ctx, 100, map[string]int{"token:a": 1, "token:b": 1}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err = s.AddCounts(ctx, 100, map[string]int{"token:a": 0, "token:b": 0})
	if err != nil {
		t.Fatal(err)
	}
	if got["token:a"] != 42 || got["token:b"] != 41 {
		t.Errorf("after 40 concurrent adds: %v, want a=42 b=41", got)
	}
	if got, _ := s.AddCounts(ctx, 101, map[string]int{"token:a": 1}); got["token:a"] != 1 {
		t.Errorf("a new window starts at zero: %v", got)
	}
	if err := s.PruneCounts(ctx, 101); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AddCounts(ctx, 100, map[string]int{"token:a": 1}); got["token:a"] != 1 {
		t.Errorf("window 100 after pruning before 101: %v, want it gone (a=1)", got)
	}
}
