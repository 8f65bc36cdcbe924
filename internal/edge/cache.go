package edge

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// cache is a bounded map from name to value, split in shards so parallel
// handshakes do not contend: a hit takes one shard's read lock and sets an
// atomic bit. Eviction is CLOCK (second chance), which approximates LRU
// without reordering a list on every hit. Entries may expire (the negative
// cache); expires zero means never.
//
// The bound is on the whole cache, not on each shard: names hash unevenly,
// and a per-shard bound evicted names from full shards while others had
// room (a cache of 10,000 held about 9,700 of 10,000 hot names). A new name
// is stored without eviction while the cache holds fewer than its limit;
// beyond, it takes the place of a victim in its own shard (an expired entry
// first, else an unreferenced one). The count may exceed the limit for a
// moment (a name landing in an empty shard of a full cache is stored, and
// an entry of another shard evicted right after).
type cache[V any] struct {
	seed    maphash.Seed
	limit   int64
	n       atomic.Int64 // entries held
	evicted atomic.Int64 // entries dropped for want of room
	shards  []shard[V]
}

type shard[V any] struct {
	mu   sync.RWMutex
	m    map[string]*slot[V]
	ring []*slot[V]
	hand int
	gen  uint64 // bumped by Delete and Set: a fill started before is stale
}

type slot[V any] struct {
	name    string
	val     V
	expires time.Time
	ref     atomic.Bool
	idx     int
}

// shardCount is the most shards a cache has; each has room for at least
// minShardSize entries. CLOCK evicts a name not used within one turn of
// its shard's hand, and in a small shard a burst of new names turns the
// hand fast: with 31 entries a shard (64 shards for 2,000) a hot name was
// now and then evicted in a cache with room for twice the hot names.
const (
	shardCount   = 64
	minShardSize = 256
)

func newCache[V any](size int) *cache[V] {
	n := min(shardCount, max(1, size/minShardSize))
	c := &cache[V]{seed: maphash.MakeSeed(), limit: int64(size), shards: make([]shard[V], n)}
	for i := range c.shards {
		c.shards[i] = shard[V]{m: make(map[string]*slot[V])}
	}
	return c
}

func (c *cache[V]) shard(name string) *shard[V] {
	return &c.shards[maphash.String(c.seed, name)%uint64(len(c.shards))]
}

// Get returns the live value of name.
func (c *cache[V]) Get(name string, now time.Time) (V, bool) {
	s := c.shard(name)
	s.mu.RLock()
	e := s.m[name]
	s.mu.RUnlock()
	if e == nil || (!e.expires.IsZero() && now.After(e.expires)) {
		var zero V
		return zero, false
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e.val, true
}

// Gen returns the shard's generation, for SetIfGen.
func (c *cache[V]) Gen(name string) uint64 {
	s := c.shard(name)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// Set stores name, evicting by CLOCK when the shard is full.
func (c *cache[V]) Set(name string, v V, expires time.Time) {
	s := c.shard(name)
	s.mu.Lock()
	s.gen++
	over := c.set(s, name, v, expires)
	s.mu.Unlock()
	if over {
		c.shrink(s)
	}
}

// SetIfGen stores name unless Set or Delete ran in its shard since gen was
// read: a value loaded from the Source must not overwrite a newer push.
func (c *cache[V]) SetIfGen(name string, v V, expires time.Time, gen uint64) bool {
	s := c.shard(name)
	s.mu.Lock()
	if s.gen != gen {
		s.mu.Unlock()
		return false
	}
	over := c.set(s, name, v, expires)
	s.mu.Unlock()
	if over {
		c.shrink(s)
	}
	return true
}

// set stores name in s, whose write lock the caller holds. It reports
// whether the cache went over its limit (the name landed in an empty
// shard of a full cache); the caller then calls shrink, unlocked.
func (c *cache[V]) set(s *shard[V], name string, v V, expires time.Time) (over bool) {
	if e := s.m[name]; e != nil {
		// Replace the slot rather than mutate it: readers hold e unlocked.
		n := &slot[V]{name: name, val: v, expires: expires, idx: e.idx}
		s.ring[e.idx] = n
		s.m[name] = n
		return false
	}
	n := &slot[V]{name: name, val: v, expires: expires}
	if full := c.n.Load() >= c.limit; !full || len(s.ring) == 0 {
		n.idx = len(s.ring)
		s.ring = append(s.ring, n)
		s.m[name] = n
		c.n.Add(1)
		return full
	}
	i := s.victim()
	delete(s.m, s.ring[i].name)
	c.evicted.Add(1)
	n.idx = i
	s.ring[i] = n
	s.m[name] = n
	return false
}

// victim picks the slot to evict by CLOCK and moves the hand past it:
// reference bits are cleared until an expired or unreferenced slot turns
// up, two turns at most. The ring must not be empty.
func (s *shard[V]) victim() int {
	now := time.Now()
	for range 2*len(s.ring) + 1 {
		e := s.ring[s.hand]
		if !e.expires.IsZero() && now.After(e.expires) || !e.ref.Load() {
			break
		}
		e.ref.Store(false)
		s.hand = (s.hand + 1) % len(s.ring)
	}
	i := s.hand
	s.hand = (s.hand + 1) % len(s.ring)
	return i
}

// shrink evicts one entry from the first non-empty shard after from, if
// the cache is still over its limit.
func (c *cache[V]) shrink(from *shard[V]) {
	start := 0
	for i := range c.shards {
		if &c.shards[i] == from {
			start = i
		}
	}
	for k := 1; k <= len(c.shards); k++ {
		s := &c.shards[(start+k)%len(c.shards)]
		s.mu.Lock()
		if c.n.Load() <= c.limit {
			s.mu.Unlock()
			return
		}
		if len(s.ring) > 0 {
			s.remove(s.ring[s.victim()])
			c.n.Add(-1)
			c.evicted.Add(1)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// remove takes e out of s, whose write lock the caller holds.
func (s *shard[V]) remove(e *slot[V]) {
	delete(s.m, e.name)
	last := len(s.ring) - 1
	if e.idx != last {
		moved := s.ring[last]
		moved.idx = e.idx
		s.ring[e.idx] = moved
	}
	s.ring[last] = nil
	s.ring = s.ring[:last]
	if s.hand >= len(s.ring) {
		s.hand = 0
	}
}

// Delete removes name.
func (c *cache[V]) Delete(name string) {
	s := c.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if e := s.m[name]; e != nil {
		s.remove(e)
		c.n.Add(-1)
	}
}

// DeleteFunc removes every name for which match is true, shard by shard;
// a fill started before is stale, as with Delete.
func (c *cache[V]) DeleteFunc(match func(name string) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		var names []string
		for name := range s.m {
			if match(name) {
				names = append(names, name)
			}
		}
		s.mu.Unlock()
		for _, name := range names {
			c.Delete(name)
		}
	}
}

// Len counts entries, expired ones included.
func (c *cache[V]) Len() int { return int(c.n.Load()) }

// Evicted counts the entries dropped so far to make room for others.
func (c *cache[V]) Evicted() int64 { return c.evicted.Load() }
