package edge

import (
	"fmt"
	"testing"
	"time"
)

func TestCacheBounded(t *testing.T) {
	c := newCache[int](256)
	for i := range 10000 {
		c.Set(fmt.Sprint("n", i), i, time.Time{})
	}
	if got := c.Len(); got > 256 {
		t.Fatalf("got %d entries, want at most 256", got)
	}
	if v, ok := c.Get("n9999", time.Now()); !ok || v != 9999 {
		t.Fatalf("latest entry: got %d, %v; want 9999, true", v, ok)
	}
}

func TestCacheSecondChance(t *testing.T) {
	c := newCache[int](4) // one shard of 4
	if len(c.shards) != 1 {
		t.Fatalf("got %d shards, want 1", len(c.shards))
	}
	for i := range 4 {
		c.Set(fmt.Sprint("n", i), i, time.Time{})
	}
	c.Get("n0", time.Now()) // referenced: survives the next eviction
	c.Set("n4", 4, time.Time{})
	if _, ok := c.Get("n0", time.Now()); !ok {
		t.Error("referenced n0 was evicted")
	}
	if _, ok := c.Get("n1", time.Now()); ok {
		t.Error("unreferenced n1 survived; want it evicted")
	}
}

func TestCacheExpiryAndGen(t *testing.T) {
	c := newCache[int](64)
	now := time.Now()
	c.Set("a", 1, now.Add(time.Second))
	if _, ok := c.Get("a", now); !ok {
		t.Error("live entry missing")
	}
	if _, ok := c.Get("a", now.Add(2*time.Second)); ok {
		t.Error("expired entry returned")
	}

	gen := c.Gen("b")
	c.Delete("b") // an invalidation arrives while a fill is running
	if c.SetIfGen("b", 2, time.Time{}, gen) {
		t.Error("stale fill stored after an invalidation")
	}
	gen = c.Gen("b")
	if !c.SetIfGen("b", 3, time.Time{}, gen) {
		t.Error("fill with current generation refused")
	}
	c.Delete("b")
	if _, ok := c.Get("b", now); ok {
		t.Error("deleted entry returned")
	}
}

// TestCacheHoldsItsWholeSize checks that the bound is the cache's, not a
// shard's: as many names as the size fit, however they hash (a bound per
// shard evicted names from full shards while others had room).
func TestCacheHoldsItsWholeSize(t *testing.T) {
	const size = 10000
	c := newCache[int](size)
	for i := range size {
		c.Set(fmt.Sprint("n", i), i, time.Time{})
	}
	missing := 0
	for i := range size {
		if _, ok := c.Get(fmt.Sprint("n", i), time.Now()); !ok {
			missing++
		}
	}
	if missing != 0 || c.Evicted() != 0 {
		t.Fatalf("%d of %d names missing, %d evicted; want all held", missing, size, c.Evicted())
	}
	for i := range size {
		c.Set(fmt.Sprint("cold", i), i, time.Time{})
	}
	if got := c.Len(); got != size {
		t.Fatalf("after %d more names: got %d entries, want %d", size, got, size)
	}
}

// TestCacheKeepsHotNamesUnderColdFlood checks that names in use survive a
// stream of names seen once, in a cache with room for the hot ones.
func TestCacheKeepsHotNamesUnderColdFlood(t *testing.T) {
	const size, hot = 2000, 1000
	c := newCache[int](size)
	for i := range hot {
		c.Set(fmt.Sprint("hot", i), i, time.Time{})
	}
	for i := range 20000 {
		c.Set(fmt.Sprint("cold", i), i, time.Time{})
		if i%100 != 0 {
			continue
		}
		for j := range hot {
			if _, ok := c.Get(fmt.Sprint("hot", j), time.Now()); !ok {
				t.Fatalf("after %d cold names: hot%d evicted", i, j)
			}
		}
	}
	if got := c.Len(); got > size {
		t.Fatalf("got %d entries, want at most %d", got, size)
	}
}

// TestCacheEvictsExpiredFirst checks that the CLOCK hand takes an expired
// entry even when it was referenced while live.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newCache[int](4) // one shard of 4
	now := time.Now()
	for i := range 3 {
		c.Set(fmt.Sprint("n", i), i, now.Add(time.Hour))
		c.Get(fmt.Sprint("n", i), now)
	}
	c.Set("old", 9, now.Add(-time.Second))
	if _, ok := c.Get("old", now.Add(-2*time.Second)); !ok { // referenced while it was live
		t.Fatal("entry missing before its expiry")
	}
	c.Set("n3", 3, now.Add(time.Hour))
	for i := range 4 {
		if _, ok := c.Get(fmt.Sprint("n", i), now); !ok {
			t.Errorf("n%d evicted; want the expired entry evicted instead", i)
		}
	}
	if got := c.Len(); got != 4 {
		t.Fatalf("got %d entries, want 4", got)
	}
}
