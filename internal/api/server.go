// Package api is Hallmark's admin API in the shapes of Okta's management
// API: one route table, handlers that return errors, SSWS token auth and
// Okta's error object.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures the API. Zero values mean defaults.
type Config struct {
	// RateLimit is the number of requests one token may make per minute
	// (default 6000); negative disables the limit.
	RateLimit int
}

// Deps are the services the API drives.
type Deps struct {
	Domains *customdomain.Service
	Tenants *tenant.Service
	// Brands serves /api/v1/brands; nil leaves the brand routes out.
	Brands *brand.Service
	Log    *systemlog.Log
	Logger *slog.Logger
	// Registry collects metrics; Gatherer serves /metrics.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// Ready reports whether the service can serve (store reachable).
	Ready func(context.Context) error
	// CARoot is the built-in CA's root in PEM, served at
	// GET /api/v1/ca/root.pem; nil when an ACME CA issues (404).
	CARoot []byte
	// AuthFailures counts failed authentications per client address; the
	// console shares it so that guesses cannot be spread across both. Nil
	// gets a limiter of ratelimit.DefaultAuthFailures per minute.
	AuthFailures *ratelimit.Limiter
	// Limiter counts each token's requests (Okta's X-Rate-Limit-*); nil
	// gets one of Config.RateLimit per minute on this node alone. Serve
	// shares it across the cluster (ratelimit.Limiter.Share).
	Limiter *ratelimit.Limiter
	// Fault classifies a storage error (full, read-only) as a
	// *store.UnavailableError, which the API answers with 503; nil leaves
	// errors as they are.
	Fault func(error) error
	// Hooks manages event hooks; nil answers their routes with 404.
	Hooks *eventhook.Service
	// Account rolls the ACME account key over (operator only); nil, or
	// the built-in CA, answers with 400.
	Account AccountRoller
}

// AccountRoller replaces the ACME account's key, keeping its URL;
// issuance.Keeper implements it.
type AccountRoller interface {
	Rollover(ctx context.Context) (accountURL string, err error)
}

// Server is the API's HTTP handler.
type Server struct {
	domains *customdomain.Service
	// verifyWindow is the domains' Config().VerifyWindow, read once.
	verifyWindow time.Duration
	tenants      *tenant.Service
	brands       *brand.Service
	log          *systemlog.Log
	logger       *slog.Logger
	metrics      *metrics
	limiter      *ratelimit.Limiter
	// authFailures counts failed authentications per client address.
	authFailures *ratelimit.Limiter
	ready        func(context.Context) error
	fault        func(error) error
	caRoot       []byte
	hooks        *eventhook.Service
	account      AccountRoller
	handler      http.Handler
}

