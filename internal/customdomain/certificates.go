package customdomain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// The published schedule of the certificate lifecycle (docs/certificates.md).
const (
	// WatchInterval is how often an active domain is looked at again: its
	// CNAME re-checked and the CA asked for its renewal window (ARI).
	WatchInterval = 6 * time.Hour
	// MovedGrace is how long renewals go on after a name was first seen no
	// longer pointing here; after it they stop, and the certificate in
	// hand is served until it expires.
	MovedGrace = 7 * 24 * time.Hour
	// ExpiringWithin: cert_expiring is recorded once per certificate when
	// less than this is left (or a sixth of its lifetime, when that is
	// less) and it has not been replaced. For a 90-day certificate whose
	// renewal is due with 30 to 39 days left, that leaves about two weeks
	// of failed renewals before anyone is warned.
	ExpiringWithin = 14 * 24 * time.Hour
)

// Finding ids of the certificate lifecycle, beside DESIGN.md's.
const (
	FindingMoved        = "domain.moved"
	FindingExpiring     = "cert.expiring"
	FindingIssueFailed  = "cert.issue_failed"
	FindingRenewStopped = "cert.renewal_stopped"
	// FindingWildcardUnsupported: the configured CA cannot be asked for a
	// wildcard certificate.
	FindingWildcardUnsupported = "cert.wildcard_unsupported"
)

// Certifier obtains and renews the certificates of managed domains;
// issuance.Keeper implements it. It stores nothing: the lifecycle commits
// the record with the domain's change.
type Certifier interface {
	// Certify issues a new certificate for name and returns it sealed,
	// with its renewal planned; current is the one served now, if any.
	// Failures are *issuance.Error with findings.
	// how says which challenge the CA is to use, and why.
	Certify(ctx context.Context, name string, current *issuance.Record, how issuance.Method) (issuance.Record, error)
	// Replan asks the CA again when rec should be renewed.
	Replan(ctx context.Context, rec issuance.Record) (time.Time, error)
	// CAAIdentities are the issuer domains the CA honours in CAA records;
	// none skips the CAA check (the built-in CA).
	CAAIdentities(ctx context.Context) ([]string, error)
}

// PersistIssuer is implemented by a Certifier whose CA validates names
// through a persistent record (dns-persist-01); issuance.Keeper does, and
// says issuance.ErrNoPersist when its CA is not used that way.
type PersistIssuer interface {
	PersistIdentity(ctx context.Context) (issuance.PersistIdentity, error)
}

// CertSealer seals uploaded certificates; issuance.Keeper implements it.
type CertSealer interface {
	SealUpload(name string, iss *issuance.Issued) (issuance.Record, error)
}

// Edge serves the certificates; *edge.Edge implements it. Invalidate makes
// the next handshake for name read the store again.
type Edge interface {
	Invalidate(name string)
}

// Certificates are the dependencies of the certificate lifecycle. Without
// a Certifier managed domains stop at VERIFIED; without a Keeper uploads
// are refused.
type Certificates struct {
	Certifier Certifier
	Keeper    CertSealer
	Edge      Edge
	// Upload tunes the checks of uploaded certificates (tests give their
	// own public roots).
	Upload issuance.CheckOptions
}

// ErrUploadsUnavailable: the service was started without a certificate
// store.
var ErrUploadsUnavailable = errs.New(errs.Unavailable, "", "certificate uploads are not available on this server")

// UseCertificates turns the certificate lifecycle on. Call it once, before
// Run and before serving requests.
func (s *Service) UseCertificates(c Certificates) {
	s.certs = c
	s.rules.Managed = c.Certifier != nil
}

// primeEdge fixes the outbox position the edge starts from, before this
// node commits anything the edge must hear of: its cache starts empty, so
// what was committed before needs no invalidation.
func (s *Service) primeEdge(ctx context.Context) {
	s.edgeMu.Lock()
	defer s.edgeMu.Unlock()
	if s.edgeSeq >= 0 || s.certs.Edge == nil {
		return
	}
	head, err := s.store.OutboxHead(ctx)
	if err != nil {
		s.logger.Warn("reading the outbox head", "err", err)
		return
	}
	s.edgeSeq = head
}

