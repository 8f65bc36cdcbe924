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
type cache[V any] struct {
	seed   maphash.Seed
	shards []shard[V]
}

type shard[V any] struct {
	mu    sync.RWMutex
	m     map[string]*slot[V]
	ring  []*slot[V]
	hand  int
	limit int
	gen   uint64 // bumped by Delete and Set: a fill started before is stale
}

type slot[V any] struct {
	name    string
	val     V
	expires time.Time
	ref     atomic.Bool
	idx     int
}

const shardCount = 64

func newCache[V any](size int) *cache[V] {
	n := shardCount
	if size < n*4 {
		n = max(1, size/4)
	}
	c := &cache[V]{seed: maphash.MakeSeed(), shards: make([]shard[V], n)}
	per := (size + n - 1) / n
	for i := range c.shards {
		c.shards[i] = shard[V]{m: make(map[string]*slot[V]), limit: per}
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
	defer s.mu.Unlock()
	s.gen++
	s.set(name, v, expires)
}

// SetIfGen stores name unless Set or Delete ran in its shard since gen was
// read: a value loaded from the Source must not overwrite a newer push.
func (c *cache[V]) SetIfGen(name string, v V, expires time.Time, gen uint64) bool {
	s := c.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return false
	}
	s.set(name, v, expires)
	return true
}

func (s *shard[V]) set(name string, v V, expires time.Time) {
	if e := s.m[name]; e != nil {
		// Replace the slot rather than mutate it: readers hold e unlocked.
		n := &slot[V]{name: name, val: v, expires: expires, idx: e.idx}
		s.ring[e.idx] = n
		s.m[name] = n
		return
	}
	n := &slot[V]{name: name, val: v, expires: expires}
	if len(s.ring) < s.limit {
		n.idx = len(s.ring)
		s.ring = append(s.ring, n)
		s.m[name] = n
		return
	}
	// CLOCK: clear reference bits until an unreferenced slot turns up;
	// two turns at most.
	for range 2*len(s.ring) + 1 {
		e := s.ring[s.hand]
		if e.ref.Load() {
			e.ref.Store(false)
			s.hand = (s.hand + 1) % len(s.ring)
			continue
		}
		break
	}
	victim := s.ring[s.hand]
	delete(s.m, victim.name)
	n.idx = s.hand
	s.ring[s.hand] = n
	s.m[name] = n
	s.hand = (s.hand + 1) % len(s.ring)
}

// Delete removes name.
func (c *cache[V]) Delete(name string) {
	s := c.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	e := s.m[name]
	if e == nil {
		return
	}
	delete(s.m, name)
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
func (c *cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