// New builds the API.
func New(cfg Config, d Deps) *Server {
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 6000
	}
	s := &Server{
		domains: d.Domains, tenants: d.Tenants, brands: d.Brands, log: d.Log, logger: d.Logger,
		metrics:      newMetrics(d.Registry),
		limiter:      ratelimit.New(cfg.RateLimit, time.Now),
		authFailures: d.AuthFailures,
		ready:        d.Ready,
		fault:        d.Fault,
		caRoot:       d.CARoot,
		hooks:        d.Hooks,
		account:      d.Account,
	}
	if d.Limiter != nil {
		s.limiter = d.Limiter
	}
	if s.fault == nil {
		s.fault = func(err error) error { return err }
	}
	if s.authFailures == nil {
		s.authFailures = ratelimit.New(ratelimit.DefaultAuthFailures, time.Now)
	}
	if s.domains != nil {
		s.verifyWindow = s.domains.Config().VerifyWindow
	}
	mux := http.NewServeMux()
	s.routes(mux, promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	s.handler = s.observe(s.recoverer(s.cleanPathsOnly(mux)))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Split sends the API's requests to api and every other request to rest
// (the console). The API's are the paths under /api/ and the operational
// endpoints, also when written uncleanly ("//api/v1", "/api/v1/..", "/api"),
// so that the API refuses them in JSON instead of a ServeMux answering
// with a redirect that a client would follow with the same method.
func Split(api, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPIPath(r.URL.Path) {
			api.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

func isAPIPath(p string) bool {
	for _, p := range []string{p, path.Clean("/" + p)} {
		switch {
		case p == "/api", strings.HasPrefix(p, "/api/"), p == "/healthz", p == "/readyz", p == "/metrics":
			return true
		}
	}
	return false
}

// cleanPathsOnly refuses a path that is not in clean form (empty, "." or
// ".." segments) with Okta's 400 before the mux sees it: the mux would
// answer it with a redirect and an HTML body. Like the mux, it judges the
// path as sent: "%2F" inside a segment is part of that segment.
func (s *Server) cleanPathsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if c := cleanPath(p); c != p {
			cause := fmt.Sprintf("path: %q is not in clean form (no empty, \".\" or \"..\" segments)", p)
			if isAPIPath(c) && c != "/api" {
				cause += "; did you mean " + c + "?"
			}
			writeError(w, r, s.logger, errValidation(cause), "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is p as ServeMux would clean it: rooted, no empty, "." or ".."
// segments, a trailing slash kept.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		return "/" + strings.TrimPrefix(path.Clean("/"+p), "/")
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// routes is the whole API, top to bottom.
func (s *Server) routes(mux *http.ServeMux, metrics http.Handler) {
	auth := func(h handlerFunc) http.Handler { return s.authenticate(s.handle(h)) }
	op := func(h handlerFunc) http.Handler { return s.authenticate(s.handle(operatorOnly(h))) }

	mux.Handle("POST /api/v1/domains", auth(s.createDomain))
	mux.Handle("GET /api/v1/domains", auth(s.listDomains))
	mux.Handle("/api/v1/domains", s.notAllowed("GET, POST"))
	mux.Handle("GET /api/v1/domains/{id}", auth(s.getDomain))
	mux.Handle("PUT /api/v1/domains/{id}", auth(s.updateDomain))
	mux.Handle("DELETE /api/v1/domains/{id}", auth(s.deleteDomain))
	mux.Handle("/api/v1/domains/{id}", s.notAllowed("GET, PUT, DELETE"))
	mux.Handle("POST /api/v1/domains/{id}/verify", auth(s.verifyDomain))
	mux.Handle("/api/v1/domains/{id}/verify", s.notAllowed("POST"))
	mux.Handle("PUT /api/v1/domains/{id}/certificate", auth(s.uploadCertificate))
	mux.Handle("/api/v1/domains/{id}/certificate", s.notAllowed("PUT"))

	if s.brands != nil {
		mux.Handle("POST /api/v1/brands", auth(s.createBrand))
		mux.Handle("GET /api/v1/brands", auth(s.listBrands))
		mux.Handle("/api/v1/brands", s.notAllowed("GET, POST"))
		mux.Handle("GET /api/v1/brands/{brandId}", auth(s.getBrand))
		mux.Handle("PUT /api/v1/brands/{brandId}", auth(s.replaceBrand))
		mux.Handle("DELETE /api/v1/brands/{brandId}", auth(s.deleteBrand))
		mux.Handle("/api/v1/brands/{brandId}", s.notAllowed("GET, PUT, DELETE"))
		mux.Handle("GET /api/v1/brands/{brandId}/domains", auth(s.listBrandDomains))
		mux.Handle("/api/v1/brands/{brandId}/domains", s.notAllowed("GET"))
	}

	// The built-in CA's root is public: no token, so people and tools can
	// fetch it to trust the certificates it signs.
	mux.Handle("GET /api/v1/ca/root.pem", s.handle(s.caRootPEM))
	mux.Handle("/api/v1/ca/root.pem", s.notAllowed("GET"))

	mux.Handle("GET /api/v1/logs", auth(s.listLogs))
	mux.Handle("/api/v1/logs", s.notAllowed("GET"))

	// The caller as an Okta user: clients validate their token with it.
	mux.Handle("GET /api/v1/users/{id}", auth(s.getUser))
	mux.Handle("/api/v1/users/{id}", s.notAllowed("GET"))

	if s.hooks != nil {
		mux.Handle("POST /api/v1/eventHooks", auth(s.createEventHook))
		mux.Handle("GET /api/v1/eventHooks", auth(s.listEventHooks))
		mux.Handle("/api/v1/eventHooks", s.notAllowed("GET, POST"))
		mux.Handle("GET /api/v1/eventHooks/{id}", auth(s.getEventHook))
		mux.Handle("PUT /api/v1/eventHooks/{id}", auth(s.replaceEventHook))
		mux.Handle("DELETE /api/v1/eventHooks/{id}", auth(s.deleteEventHook))
		mux.Handle("/api/v1/eventHooks/{id}", s.notAllowed("GET, PUT, DELETE"))
		mux.Handle("POST /api/v1/eventHooks/{id}/lifecycle/{op}", auth(s.eventHookLifecycle))
		mux.Handle("/api/v1/eventHooks/{id}/lifecycle/{op}", s.notAllowed("POST"))
	}

	mux.Handle("POST /api/v1/acme/account/keyRollover", op(s.rolloverAccountKey))
	mux.Handle("/api/v1/acme/account/keyRollover", s.notAllowed("POST"))

	mux.Handle("POST /api/v1/orgs", op(s.createOrg))
	mux.Handle("GET /api/v1/orgs", op(s.listOrgs))
	mux.Handle("/api/v1/orgs", s.notAllowed("GET, POST"))
	mux.Handle("GET /api/v1/orgs/{id}", auth(s.getOrg))
	mux.Handle("/api/v1/orgs/{id}", s.notAllowed("GET"))
	mux.Handle("POST /api/v1/orgs/{id}/tokens", op(s.createToken))
	mux.Handle("GET /api/v1/orgs/{id}/tokens", op(s.listTokens))
	mux.Handle("/api/v1/orgs/{id}/tokens", s.notAllowed("GET, POST"))
	mux.Handle("DELETE /api/v1/orgs/{id}/tokens/{tokenId}", op(s.revokeToken))
	mux.Handle("/api/v1/orgs/{id}/tokens/{tokenId}", s.notAllowed("DELETE"))

	notFound := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errNotFound("no API resource at " + r.URL.Path)
	})
	mux.Handle("/api/", notFound)
	mux.Handle("/api", notFound) // else the mux redirects it to /api/

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("/healthz", s.notAllowed("GET, HEAD"))
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/readyz", s.notAllowed("GET, HEAD"))
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/metrics", s.notAllowed("GET, HEAD"))
}

// handlerFunc is a handler that may fail; handle renders the error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			err = s.fault(err)
			var domainID string
			if strings.HasPrefix(r.URL.Path, "/api/v1/domains/") {
				domainID = r.PathValue("id")
			}
			writeError(w, r, s.logger, err, domainID)
		}
	})
}

func operatorOnly(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !actorFrom(r.Context()).Operator {
			return errForbidden("only the operator token may manage orgs and their tokens")
		}
		return h(w, r)
	}
}

func (s *Server) notAllowed(allowed string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		writeError(w, r, s.logger, errMethod(allowed), "")
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			s.logger.Warn("not ready", "err", err)
			body := map[string]string{"status": "unavailable"}
			var ue *store.UnavailableError
			if errors.As(s.fault(err), &ue) {
				body["cause"] = ue.Reason
			}
			w.Header().Set("Retry-After", retryAfter)
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