// SyncEdge invalidates the edge's cache for every name whose served
// certificate changed in a commit since the last call, on any node, read
// from the outbox: the edge learns only of committed changes. Each local
// commit calls it; Run calls it on every poll for the other nodes'.
func (s *Service) SyncEdge(ctx context.Context) {
	if s.certs.Edge == nil {
		return
	}
	s.edgeMu.Lock()
	defer s.edgeMu.Unlock()
	if s.edgeSeq < 0 {
		s.edgeSeq = 0 // not primed: replay what the outbox still holds
	}
	for {
		es, err := s.store.OutboxAfter(ctx, s.edgeSeq, 500)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("reading the outbox", "err", err)
			}
			return
		}
		for _, e := range es {
			s.certs.Edge.Invalidate(e.Name)
			s.edgeSeq = e.Seq
		}
		if len(es) < 500 {
			return
		}
	}
}

func certInfo(rec issuance.Record) CertInfo {
	ci := CertInfo{Subject: rec.Subject, Fingerprint: rec.Fingerprint, Issuer: rec.Issuer, NotBefore: rec.NotBefore.UTC(), NotAfter: rec.NotAfter.UTC(), RenewAt: rec.RenewAt.UTC(),
		Challenge: rec.Challenge, ChallengeReason: rec.ChallengeReason}
	if rec.RenewAt.IsZero() {
		ci.RenewAt = time.Time{}
	}
	if ci.Subject == "" {
		if leaf, err := rec.Leaf(); err == nil {
			ci.Subject = leaf.Subject.String()
		}
	}
	return ci
}

