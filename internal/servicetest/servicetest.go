// Package servicetest assembles Hallmark's lifecycle for tests the way
// `hallmark serve` does: a SQLite store in a temporary directory, a DNS
// world that speaks the wire protocol on loopback, the checker, the system
// log, the brand, custom-domain and tenant services, and a bootstrapped operator
// token. The API's and the console's tests build on it.
package servicetest

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// CNAMETarget is the name tenants point their CNAME at, unless Options say
// otherwise; the world resolves it to 127.0.0.1.
const CNAMETarget = "edge.hallmark.test"

// Options shape a Stack. Zero values mean defaults.
type Options struct {
	// Domains configures the lifecycle; an empty CNAMETarget becomes
	// CNAMETarget, and a nil Brands the Stack's brand service.
	Domains customdomain.Config
	// DNS replaces the checker's configuration (default: the world's
	// resolver and nameservers, 500ms per query).
	DNS *dnscheck.Config
}

// Stack is the assembled lifecycle.
type Stack struct {
	Logger   *slog.Logger
	Store    *sqlite.Store
	World    *dnstest.World // zone acme.test. on two authoritative servers
	Checker  *dnscheck.Checker
	Events   *systemlog.Log
	Brands   *brand.Service
	Domains  *customdomain.Service
	Tenants  *tenant.Service
	Operator string // the operator token's secret
}

// New builds a Stack whose servers and store are closed when tb ends.
func New(tb testing.TB, o Options) *Stack {
	tb.Helper()
	s := &Stack{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	st, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "hallmark.db"), s.Logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	s.Store = st
	s.World = dnstest.NewWorld(tb, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2})
	s.World.Set(CNAMETarget + ". 300 IN A 127.0.0.1")
	dcfg := dnscheck.Config{Resolvers: s.World.Resolvers(), NameserverPort: s.World.NameserverPort(),
		Timeout: 500 * time.Millisecond, DiscoveryTTL: -1}
	if o.DNS != nil {
		dcfg = *o.DNS
	}
	if s.Checker, err = dnscheck.New(dcfg); err != nil {
		tb.Fatal(err)
	}
	s.Events = systemlog.New(st, s.Logger, time.Now)
	if o.Domains.CNAMETarget == "" {
		o.Domains.CNAMETarget = CNAMETarget
	}
	s.Brands = brand.NewService(st, s.Logger)
	if o.Domains.Brands == nil {
		o.Domains.Brands = s.Brands
	}
	if s.Domains, err = customdomain.New(o.Domains, st, s.Checker, s.Events, s.Logger); err != nil {
		tb.Fatal(err)
	}
	s.Tenants = tenant.NewService(st, s.Events, s.Domains, s.Logger)
	if s.Operator, _, err = s.Tenants.Bootstrap(tb.Context(), ""); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Restart builds a second lifecycle service over the same store and
// checker, as a restarted process (or another node) would have.
func (s *Stack) Restart(tb testing.TB) *customdomain.Service {
	tb.Helper()
	again, err := customdomain.New(s.Domains.Config(), s.Store, s.Checker, s.Events, s.Logger)
	if err != nil {
		tb.Fatal(err)
	}
	return again
}
