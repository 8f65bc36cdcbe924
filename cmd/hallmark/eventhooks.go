package main

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"os"

	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// newEventHooks builds the event hook service of serve's flags.
func newEventHooks(c serveConfig, st eventhook.Store, events *systemlog.Log, box *sealed.Box, logger *slog.Logger) (*eventhook.Service, error) {
	cfg := eventhook.Config{AllowPrivate: c.EventHooksAllowPrivate}
	if len(c.DNSResolvers) > 0 {
		// --dns-resolvers serve every look-up, hook hosts' too.
		var d net.Dialer
		cfg.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, c.DNSResolvers[0])
		}}
	}
	if c.EventHooksCAFile != "" {
		pem, err := os.ReadFile(c.EventHooksCAFile)
		if err != nil {
			return nil, usageError("--event-hooks-ca-file: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usageError("--event-hooks-ca-file %s: no PEM certificate in it", c.EventHooksCAFile)
		}
	}
	return eventhook.New(cfg, st, events, box, logger.With("component", "eventhooks")), nil
}
