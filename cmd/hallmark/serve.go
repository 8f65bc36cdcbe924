package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/api"
	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/connlimit"
	"github.com/hallmark-dev/hallmark/internal/console"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/store/postgres"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
	"github.com/hallmark-dev/hallmark/internal/upstream"
)

// serveConfig is every flag of `hallmark serve`.
type serveConfig struct {
	DataDir            string
	DatabaseURL        string
	APIAddr            string
	CNAMETarget        string
	VerificationPrefix string
	DNSResolvers       []string
	VerifyWindow       time.Duration
	BootstrapToken     string
	CAAIdentity        string
	DomainLimit        int
	RateLimit          int
	AuthFailureLimit   int
	LogRetention       time.Duration
	Workers            int
	LogLevel           string
	LogFormat          string
	NodeID             string

	HTTPSAddr     string
	HTTPAddr      string
	EdgeCacheSize int
	ACMEDirectory string
	ACMEEmail     string
	ACMECARoot    string
	ACMEEABKeyID  string
	ACMEEABHMAC   string
	// ACMEDNSPersist also validates through the persistent record
	// (dns-persist-01) when a domain publishes it.
	ACMEDNSPersist bool
	Upstream       string
	MasterKeyFile  string
	WatchInterval  time.Duration
	MovedGrace     time.Duration
	SchedulerLease time.Duration
	NameserverPort int

	EventHooksAllowPrivate bool
	EventHooksCAFile       string
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var c serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the custom-domain service: API, DNS verification, certificates, the TLS edge and the system log",
		Long: `Run the custom-domain service. Every flag can also be set by an environment
variable HALLMARK_<FLAG_IN_UPPER_SNAKE_CASE>, for example HALLMARK_DNS_RESOLVERS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			return serve(cmd.Context(), c, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.DataDir, "data-dir", "./hallmark-data", "embedded state: SQLite database, built-in CA, key file")
	f.StringVar(&c.DatabaseURL, "database-url", "", "postgres://... selects PostgreSQL (shared by several nodes) instead of the embedded SQLite under --data-dir")
	f.StringVar(&c.APIAddr, "api-addr", "127.0.0.1:8080", "admin API and web console address")
	f.StringVar(&c.CNAMETarget, "cname-target", "", "the name tenants point their CNAME at (empty: no CNAME record is asked for)")
	f.StringVar(&c.VerificationPrefix, "verification-prefix", "_hallmark-challenge", "label of the ownership TXT record")
	f.StringSliceVar(&c.DNSResolvers, "dns-resolvers", nil, "ip:port,... used for all DNS look-ups (default: the system's resolvers)")
	f.DurationVar(&c.VerifyWindow, "verify-window", 168*time.Hour, "how long a domain is re-checked before FAILED_TO_VERIFY")
	f.StringVar(&c.BootstrapToken, "bootstrap-token", "", "operator API token created at first start; without it one is generated and printed once")
	f.StringVar(&c.CAAIdentity, "caa-identity", "", "issuer domain of the CA (letsencrypt.org): publish and check a CAA record allowing it")
	f.IntVar(&c.DomainLimit, "domain-limit", 200, "custom domains per org (E0000162 beyond; negative: no limit)")
	f.IntVar(&c.RateLimit, "rate-limit", 6000, "API requests per token per minute (E0000047 beyond; negative: no limit)")
	f.IntVar(&c.AuthFailureLimit, "auth-failure-limit", ratelimit.DefaultAuthFailures, "failed authentications (API tokens and console sign-ins together) per client address per minute; beyond, that address gets E0000047 (negative: no limit)")
	f.DurationVar(&c.LogRetention, "log-retention", systemlog.DefaultRetention, "how long system log events are kept; older ones are deleted in the background in small batches (negative: forever)")
	f.IntVar(&c.Workers, "workers", 8, "background DNS checks run at once")
	f.StringVar(&c.HTTPSAddr, "https-addr", ":8443", "TLS for tenants' domains (SNI)")
	f.StringVar(&c.HTTPAddr, "http-addr", ":8081", "plain HTTP: ACME http-01 answers, redirect to HTTPS")
	f.IntVar(&c.EdgeCacheSize, "edge-cache-size", edge.DefaultCacheSize, "certificates the edge keeps in memory (about 1.2 KB each); set it above the number of names served at once, or handshakes of evicted names read the store")
	f.StringVar(&c.ACMEDirectory, "acme-directory", "", "ACME directory URL of the CA; empty selects the built-in CA")
	f.StringVar(&c.ACMEEmail, "acme-email", "", "ACME account contact")
	f.StringVar(&c.ACMECARoot, "acme-ca-root", "", "PEM file of an extra root trusted when talking to the ACME server (test CAs)")
	f.StringVar(&c.ACMEEABKeyID, "acme-eab-kid", "", "external account binding key id, for CAs that require one")
	f.StringVar(&c.ACMEEABHMAC, "acme-eab-hmac", "", "external account binding HMAC key (base64url), with --acme-eab-kid")
	f.BoolVar(&c.ACMEDNSPersist, "acme-dns-persist", false, "hand each managed domain a persistent validation record (dns-persist-01, _validation-persist.<name>) and validate through it when it is published: the certificate before the CNAME moves, renewals whatever is in front, wildcard domains (the CA must offer dns-persist-01)")
	f.StringVar(&c.Upstream, "upstream", "", "http(s) URL verified domains are proxied to when their org names none")
	f.StringVar(&c.MasterKeyFile, "master-key-file", "", "key that encrypts private keys at rest (default: DATA_DIR/master.key, generated with mode 0600)")
	f.DurationVar(&c.WatchInterval, "watch-interval", customdomain.WatchInterval, "how often an active domain's CNAME is re-checked and its CA asked for the renewal window")
	f.DurationVar(&c.MovedGrace, "moved-grace", customdomain.MovedGrace, "how long renewals go on after a name stopped pointing here")
	f.DurationVar(&c.SchedulerLease, "scheduler-lease", time.Minute, "how long a claimed domain stays claimed (one attempt takes at most half of it); work left by a dead node resumes after it")
	f.IntVar(&c.NameserverPort, "nameserver-port", 53, "port of the authoritative servers (tests)")
	f.MarkHidden("nameserver-port")
	f.BoolVar(&c.EventHooksAllowPrivate, "event-hooks-allow-private", false, "also allow event hook URLs with http:// or on loopback and private addresses (tests, private deployments)")
	f.StringVar(&c.EventHooksCAFile, "event-hooks-ca-file", "", "PEM roots trusted for event hook TLS instead of the system's (tests)")
	f.MarkHidden("event-hooks-ca-file")
	f.StringVar(&c.NodeID, "node-id", "", "this node's name in logs (node=...), metrics (label node) and the leases it takes (default: the host name)")
	f.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	annotateEnv(f)
	return cmd
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError("--log-format %q: use text or json", format)
}

// nodeID is the --node-id given, or the host name: printable, without
// spaces, at most 64 bytes, so that it reads well in a log line and is a
// valid Prometheus label value.
func nodeID(flag string) (string, error) {
	id := flag
	if id == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "node"
		}
		id = h
	}
	if len(id) > 64 || strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		if flag == "" {
			return "node", nil
		}
		return "", usageError("--node-id %q: use at most 64 printable ASCII characters without spaces", flag)
	}
	return id, nil
}

// leaseOwner names this process in the leases it takes: the node id, and
// what tells a restarted process on the node from its dead predecessor.
func leaseOwner(node string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%x", node, os.Getpid(), b)
}

// serveStore is what serve needs of a storage backend; the embedded SQLite
// and PostgreSQL ones both are.
type serveStore interface {
	customdomain.Store
	tenant.Store
	tenant.SessionStore
	ratelimit.Counter
	systemlog.Store
	issuance.Store
	secretStore
	edge.Challenges
	brand.Store
	eventhook.Store
	systemlog.Pruner
	Ping(ctx context.Context) error
	// Ready commits a small write: not ready while writes fail.
	Ready(ctx context.Context) error
	// Fault classifies a storage error as a *store.UnavailableError.
	Fault(err error) error
	Close() error
}

// openStore opens PostgreSQL when --database-url is set, and the embedded
// SQLite database under the data dir otherwise.
func openStore(ctx context.Context, c serveConfig, logger *slog.Logger) (serveStore, error) {
	if c.DatabaseURL == "" {
		st, err := sqlite.Open(ctx, filepath.Join(c.DataDir, "hallmark.db"), logger)
		if err != nil {
			return nil, fmt.Errorf("opening database: %w", err)
		}
		return st, nil
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// Never the URL itself: it may hold a password.
		return nil, usageError("--database-url: want postgres://user@host:port/database")
	}
	st, err := postgres.Open(ctx, c.DatabaseURL, logger)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL at %s: %w", u.Redacted(), err)
	}
	return st, nil
}

func serve(ctx context.Context, c serveConfig, stdout, stderr io.Writer) error {
	logger, err := newLogger(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}
	node, err := nodeID(c.NodeID)
	if err != nil {
		return err
	}
	logger = logger.With("node", node)
	if c.EdgeCacheSize <= 0 {
		return usageError("--edge-cache-size %d: want a positive number of certificates", c.EdgeCacheSize)
	}
	for _, r := range c.DNSResolvers {
		if _, _, err := net.SplitHostPort(r); err != nil {
			return usageError("--dns-resolvers: %q is not ip:port", r)
		}
	}
	// The data directory holds the database and key material: private
	// to this user, whether it was just created or already existed.
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir %s: making it private (mode 0700): %w; run Hallmark as the directory's owner", c.DataDir, err)
	}
	st, err := openStore(ctx, c, logger)
	if err != nil {
		return err
	}
	defer st.Close()

	// Every metric carries the node's id, so that one dashboard over
	// several nodes tells them apart.
	reg := prometheus.NewRegistry()
	metrics := prometheus.WrapRegistererWith(prometheus.Labels{"node": node}, reg)
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	checker, err := dnscheck.New(dnscheck.Config{Resolvers: c.DNSResolvers, NameserverPort: c.NameserverPort})
	if err != nil {
		return usageError("--dns-resolvers: %v", err)
	}
	events := systemlog.New(st, logger, time.Now)
	brands := brand.NewService(st, logger)
	domains, err := customdomain.New(customdomain.Config{
		CNAMETarget:        c.CNAMETarget,
		VerificationPrefix: c.VerificationPrefix,
		VerifyWindow:       c.VerifyWindow,
		CAAIdentity:        c.CAAIdentity,
		DomainLimit:        c.DomainLimit,
		Workers:            c.Workers,
		WatchInterval:      c.WatchInterval,
		MovedGrace:         c.MovedGrace,
		Lease:              c.SchedulerLease,
		Owner:              leaseOwner(node),
		Brands:             brands,
	}, st, checker, events, logger)
	if err != nil {
		return usageError("%v", err)
	}

	// Certificates: the master key, the issuer, the edge.
	box, err := openSecrets(ctx, c, st, logger)
	if err != nil {
		return err
	}
	issuer, caRoot, err := newIssuer(ctx, c, box, st, logger)
	if err != nil {
		return err
	}
	keeper, err := issuance.NewKeeper(issuer, box)
	if err != nil {
		return err
	}
	var defaultUpstream *url.URL
	if c.Upstream != "" {
		if defaultUpstream, err = upstream.Parse(c.Upstream); err != nil {
			return usageError("--upstream: %v; %s", err, upstream.Hint)
		}
	}
	edgeSrv, err := edge.New(edge.Config{HTTPSAddr: c.HTTPSAddr, HTTPAddr: c.HTTPAddr, DefaultUpstream: defaultUpstream, CacheSize: c.EdgeCacheSize},
		&edgeSource{domains: domains, orgs: st, brands: st, box: box, logger: logger}, st, logger.With("component", "edge"))
	if err != nil {
		return usageError("%v", err)
	}
	domains.UseCertificates(customdomain.Certificates{Certifier: keeper, Keeper: keeper, Edge: edgeSrv})
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_edge_certificates_cached", Help: "Certificates the edge holds in memory (at most --edge-cache-size)."},
			func() float64 { return float64(edgeSrv.Cached()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hallmark_edge_certificate_evictions_total", Help: "Certificates dropped from memory to make room; rising steadily, --edge-cache-size is below the names in use."},
			func() float64 { return float64(edgeSrv.Evicted()) }),
	)
	httpsLn, err := net.Listen("tcp", c.HTTPSAddr)
	if err != nil {
		return fmt.Errorf("--https-addr: %w", err)
	}
	defer httpsLn.Close()
	httpLn, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	defer httpLn.Close()
	tenants := tenant.NewService(st, events, domains, logger)
	if n, ok := st.(interface {
		TokenNotices(ctx context.Context, forget func(id string))
	}); ok {
		// Another node's revocation reaches this node's token cache at
		// once; after a lost connection every cached token is re-read.
		n.TokenNotices(ctx, func(id string) {
			if id == "" {
				tenants.ForgetTokens()
			} else {
				tenants.ForgetToken(id)
			}
		})
	}
	secret, created, err := tenants.Bootstrap(ctx, c.BootstrapToken)
	if err != nil {
		return err
	}
	if created && c.BootstrapToken == "" {
		fmt.Fprintf(stdout, "\nOperator API token (shown once; store it now):\n\n    %s\n\nUse it as: export HALLMARK_TOKEN=%s\n\n", secret, secret)
	} else if !created && c.BootstrapToken != "" {
		logger.Warn("--bootstrap-token ignored: the database already has tokens")
	}

	// The admin API (and, beside it, the web console), counting failed
	// authentications per address together.
	authFailures := ratelimit.New(c.AuthFailureLimit, time.Now)
	tokenLimit := ratelimit.New(cmp.Or(c.RateLimit, 6000), time.Now)
	if c.DatabaseURL != "" {
		// Several nodes: the limits hold across the cluster.
		authFailures.Share(ctx, st, "auth-failures", logger)
		tokenLimit.Share(ctx, st, "token", logger)
	}
	hooks, err := newEventHooks(c, st, events, box, logger)
	if err != nil {
		return err
	}
	apiHandler := api.New(api.Config{RateLimit: c.RateLimit}, api.Deps{
		Domains: domains, Tenants: tenants, Brands: brands, Log: events, Logger: logger,
		Registry: metrics, Gatherer: reg, Ready: st.Ready, Fault: st.Fault, CARoot: caRoot, AuthFailures: authFailures, Limiter: tokenLimit,
		Hooks: hooks, Account: keeper,
	})

	con, err := console.New(console.Config{}, console.Deps{
		Domains: domains, Tenants: tenants, Sessions: st, Log: events, Logger: logger.With("component", "console"),
		Checker: checker, Certificates: st, Uploader: domains, AuthFailures: authFailures, Fault: st.Fault,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              c.APIAddr,
		Handler:           api.Split(apiHandler, con),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 100},
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", c.APIAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	ln = connlimit.Listen(ln, connlimit.Config{})
	ca := "built-in"
	if c.ACMEDirectory != "" {
		ca = c.ACMEDirectory
	}
	logger.Info("hallmark serving", "api", "http://"+ln.Addr().String(), "https", httpsLn.Addr().String(),
		"http", httpLn.Addr().String(), "ca", ca, "dataDir", c.DataDir,
		"cnameTarget", c.CNAMETarget, "resolvers", strings.Join(c.DNSResolvers, ","))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	schedDone := make(chan error, 1)
	go func() { schedDone <- domains.Run(ctx) }()
	edgeDone := make(chan error, 1)
	go func() { edgeDone <- edgeSrv.Serve(ctx, httpsLn, httpLn) }()
	retention := systemlog.NewRetention(systemlog.RetentionConfig{Keep: c.LogRetention}, st, logger, time.Now)
	retentionDone := make(chan struct{})
	go func() { retention.Run(ctx); close(retentionDone) }()
	defer func() { cancel(); <-retentionDone }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	hooksDone := make(chan error, 1)
	go func() { hooksDone <- hooks.Run(ctx, "http://"+ln.Addr().String()) }()
	defer func() { cancel(); <-hooksDone }()

	select {
	case <-ctx.Done():
	case err := <-srvDone:
		cancel()
		<-schedDone
		<-edgeDone
		return fmt.Errorf("api server: %w", err)
	case err := <-edgeDone:
		cancel()
		<-schedDone
		srv.Close()
		return fmt.Errorf("edge: %w", err)
	}
	logger.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("api shutdown", "err", err)
	}
	cancel()
	<-schedDone
	if err := <-edgeDone; err != nil {
		logger.Warn("edge shutdown", "err", err)
	}
	return nil
}
