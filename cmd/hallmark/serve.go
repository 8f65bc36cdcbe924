package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/api"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// serveConfig is every flag of `hallmark serve`.
type serveConfig struct {
	DataDir            string
	APIAddr            string
	CNAMETarget        string
	VerificationPrefix string
	DNSResolvers       []string
	VerifyWindow       time.Duration
	BootstrapToken     string
	CAAIdentity        string
	DomainLimit        int
	RateLimit          int
	Workers            int
	LogLevel           string
	LogFormat          string
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var c serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the custom-domain service: API, DNS verification and the system log",
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
	f.StringVar(&c.APIAddr, "api-addr", "127.0.0.1:8080", "admin API and web console address")
	f.StringVar(&c.CNAMETarget, "cname-target", "", "the name tenants point their CNAME at (empty: no CNAME record is asked for)")
	f.StringVar(&c.VerificationPrefix, "verification-prefix", "_hallmark-challenge", "label of the ownership TXT record")
	f.StringSliceVar(&c.DNSResolvers, "dns-resolvers", nil, "ip:port,... used for all DNS look-ups (default: the system's resolvers)")
	f.DurationVar(&c.VerifyWindow, "verify-window", 168*time.Hour, "how long a domain is re-checked before FAILED_TO_VERIFY")
	f.StringVar(&c.BootstrapToken, "bootstrap-token", "", "operator API token created at first start; without it one is generated and printed once")
	f.StringVar(&c.CAAIdentity, "caa-identity", "", "issuer domain of the CA (letsencrypt.org): publish and check a CAA record allowing it")
	f.IntVar(&c.DomainLimit, "domain-limit", 200, "custom domains per org (E0000162 beyond; negative: no limit)")
	f.IntVar(&c.RateLimit, "rate-limit", 6000, "API requests per token per minute (E0000047 beyond; negative: no limit)")
	f.IntVar(&c.Workers, "workers", 8, "background DNS checks run at once")
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

func serve(ctx context.Context, c serveConfig, stdout, stderr io.Writer) error {
	logger, err := newLogger(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}
	for _, r := range c.DNSResolvers {
		if _, _, err := net.SplitHostPort(r); err != nil {
			return usageError("--dns-resolvers: %q is not ip:port", r)
		}
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(c.DataDir, "hallmark.db"), logger)
	if err != nil {
		return fmt.Errorf("opening database: %w", err)
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	checker, err := dnscheck.New(dnscheck.Config{Resolvers: c.DNSResolvers})
	if err != nil {
		return usageError("--dns-resolvers: %v", err)
	}
	events := systemlog.New(st, logger, time.Now)
	domains, err := customdomain.New(customdomain.Config{
		CNAMETarget:        c.CNAMETarget,
		VerificationPrefix: c.VerificationPrefix,
		VerifyWindow:       c.VerifyWindow,
		CAAIdentity:        c.CAAIdentity,
		DomainLimit:        c.DomainLimit,
		Workers:            c.Workers,
	}, st, checker, events, logger)
	if err != nil {
		return usageError("%v", err)
	}
	tenants := tenant.NewService(st)
	secret, created, err := tenants.Bootstrap(ctx, c.BootstrapToken)
	if err != nil {
		return err
	}
	if created && c.BootstrapToken == "" {
		fmt.Fprintf(stdout, "\nOperator API token (shown once; store it now):\n\n    %s\n\nUse it as: export HALLMARK_TOKEN=%s\n\n", secret, secret)
	} else if !created && c.BootstrapToken != "" {
		logger.Warn("--bootstrap-token ignored: the database already has tokens")
	}

	apiHandler := api.New(api.Config{RateLimit: c.RateLimit}, api.Deps{
		Domains: domains, Tenants: tenants, Log: events, Logger: logger,
		Registry: reg, Gatherer: reg, Ready: st.Ping,
	})

	srv := &http.Server{
		Addr:              c.APIAddr,
		Handler:           apiHandler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", c.APIAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	logger.Info("hallmark serving", "api", "http://"+ln.Addr().String(), "dataDir", c.DataDir,
		"cnameTarget", c.CNAMETarget, "resolvers", strings.Join(c.DNSResolvers, ","))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	schedDone := make(chan error, 1)
	go func() { schedDone <- domains.Run(ctx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-srvDone:
		cancel()
		<-schedDone
		return fmt.Errorf("api server: %w", err)
	}
	logger.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("api shutdown", "err", err)
	}
	cancel()
	<-schedDone
	return nil
}
