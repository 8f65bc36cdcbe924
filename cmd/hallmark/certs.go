package main

import (
	"context"
	"errors"
	"log/slog"
	"net/url"

	legolog "github.com/go-acme/lego/v5/log"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/tenant"
	"github.com/hallmark-dev/hallmark/internal/upstream"
)

// newIssuer builds the ACME issuer when --acme-directory is set, and the
// built-in CA kept in the database otherwise (so Hallmark works offline
// out of the box, and every node on one database issues from one CA).
// caRoot is the built-in CA's root, nil with ACME.
func newIssuer(ctx context.Context, c serveConfig, box *sealed.Box, st serveStore, logger *slog.Logger) (iss issuance.Issuer, caRoot []byte, err error) {
	// lego logs to stdout through a global logger; send it to ours.
	legolog.SetDefault(logger.With("component", "acme"))
	if c.ACMEDirectory == "" {
		if c.ACMEEmail != "" || c.ACMECARoot != "" || c.ACMEEABKeyID != "" || c.ACMEEABHMAC != "" || c.ACMEDNSPersist {
			return nil, nil, usageError("--acme-email, --acme-ca-root, --acme-eab-* and --acme-dns-persist need --acme-directory")
		}
		ca, err := issuance.LoadOrCreateStoredCA(ctx, st, box)
		if err != nil {
			return nil, nil, err
		}
		return ca, ca.RootPEM(), nil
	}
	u, err := url.Parse(c.ACMEDirectory)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, nil, usageError("--acme-directory %q: want the https URL of the CA's ACME directory", c.ACMEDirectory)
	}
	cfg := issuance.ACMEConfig{DirectoryURL: c.ACMEDirectory, Email: c.ACMEEmail, Timeout: c.SchedulerLease / 2}
	if c.ACMEDNSPersist {
		cfg.Challenges = []issuance.ChallengeType{issuance.HTTP01, issuance.TLSALPN01, issuance.DNSPersist01}
	}
	if c.ACMECARoot != "" {
		if cfg.Roots, err = issuance.RootsWithFile(c.ACMECARoot); err != nil {
			return nil, nil, usageError("%v", err)
		}
	}
	switch {
	case c.ACMEEABKeyID != "" && c.ACMEEABHMAC != "":
		cfg.EAB = &issuance.EAB{KeyID: c.ACMEEABKeyID, HMACKey: c.ACMEEABHMAC}
	case c.ACMEEABKeyID != "" || c.ACMEEABHMAC != "":
		return nil, nil, usageError("--acme-eab-kid and --acme-eab-hmac go together")
	}
	a, err := issuance.NewACME(cfg, box, st, st)
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	return a, nil, nil
}

// edgeSource is what the edge serves for a name, read from the store on a
// cache miss: the lifecycle says which domain serves it and with which
// certificate record; the key opens with the master key, the domain's
// brand gives the page's title, and the org gives its name and upstream.
type edgeSource struct {
	domains *customdomain.Service
	orgs    interface {
		GetOrg(ctx context.Context, id string) (tenant.Org, error)
	}
	brands interface {
		GetBrand(ctx context.Context, id string) (brand.Brand, error)
	}
	box    *sealed.Box
	logger *slog.Logger
}

var _ edge.Source = (*edgeSource)(nil)

func (s *edgeSource) Lookup(ctx context.Context, name string) (edge.Entry, error) {
	d, rec, err := s.domains.Serving(ctx, name)
	if err != nil {
		return edge.Entry{}, err
	}
	cert, err := rec.TLSCertificate(s.box)
	if err != nil {
		return edge.Entry{}, err
	}
	ent := edge.Entry{Certificate: cert}
	switch b, err := s.brands.GetBrand(ctx, d.BrandID); {
	case err == nil:
		ent.Brand = b.Name
	case !errors.Is(err, store.ErrNotFound):
		return edge.Entry{}, err
	}
	if d.OrgID == "" {
		return ent, nil
	}
	org, err := s.orgs.GetOrg(ctx, d.OrgID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ent, nil
	case err != nil:
		return edge.Entry{}, err
	}
	ent.OrgName = org.Name
	if org.Upstream != "" {
		u, err := upstream.Parse(org.Upstream)
		if err != nil {
			s.logger.Warn("edge: ignoring the org's upstream", "org", org.ID, "err", err)
		} else {
			ent.Upstream = u
		}
	}
	return ent, nil
}
