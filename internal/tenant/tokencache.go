package tenant

import (
	"sync"
	"time"
)

// TokenCacheTTL bounds how long a token, once found valid in the store,
// is accepted from memory without asking the store again. A revocation
// made through this process's Service takes effect at once (RevokeToken
// forgets the token in the same call); one made by another node takes
// effect here when that node's notification calls ForgetToken, and at the
// latest after TokenCacheTTL.
const TokenCacheTTL = 5 * time.Second

// maxCachedTokens bounds the tokens held in memory; beyond, one is dropped
// (it is read from the store again on its next use).
const maxCachedTokens = 10000

// tokenCache maps the hash of a secret to its valid token. Only tokens the
// store said were valid are kept: an unknown or revoked secret is asked
// again each time (failed authentications are rate limited per address).
type tokenCache struct {
	mu     sync.RWMutex
	byHash map[[32]byte]cachedToken
	gen    uint64 // bumped by forget: a store read started before is stale
}

type cachedToken struct {
	tok   Token
	until time.Time
}

func (c *tokenCache) get(h [32]byte, now time.Time) (Token, bool) {
	c.mu.RLock()
	e, ok := c.byHash[h]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return Token{}, false
	}
	return e.tok, true
}

// generation is read before the store, for putIfGen.
func (c *tokenCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// putIfGen keeps t unless a token was forgotten since gen was read: the
// store read may predate a revocation that has since committed.
func (c *tokenCache) putIfGen(h [32]byte, t Token, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.byHash == nil {
		c.byHash = make(map[[32]byte]cachedToken)
	}
	if _, ok := c.byHash[h]; !ok && len(c.byHash) >= maxCachedTokens {
		// Full: drop the expired, and arbitrary others until there is room.
		for k, e := range c.byHash {
			if !now.Before(e.until) || len(c.byHash) >= maxCachedTokens {
				delete(c.byHash, k)
			}
			if len(c.byHash) < maxCachedTokens/2 {
				break
			}
		}
	}
	c.byHash[h] = cachedToken{tok: t, until: now.Add(TokenCacheTTL)}
}

// forget drops the tokens for which match is true (every token when match
// is nil) and makes store reads in flight stale.
func (c *tokenCache) forget(match func(Token) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.byHash {
		if match == nil || match(e.tok) {
			delete(c.byHash, k)
		}
	}
}
