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
