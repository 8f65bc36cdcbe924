// Package storetest is the conformance suite every storage backend passes:
// the contracts of customdomain.Store, tenant.Store, systemlog.Store,
// issuance.Store and CAStore, the master key check, edge.Challenges, brand.Store and eventhook.Store,
// checked through their interfaces only. A backend's test calls Run with a
// function that opens an empty store.
package storetest

import (
	"context"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// Backend is everything a storage backend implements.
type Backend interface {
	customdomain.Store
	customdomain.ViewLister
	// CreateDomain stores a domain as given and nothing else (seeding).
	CreateDomain(ctx context.Context, d customdomain.Domain) error
	tenant.Store
	tenant.SessionStore
	ratelimit.Counter
	systemlog.Store
	systemlog.Pruner
	issuance.Store
	issuance.CAStore
	// MasterKeyCheck returns store.ErrNotFound when none is stored;
	// PutMasterKeyCheckIfAbsent stores one unless one is, and returns the
	// stored one.
	MasterKeyCheck(ctx context.Context) ([]byte, error)
	PutMasterKeyCheckIfAbsent(ctx context.Context, check []byte) ([]byte, error)
	edge.Challenges
	brand.Store
	eventhook.Store
}

// Run runs the suite. open returns a new, empty backend for one subtest and
// arranges its closing with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("domains", func(t *testing.T) { runDomains(t, open) })
	t.Run("tenants", func(t *testing.T) { runTenants(t, open) })
	t.Run("events", func(t *testing.T) { runEvents(t, open) })
	t.Run("ratecounts", func(t *testing.T) { runRateCounts(t, open) })
	t.Run("sessions", func(t *testing.T) { runSessions(t, open) })
	t.Run("follow", func(t *testing.T) { runFollow(t, open) })
	t.Run("certificates", func(t *testing.T) { runCertificates(t, open) })
	t.Run("brands", func(t *testing.T) { runBrands(t, open) })
	t.Run("hooks", func(t *testing.T) { runHooks(t, open) })
	t.Run("secrets", func(t *testing.T) { runSecrets(t, open) })
}
