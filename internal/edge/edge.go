// Package edge is the TLS listener for tenants' names: SNI picks the
// certificate from a bounded in-memory cache that a Source fills lazily,
// ACME challenges are answered from the challenge store (http-01 on the
// plain-HTTP listener, tls-alpn-01 on the TLS one), and requests are proxied
// to the org's upstream with X-Forwarded-For/-Proto/-Host.
//
// A handshake for a cached name does no I/O and takes one shard's read
// lock. A miss asks the Source once per name at a time (concurrent
// handshakes for the same name wait for that one look-up); an unknown name
// is remembered for NegativeTTL in a bounded negative cache and gets the
// unrecognized_name alert. Put and Invalidate push changes (a renewed or
// uploaded certificate) without a restart.
package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/connlimit"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/upstream"
)

// Entry is what the edge needs to serve a name.
type Entry struct {
	// Certificate is served for the name. The edge keeps a compact copy
	// (see chainIntern.hold): Leaf need not be set.
	Certificate *tls.Certificate
	// OrgName names the org that serves the name (the page shown when
	// there is no upstream).
	OrgName string
	// Brand is the name of the domain's brand, which that page shows as
	// its title; "" shows the name itself.
	Brand string
	// Upstream is the org's upstream; nil uses Config.DefaultUpstream.
	Upstream *url.URL
}

// Source looks a name up in the store. It is called on a cache miss only.
// name is lower case without a trailing dot. It returns store.ErrNotFound
// (or an error wrapping it) when the name is not served: no verified domain
// or no certificate yet. Any other error fails that handshake without being
// cached.
type Source interface {
	Lookup(ctx context.Context, name string) (Entry, error)
}

// Challenges gives the edge the pending ACME answers (written by
// issuance.ChallengeStore). Both return store.ErrNotFound when none.
type Challenges interface {
	HTTP01KeyAuth(ctx context.Context, token string) (string, error)
	TLSALPN01KeyAuth(ctx context.Context, name string) (string, error)
}

// DefaultCacheSize is the default bound on certificates in memory: twice
// a hot set of 10,000 names, about 24 MB in the compact form the cache
// keeps. A name beyond it is read from the store on its next handshake.
const DefaultCacheSize = 20000

// Config configures the edge. Zero values mean the defaults noted.
type Config struct {
	HTTPSAddr string // default ":8443"
	HTTPAddr  string // default ":8081"
	// RedirectPort is the port in https:// redirects; 0 takes the port of
	// HTTPSAddr, and 443 is left out of the URL.
	RedirectPort int
	// DefaultUpstream serves names whose org names none (--upstream).
	DefaultUpstream *url.URL

	CacheSize         int           // certificates kept in memory; default DefaultCacheSize
	NegativeCacheSize int           // unknown names remembered; default 10000
	NegativeTTL       time.Duration // how long; default 30s
	LookupTimeout     time.Duration // bound on a Source call; default 5s

	ReadHeaderTimeout time.Duration // default 10s
	ReadTimeout       time.Duration // default 60s
	WriteTimeout      time.Duration // default 120s
	IdleTimeout       time.Duration // default 120s
	ShutdownTimeout   time.Duration // graceful shutdown bound; default 10s

	// MaxConns bounds the connections each listener holds (default
	// connlimit.DefaultMax(), from the descriptor limit); MaxConnsPerClient
	// those of one client address (default MaxConns/8). Beyond, new
	// connections are closed at once.
	MaxConns, MaxConnsPerClient int
	// MaxConcurrentStreams bounds the HTTP/2 streams of one connection
	// (default 100); net/http also closes a connection whose client resets
	// streams faster than their handlers finish (CVE-2023-44487).
	MaxConcurrentStreams int
	// MaxHeaderBytes bounds a request's header (default 64 KiB).
	MaxHeaderBytes int
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.HTTPSAddr == "" {
		c.HTTPSAddr = ":8443"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8081"
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.NegativeCacheSize == 0 {
		c.NegativeCacheSize = 10000
	}
	def(&c.NegativeTTL, 30*time.Second)
	def(&c.LookupTimeout, 5*time.Second)
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 60*time.Second)
	def(&c.WriteTimeout, 120*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.ShutdownTimeout, 10*time.Second)
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 100
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
}