// expiringAt is when cert_expiring is due for c.
func expiringAt(c CertInfo) time.Time {
	within := ExpiringWithin
	if life := c.NotAfter.Sub(c.NotBefore); life > 0 && life/6 < within {
		within = life / 6
	}
	return c.NotAfter.Add(-within)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// issueFindings turns an issuance failure into findings and the CA's
// Retry-After.
func (s *Service) issueFindings(name string, err error) Issue {
	var ie *issuance.Error
	if errors.As(err, &ie) && len(ie.Findings) > 0 {
		return Issue{Findings: ie.Findings, RetryAfter: ie.RetryAfter}
	}
	s.logger.Error("certificate issuance failed", "domain", name, "err", err)
	return Issue{Findings: []finding.Finding{{
		ID: FindingIssueFailed, Severity: finding.Error,
		Summary: "Hallmark could not obtain or store the certificate for " + name,
		Detail:  "An internal step failed (not the certificate authority, not DNS); the operator's log has the detail.",
		Fix:     "Nothing to change on your side; Hallmark retries with backoff. Operators: see the log for this domain.",
	}}}
}

// WildcardIssuer is implemented by a Certifier that can obtain wildcard
// certificates (the built-in CA; an ACME CA only through a DNS challenge).
type WildcardIssuer interface {
	IssuesWildcards() bool
}

// certify runs the CAA pre-check, chooses the challenge, and asks the
// Certifier for a new certificate for d; current is the record served
// now, if any. The challenge is dns-persist-01 when the CA is used that
// way and the check finds the persistent record in place (no traffic needs
// to reach the edge: a CNAME elsewhere, a CDN in front), the issuer's
// default (HTTP-01 or TLS-ALPN-01) otherwise; the certificate records
// which and why.
func (s *Service) certify(ctx context.Context, d Domain, current *issuance.Record) Issue {
	s.loadPersist(ctx)
	persist, usesPersist := s.persistRecord(d)
	if IsWildcard(d.Name) && !usesPersist {
		if w, ok := s.certs.Certifier.(WildcardIssuer); !ok || !w.IssuesWildcards() {
			return Issue{Findings: []finding.Finding{{
				ID: FindingWildcardUnsupported, Severity: finding.Error,
				Summary:  "The certificate authority cannot be asked for a wildcard certificate for " + d.Name + " here",
				Detail:   "A CA validates a wildcard name only through DNS (dns-01 or dns-persist-01); this server's ACME CA is driven with HTTP-01 and TLS-ALPN-01, which cannot prove a wildcard.",
				Fix:      "Create the exact names (login.acme.com) as domains of their own, upload a wildcard certificate with PUT /api/v1/domains/{id}/certificate, or run Hallmark with its built-in CA.",
				Evidence: map[string]any{"name": d.Name},
			}}}
		}
	}
	ids, err := s.certs.Certifier.CAAIdentities(ctx)
	if err != nil {
		return s.issueFindings(d.Name, err)
	}
	how := issuance.Method{Reason: "the CA validates over HTTP-01 or TLS-ALPN-01 through the CNAME"}
	if w, ok := s.certs.Certifier.(WildcardIssuer); ok && w.IssuesWildcards() && !usesPersist {
		how.Reason = "the built-in CA signs for a proven name without a challenge"
	}
	if len(ids) > 0 || usesPersist {
		// The CA may not check CAA itself (Pebble does not); a refusal
		// named here says which record would allow us. Any of the CA's
		// identities allowed is enough (RFC 8659).
		e := dnscheck.Expectation{Name: d.Name, CAAIdentities: ids}
		if usesPersist {
			e.Persist = &persist
		}
		rep := s.checker.Check(ctx, e)
		var caa []finding.Finding
		for _, f := range rep.Findings {
			if f.ID == finding.CAAForbidsIssuer && f.Severity == finding.Error {
				caa = append(caa, f)
			}
		}
		if len(caa) > 0 {
			return Issue{Findings: caa}
		}
		var is Issue
		if how, is = choose(d, persist, usesPersist, rep); is.Findings != nil {
			return is
		}
	}
	rec, err := s.certs.Certifier.Certify(ctx, d.Name, current, how)
	if err != nil {
		return s.issueFindings(d.Name, err)
	}
	return Issue{Rec: rec}
}

// currentRecord is the certificate record served for d now, if any.
func (s *Service) currentRecord(ctx context.Context, d Domain) (*issuance.Record, error) {
	if !d.Cert.Has() {
		return nil, nil
	}
	rec, err := s.store.Certificate(ctx, d.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &rec, nil
}

// obtain issues the first certificate of a VERIFIED managed domain. The
// lease held on d keeps every other worker and node from ordering for the
// same name meanwhile.
//
// A domain ready ahead of its CNAME whose certificate is due for renewal
// comes here too: the order names the current certificate as replaced.
func (s *Service) obtain(ctx context.Context, d Domain) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
	defer cancel()
	current, err := s.currentRecord(cctx, d)
	if err != nil {
		s.logger.Warn("reading the certificate of a domain ready ahead of its CNAME", "domain", d.Name, "err", err)
		return // the lease expires and the work is redone
	}
	is := s.certify(cctx, d, current)
	if ctx.Err() != nil {
		return // shutting down: the lease expires and the attempt is redone
	}
	s.finish(ctx, d, func(cur Domain, now time.Time) (Change, error) {
		return s.rules.Obtained(cur, is, now)
	})
}

// maintain looks after a COMPLETED domain: the CNAME watch, the renewal
// plan (ARI), the renewal itself and the expiry warning.
func (s *Service) maintain(ctx context.Context, d Domain) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
	defer cancel()
	now := s.now().UTC()
	plan := s.rules.PlanMaintenance(d, now)
	m := Maintenance{Of: d.Cert.Fingerprint, Watched: plan.Watch}
	if plan.CheckCNAME {
		e := dnscheck.Expectation{Name: d.Name, CNAMETarget: s.cfg.CNAMETarget}
		if rec, ok := s.persistRecord(d); ok {
			e.Persist = &rec
		}
		rep := s.checker.Check(cctx, e)
		if rep.Error == "" {
			m.Checked, m.Moves, m.PersistReady = true, moveFindings(rep.Findings), rep.PersistReady
		}
	}
	current, err := s.currentRecord(cctx, d)
	if err != nil {
		s.logger.Warn("reading the certificate of an active domain", "domain", d.Name, "err", err)
		return // the lease expires and the work is redone
	}
	if s.rules.managed(d) && plan.Watch && current != nil {
		if at, err := s.certs.Certifier.Replan(cctx, *current); err == nil {
			m.Current, m.RenewAt = *current, at
		}
	}
	if m.Attempted = s.rules.RenewNow(d, plan, m, now); m.Attempted {
		m.Issue = s.certify(cctx, d, current)
	}
	if ctx.Err() != nil {
		return
	}
	s.finish(ctx, d, func(cur Domain, now time.Time) (Change, error) {
		return s.rules.Maintained(cur, m, now)
	})
}

