package main

import (
	"crypto/x509"
	"log/slog"
	"os"

	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// newEventHooks builds the event hook service of serve's flags.
func newEventHooks(c serveConfig, st *sqlite.Store, events *systemlog.Log, box *sealed.Box, logger *slog.Logger) (*eventhook.Service, error) {
	cfg := eventhook.Config{AllowPrivate: c.EventHooksAllowPrivate}
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
