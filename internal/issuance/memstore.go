package issuance

import (
	"context"
	"strings"
	"sync"

	"github.com/hallmark-dev/hallmark/internal/store"
)

// MemStore is an in-memory Store, also readable by the edge
// (edge.Challenges). It is the reference for a SQL implementation.
type MemStore struct {
	mu         sync.RWMutex
	certs      map[string]Record
	accounts   map[string]Account
	challenges map[string]Challenge // type + "\x00" + key
	ca         *CARecord
}

var (
	_ Store   = (*MemStore)(nil)
	_ CAStore = (*MemStore)(nil)
)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{
		certs:      make(map[string]Record),
		accounts:   make(map[string]Account),
		challenges: make(map[string]Challenge),
	}
}

func (m *MemStore) PutCertificate(_ context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.certs[rec.Name] = rec
	return nil
}

func (m *MemStore) ReplaceCertificate(_ context.Context, rec Record, prev string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.certs[rec.Name].Fingerprint != prev {
		return store.ErrConflict
	}
	m.certs[rec.Name] = rec
	return nil
}

func (m *MemStore) Certificate(_ context.Context, name string) (Record, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rec, ok := m.certs[name]
	if !ok {
		return Record{}, store.ErrNotFound
	}
	return rec, nil
}

func (m *MemStore) DeleteCertificate(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.certs, name)
	return nil
}

func (m *MemStore) Account(_ context.Context, dir string) (Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.accounts[dir]
	if !ok {
		return Account{}, store.ErrNotFound
	}
	return a, nil
}

func (m *MemStore) PutAccount(_ context.Context, a Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accounts[a.DirectoryURL] = a
	return nil
}

func challengeKey(typ ChallengeType, key string) string { return string(typ) + "\x00" + key }

func (m *MemStore) PutChallenge(_ context.Context, c Challenge) error {
	if c.Type == TLSALPN01 {
		c.Key = strings.ToLower(c.Key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.challenges[challengeKey(c.Type, c.Key)] = c
	return nil
}

func (m *MemStore) DeleteChallenge(_ context.Context, typ ChallengeType, key string) error {
	if typ == TLSALPN01 {
		key = strings.ToLower(key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.challenges, challengeKey(typ, key))
	return nil
}

func (m *MemStore) keyAuth(typ ChallengeType, key string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.challenges[challengeKey(typ, key)]
	if !ok {
		return "", store.ErrNotFound
	}
	return c.KeyAuth, nil
}

// HTTP01KeyAuth implements edge.Challenges.
func (m *MemStore) HTTP01KeyAuth(_ context.Context, token string) (string, error) {
	return m.keyAuth(HTTP01, token)
}

// TLSALPN01KeyAuth implements edge.Challenges.
func (m *MemStore) TLSALPN01KeyAuth(_ context.Context, name string) (string, error) {
	return m.keyAuth(TLSALPN01, strings.ToLower(name))
}

func (m *MemStore) CA(context.Context) (CARecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ca == nil {
		return CARecord{}, store.ErrNotFound
	}
	return *m.ca, nil
}

func (m *MemStore) PutCAIfAbsent(_ context.Context, rec CARecord) (CARecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ca == nil {
		m.ca = &rec
	}
	return *m.ca, nil
}