// finish commits the result of background work on the claimed domain d,
// only while d's lease still holds, and releases it. When the rules find
// nothing to store (the domain changed meanwhile) the lease is released
// alone.
func (s *Service) finish(ctx context.Context, d Domain, decide func(Domain, time.Time) (Change, error)) {
	s.primeEdge(ctx)
	_, _, err := s.change(ctx, System, d.ID, func(cur Domain, now time.Time) (Change, error) {
		if !cur.Lease.Held(d.Lease.Token, now) {
			return Change{}, ErrLeaseLost
		}
		c, err := decide(cur, now)
		if errors.Is(err, errNoChange) {
			c, err = Change{Domain: cur}, nil
		}
		c.Release = true
		return c, err
	})
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound):
	case errors.Is(err, ErrLeaseLost):
		s.logger.Info("background work dropped: its claim ran out or was taken over", "domain", d.Name)
	default:
		if ctx.Err() == nil {
			s.logger.Warn("recording background work", "domain", d.Name, "err", err)
		}
	}
}

// isMoveFinding reports whether f says the name no longer points here
// (as opposed to DNS failing to answer).
func isMoveFinding(f finding.Finding) bool {
	if f.Severity != finding.Error {
		return false
	}
	switch f.ID {
	case finding.DNSCNAMEWrongTarget, finding.DNSCNAMEConflict, finding.DNSApexCNAME:
		return true
	}
	return f.Evidence["type"] == "CNAME"
}

func moveFindings(fs []finding.Finding) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if isMoveFinding(f) {
			out = append(out, f)
		}
	}
	return out
}

func expiringFinding(d Domain) finding.Finding {
	f := finding.Finding{
		ID: FindingExpiring, Severity: finding.Warning,
		Summary:  fmt.Sprintf("The certificate of %s expires on %s", d.Name, d.Cert.NotAfter.Format(time.RFC3339)),
		Evidence: map[string]any{"name": d.Name, "fingerprint": d.Cert.Fingerprint, "notAfter": d.Cert.NotAfter.Format(time.RFC3339)},
	}
	if d.CertSource == Manual {
		f.Detail = "It was uploaded, so Hallmark does not renew it."
		f.Fix = "Upload a renewed certificate with PUT /api/v1/domains/{id}/certificate."
	} else {
		f.Detail = "It has not been renewed yet; the other findings say why."
		f.Fix = "Fix what the other findings name; Hallmark keeps retrying and replaces it as soon as a renewal succeeds."
	}
	return f
}

// Upload checks u and makes it the certificate of the domain: the domain
// becomes MANUAL (no more renewals) and COMPLETED, the certificate is
// replaced in the same commit and served from the next handshake. An
// order in flight for the name loses: its result is dropped. Refusals are
// ErrNotVerified and *issuance.UploadError.
func (s *Service) Upload(ctx context.Context, a Actor, id string, u issuance.Upload) (Domain, error) {
	d, err := s.Get(ctx, a, id)
	if err != nil {
		return Domain{}, err
	}
	if !d.Status.Proven() {
		return Domain{}, ErrNotVerified
	}
	if s.certs.Keeper == nil {
		return Domain{}, ErrUploadsUnavailable
	}
	checked, err := issuance.CheckUpload(d.Name, u, s.certs.Upload)
	if err != nil {
		return Domain{}, err
	}
	rec, err := s.certs.Keeper.SealUpload(d.Name, checked.Issued)
	if err != nil {
		return Domain{}, err
	}
	s.primeEdge(ctx)
	d, _, err = s.change(ctx, a, id, func(d Domain, now time.Time) (Change, error) {
		return s.rules.Uploaded(a, d, rec, checked.Warnings, now)
	})
	return d, err
}