// Edge serves tenants' names.
type Edge struct {
	cfg        Config
	src        Source
	challenges Challenges
	log        *slog.Logger

	pos    *cache[*Entry]
	neg    *cache[struct{}]
	chains chainIntern

	flightMu sync.Mutex
	flights  map[string]*flight

	tlsConfig *tls.Config
	alpnBase  *tls.Config
	handler   http.Handler
}

type flight struct {
	done  chan struct{}
	entry *Entry
	err   error
}

// New returns an Edge; Run or Serve starts it.
func New(cfg Config, src Source, challenges Challenges, logger *slog.Logger) (*Edge, error) {
	cfg.setDefaults()
	if cfg.CacheSize < 0 || cfg.NegativeCacheSize < 0 {
		return nil, errors.New("edge: cache sizes must be positive")
	}
	if cfg.DefaultUpstream != nil {
		if err := upstream.Check(cfg.DefaultUpstream); err != nil {
			return nil, fmt.Errorf("edge: default upstream: %w", err)
		}
	}
	e := &Edge{
		cfg:        cfg,
		src:        src,
		challenges: challenges,
		log:        logger,
		pos:        newCache[*Entry](cfg.CacheSize),
		neg:        newCache[struct{}](cfg.NegativeCacheSize),
		flights:    make(map[string]*flight),
	}
	e.tlsConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"h2", "http/1.1"},
		GetCertificate:     e.getCertificate,
		GetConfigForClient: e.getConfigForClient,
	}
	e.alpnBase = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{acmeTLS1}}
	e.handler = e.proxyHandler()
	return e, nil
}

// TLSConfig is the edge's TLS configuration (for tests and benchmarks that
// drive handshakes themselves).
func (e *Edge) TLSConfig() *tls.Config { return e.tlsConfig }

// normalize lower-cases a name and drops a trailing dot.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// Put serves entry for name from now on (a new, renewed or uploaded
// certificate), replacing whatever was cached.
func (e *Edge) Put(name string, entry Entry) {
	name = normalize(name)
	e.neg.Delete(name)
	e.pos.Set(name, e.chains.hold(entry), time.Time{})
}

// Invalidate forgets name; the next handshake asks the Source again. A
// wildcard (*.acme.com) forgets every name it covers: each is cached under
// its own SNI name.
func (e *Edge) Invalidate(name string) {
	name = normalize(name)
	e.neg.Delete(name)
	e.pos.Delete(name)
	if base, ok := strings.CutPrefix(name, "*."); ok {
		covered := func(n string) bool {
			_, parent, ok := strings.Cut(n, ".")
			return ok && parent == base
		}
		e.neg.DeleteFunc(covered)
		e.pos.DeleteFunc(covered)
	}
}

// Unknown reports how many unknown names are remembered (at most
// NegativeCacheSize, however many names a flood of handshakes sends).
func (e *Edge) Unknown() int { return e.neg.Len() }

// Cached reports how many names hold a certificate in memory.
func (e *Edge) Cached() int { return e.pos.Len() }

// Evicted reports how many certificates were dropped from memory so far to
// make room for others; rising steadily, CacheSize is below the names in use.
func (e *Edge) Evicted() int64 { return e.pos.Evicted() }

