// Package console is Hallmark's web console: server-rendered pages over the
// same services the API drives (customdomain, tenant, systemlog), with its
// own mux, sessions signed in by API token, CSRF protection on every form
// and a strict Content-Security-Policy. Templates and assets are embedded;
// nothing is fetched or built at run time.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// Config configures the console. Zero values mean defaults.
type Config struct {
	// SessionIdle ends a session unused for this long (default 30m).
	SessionIdle time.Duration
	// SessionMax ends a session this long after sign-in (default 12h).
	SessionMax time.Duration
	// MaxSessions bounds the sessions stored (default 10000); at
	// the bound, signing in evicts the least recently used session.
	MaxSessions int
	// SecureCookies marks cookies Secure even on plain-HTTP requests, for
	// a console behind a TLS-terminating proxy. Requests that arrive over
	// TLS always get Secure cookies.
	SecureCookies bool
	// CheckTimeout bounds the live DNS check of a domain page (default 15s).
	CheckTimeout time.Duration
	// PollInterval is how often an open domain page or domain list asks
	// whether its domains changed (default 5s).
	PollInterval time.Duration
}

// CertificateStore reads the certificate kept for a name; issuance.CertStore
// (and its MemStore) implements it. Certificate returns store.ErrNotFound
// when the name has none.
type CertificateStore interface {
	Certificate(ctx context.Context, name string) (issuance.Record, error)
}

// CertificateUploader stores a manually uploaded certificate for a domain
// the actor may see. It refuses a domain whose ownership is not proven with
// customdomain.ErrNotVerified and a bad certificate with an
// *issuance.UploadError; customdomain.ErrNotFound for another org's domain.
type CertificateUploader interface {
	UploadCertificate(ctx context.Context, a customdomain.Actor, domainID string, certPEM, chainPEM, keyPEM string) error
}

// Deps are the services the console drives. Domains, Tenants, Log and
// Logger are required; the rest are optional.
type Deps struct {
	Domains *customdomain.Service
	Tenants *tenant.Service
	Log     *systemlog.Log
	Logger  *slog.Logger
	// Sessions keeps the signed-in sessions, shared by every node.
	Sessions tenant.SessionStore
	// Checker runs a read-only DNS check when a domain page is opened (the
	// same checker the lifecycle uses). Without it the page shows the
	// stored diagnosis and each server's answers only after "Verify now".
	Checker customdomain.Checker
	// Certificates shows the certificate of a domain; nil shows none.
	Certificates CertificateStore
	// Uploader takes manual certificate uploads; nil says uploads are not
	// available yet.
	Uploader CertificateUploader
	// AuthFailures counts failed sign-ins per client address, shared with
	// the API; nil gets a limiter of ratelimit.DefaultAuthFailures a minute.
	AuthFailures *ratelimit.Limiter
	// Fault classifies a storage error (full, read-only) as a
	// *store.UnavailableError, shown as a 503 page; nil leaves errors as
	// they are.
	Fault func(error) error
}

// Console is the web console's HTTP handler. Mount it at "/" beside the
// API: it serves every path except /api/, /healthz, /readyz and /metrics,
// which answer 404 here.
type Console struct {
	cfg      Config
	deps     Deps
	sessions *sessions
	// authFailures counts failed sign-ins per client address.
	authFailures *ratelimit.Limiter
	pages        *pages
	handler      http.Handler
	now          func() time.Time
}

// New validates cfg and deps and builds the console.
func New(cfg Config, deps Deps) (*Console, error) {
	if deps.Domains == nil || deps.Tenants == nil || deps.Log == nil || deps.Logger == nil || deps.Sessions == nil {
		return nil, errors.New("console: Domains, Tenants, Sessions, Log and Logger are required")
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 15 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, deps: deps, pages: p, now: time.Now, authFailures: deps.AuthFailures}
	if c.authFailures == nil {
		c.authFailures = ratelimit.New(ratelimit.DefaultAuthFailures, time.Now)
	}
	c.sessions = newSessions(cfg.SessionIdle, cfg.SessionMax, cfg.MaxSessions, func() time.Time { return c.now() }, deps.Sessions, deps.Logger)
	mux := http.NewServeMux()
	c.routes(mux)
	c.handler = c.secureHeaders(c.recoverer(mux))
	return c, nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// routes is the whole console, top to bottom. Pages that need a session
// go through signedIn; every POST goes through a CSRF check.
func (c *Console) routes(mux *http.ServeMux) {
	in := func(h handlerFunc) http.Handler { return c.signedIn(c.handle(h)) }
	op := func(h handlerFunc) http.Handler { return c.signedIn(c.handle(operatorOnly(h))) }

	mux.Handle("GET /static/", c.static())
	mux.Handle("GET /favicon.ico", c.favicon())

	mux.Handle("GET /{$}", in(c.home))
	mux.Handle("GET /signin", c.handle(c.signinForm))
	mux.Handle("POST /signin", c.handle(c.signin))
	mux.Handle("POST /signout", in(c.signout))

	mux.Handle("GET /domains", in(c.listDomains))
	mux.Handle("GET /domains/new", in(c.newDomainForm))
	mux.Handle("POST /domains", in(c.createDomain))
	mux.Handle("GET /domains/{id}", in(c.showDomain))
	mux.Handle("GET /domains/status", c.liveJSON(c.listStatus))
	mux.Handle("GET /domains/{id}/status", c.liveJSON(c.domainStatus))
	mux.Handle("POST /domains/{id}/verify", in(c.verifyDomain))
	mux.Handle("POST /domains/{id}/certificate", in(c.uploadCertificate))
	mux.Handle("POST /domains/{id}/delete", in(c.deleteDomain))

	mux.Handle("GET /logs", in(c.listLogs))

	mux.Handle("GET /orgs", op(c.listOrgs))
	mux.Handle("POST /orgs", op(c.createOrg))
	mux.Handle("GET /orgs/{id}", op(c.showOrg))
	mux.Handle("POST /orgs/{id}/tokens", op(c.createToken))
	mux.Handle("POST /orgs/{id}/tokens/{tokenId}/revoke", op(c.revokeToken))

	mux.Handle("/", c.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errNotFound
	}))
}