// UploadCertificate is Upload with PEM fields, for the web console.
func (s *Service) UploadCertificate(ctx context.Context, a Actor, id, certPEM, chainPEM, keyPEM string) error {
	_, err := s.Upload(ctx, a, id, issuance.Upload{Certificate: certPEM, CertificateChain: chainPEM, PrivateKey: keyPEM, Type: "PEM"})
	return err
}

// Serving returns the domain that serves name and the certificate record
// the edge serves for it: the one domain that has proven the name (the
// store allows no second), else the proven wildcard one label up
// (a.acme.com: *.acme.com), so that an exact name wins over a wildcard;
// store.ErrNotFound when neither has, or has no certificate yet.
func (s *Service) Serving(ctx context.Context, name string) (Domain, issuance.Record, error) {
	for _, n := range []string{name, WildcardOf(name)} {
		if n == "" {
			continue
		}
		ds, err := s.store.DomainsByName(ctx, n)
		if err != nil {
			return Domain{}, issuance.Record{}, err
		}
		var exact *Domain
		for _, d := range ds {
			if !d.Status.Proven() {
				continue
			}
			if n != name && exact != nil && d.OrgID != exact.OrgID {
				// Another org proved the exact name: its name is not this
				// wildcard's to serve while its certificate is on the way.
				break
			}
			rec, err := s.store.Certificate(ctx, n)
			if errors.Is(err, store.ErrNotFound) {
				exact = &d
				break // proven, no certificate yet: the org's wildcard may serve it
			}
			if err != nil {
				return Domain{}, issuance.Record{}, fmt.Errorf("%s: certificate: %w", n, err)
			}
			return d, rec, nil
		}
	}
	return Domain{}, issuance.Record{}, fmt.Errorf("%s: no verified domain: %w", name, store.ErrNotFound)
}

// choose is the challenge of d's order, given the check of its
// persistent record: dns-persist-01 when it is in place; otherwise
// HTTP-01/TLS-ALPN-01, which need the CNAME to lead here, or, for a
// wildcard (which only DNS can prove), the record's findings as errors.
func choose(d Domain, p dnscheck.PersistRecord, usesPersist bool, rep dnscheck.Report) (issuance.Method, Issue) {
	if !usesPersist {
		return issuance.Method{Reason: "the CA is not used with dns-persist-01 here, so it validates over HTTP-01 or TLS-ALPN-01 through the CNAME"}, Issue{}
	}
	if rep.PersistReady {
		return issuance.Method{Challenge: issuance.DNSPersist01,
			Reason: "the persistent record " + p.Name + " is in place: the CA validates through DNS, whatever serves the name's traffic"}, Issue{}
	}
	var why []finding.Finding
	for _, f := range rep.Findings {
		if f.Evidence["name"] == p.Name || f.ID == finding.CAAForbidsAccount || f.ID == finding.CAAForbidsMethod {
			why = append(why, f)
		}
	}
	if IsWildcard(d.Name) {
		if len(why) == 0 {
			why = []finding.Finding{{ID: finding.DNSPersistMissing, Summary: "The persistent record " + p.Name + " could not be read",
				Fix: "Create the TXT record " + p.Name + " with the value " + p.Value() + ".", Evidence: map[string]any{"name": p.Name}}}
		}
		for i := range why {
			why[i].Severity = finding.Error
			why[i].Detail = strings.TrimSpace(why[i].Detail + " A wildcard certificate can be validated only through this record.")
		}
		return issuance.Method{}, Issue{Findings: why}
	}
	reason := "the persistent record " + p.Name + " is not in place"
	if len(why) > 0 {
		reason += " (" + why[0].ID + ": " + why[0].Summary + ")"
	}
	return issuance.Method{Reason: reason + ", so the CA validates over HTTP-01 or TLS-ALPN-01 through the CNAME"}, Issue{}
}