// lookup returns the entry for name: from memory, or from the Source
// (one call per name at a time). nil, nil means the name is not served.
func (e *Edge) lookup(ctx context.Context, name string) (*Entry, error) {
	now := time.Now()
	if v, ok := e.pos.Get(name, now); ok {
		return v, nil
	}
	if _, ok := e.neg.Get(name, now); ok {
		return nil, nil
	}
	e.flightMu.Lock()
	if f, ok := e.flights[name]; ok {
		e.flightMu.Unlock()
		select {
		case <-f.done:
			return f.entry, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	e.flights[name] = f
	e.flightMu.Unlock()

	f.entry, f.err = e.fill(name)
	close(f.done)
	e.flightMu.Lock()
	delete(e.flights, name)
	e.flightMu.Unlock()
	return f.entry, f.err
}

// fill asks the Source. It runs detached from the handshake's context so
// that one impatient client does not fail the look-up for the others
// waiting on it; LookupTimeout bounds it.
func (e *Edge) fill(name string) (*Entry, error) {
	posGen, negGen := e.pos.Gen(name), e.neg.Gen(name)
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.LookupTimeout)
	defer cancel()
	ent, err := e.src.Lookup(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.neg.SetIfGen(name, struct{}{}, time.Now().Add(e.cfg.NegativeTTL), negGen)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%s: looking up certificate: %w", name, err)
	case ent.Certificate == nil:
		return nil, fmt.Errorf("%s: source returned no certificate", name)
	}
	held := e.chains.hold(ent)
	e.pos.SetIfGen(name, held, time.Time{}, posGen)
	return held, nil
}

// getCertificate is the SNI callback. Returning nil, nil with no
// Config.Certificates makes crypto/tls send the unrecognized_name alert.
func (e *Edge) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalize(hello.ServerName)
	if name == "" {
		return nil, nil
	}
	ent, err := e.lookup(hello.Context(), name)
	if err != nil {
		e.log.Warn("handshake: certificate look-up failed", "name", name, "err", err)
		return nil, err
	}
	if ent == nil {
		return nil, nil
	}
	return ent.Certificate, nil
}

// Run listens on HTTPSAddr and HTTPAddr and serves until ctx ends, then
// shuts down gracefully.
func (e *Edge) Run(ctx context.Context) error {
	var lc net.ListenConfig
	httpsLn, err := lc.Listen(ctx, "tcp", e.cfg.HTTPSAddr)
	if err != nil {
		return fmt.Errorf("edge: --https-addr: %w", err)
	}
	httpLn, err := lc.Listen(ctx, "tcp", e.cfg.HTTPAddr)
	if err != nil {
		httpsLn.Close()
		return fmt.Errorf("edge: --http-addr: %w", err)
	}
	return e.Serve(ctx, httpsLn, httpLn)
}

// Serve serves on listeners the caller opened, until ctx ends.
func (e *Edge) Serve(ctx context.Context, httpsLn, httpLn net.Listener) error {
	redirectPort := e.cfg.RedirectPort
	if redirectPort == 0 {
		if a, ok := httpsLn.Addr().(*net.TCPAddr); ok {
			redirectPort = a.Port
		}
	}
	httpsSrv := e.server(e.handler)
	// http.Server adjusts the TLSConfig it is given (net/http's HTTP/2
	// set-up); it gets a copy, since handshakes use e.tlsConfig meanwhile.
	httpsSrv.TLSConfig = e.tlsConfig.Clone()
	httpSrv := e.server(e.challengeHandler(redirectPort))
	limits := connlimit.Config{Max: e.cfg.MaxConns, PerClient: e.cfg.MaxConnsPerClient}
	httpsLn, httpLn = connlimit.Listen(httpsLn, limits), connlimit.Listen(httpLn, limits)
	tlsLn := newTLSListener(httpsLn, e.tlsConfig, e.handshakeTimeout(), e.log)

	errc := make(chan error, 2)
	go func() { errc <- httpsSrv.Serve(tlsLn) }()
	go func() { errc <- httpSrv.Serve(httpLn) }()

	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.ShutdownTimeout)
	defer cancel()
	err1 := httpsSrv.Shutdown(sctx)
	err2 := httpSrv.Shutdown(sctx)
	if errors.Is(first, http.ErrServerClosed) {
		first = nil
	}
	return errors.Join(first, err1, err2)
}

// handshakeTimeout bounds a TLS handshake as net/http would: the shortest
// of the read-header, read and write timeouts.
func (e *Edge) handshakeTimeout() time.Duration {
	var d time.Duration
	for _, v := range []time.Duration{e.cfg.ReadHeaderTimeout, e.cfg.ReadTimeout, e.cfg.WriteTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}

func (e *Edge) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: e.cfg.ReadHeaderTimeout,
		ReadTimeout:       e.cfg.ReadTimeout,
		WriteTimeout:      e.cfg.WriteTimeout,
		IdleTimeout:       e.cfg.IdleTimeout,
		MaxHeaderBytes:    e.cfg.MaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: e.cfg.MaxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
}
