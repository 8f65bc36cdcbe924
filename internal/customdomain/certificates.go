package customdomain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
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
)

// Certifier obtains and renews the certificates of managed domains;
// issuance.Keeper implements it.
type Certifier interface {
	// Certify returns a good certificate for name: one stored that differs
	// from have and is not yet due (adopted after a crash), or a new one,
	// stored before it returns (issued true). Failures are
	// *issuance.Error with findings.
	Certify(ctx context.Context, name, have string) (rec issuance.Record, issued bool, err error)
	// Replan asks the CA again when name's certificate should be renewed.
	Replan(ctx context.Context, name string) (issuance.Record, error)
	// CAAIdentities are the issuer domains the CA honours in CAA records;
	// none skips the CAA check (the built-in CA).
	CAAIdentities(ctx context.Context) ([]string, error)
}

// CertKeeper stores uploaded certificates and forgets those of deleted
// domains; issuance.Keeper implements it.
type CertKeeper interface {
	Install(ctx context.Context, name string, iss *issuance.Issued) (issuance.Record, error)
	Forget(ctx context.Context, name string) error
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
	Keeper    CertKeeper
	Edge      Edge
	// Upload tunes the checks of uploaded certificates (tests give their
	// own public roots).
	Upload issuance.CheckOptions
}

// ErrUploadsUnavailable: the service was started without a certificate
// store.
var ErrUploadsUnavailable = errors.New("certificate uploads are not available on this server")

// UseCertificates turns the certificate lifecycle on. Call it once, before
// Run and before serving requests.
func (s *Service) UseCertificates(c Certificates) { s.certs = c }

func (s *Service) invalidate(name string) {
	if s.certs.Edge != nil {
		s.certs.Edge.Invalidate(name)
	}
}

func certInfo(rec issuance.Record) CertInfo {
	ci := CertInfo{Fingerprint: rec.Fingerprint, Issuer: rec.Issuer, NotBefore: rec.NotBefore.UTC(), NotAfter: rec.NotAfter.UTC(), RenewAt: rec.RenewAt.UTC()}
	if rec.RenewAt.IsZero() {
		ci.RenewAt = time.Time{}
	}
	if leaf, err := rec.Leaf(); err == nil {
		ci.Subject = leaf.Subject.String()
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

// managed reports whether the scheduler obtains and renews d's certificate.
func (s *Service) managed(d Domain) bool {
	return d.CertSource == Managed && s.certs.Certifier != nil
}

// stopped reports whether renewals of d have stopped because its name
// moved away more than the grace period ago.
func (s *Service) stopped(d Domain, now time.Time) bool {
	return !d.MovedSince.IsZero() && now.After(d.MovedSince.Add(s.cfg.MovedGrace))
}

// nextMaintenance is when an active (COMPLETED) domain needs the scheduler
// again: its next watch, its renewal (or retry), its expiry warning.
func (s *Service) nextMaintenance(d Domain, now time.Time) time.Time {
	base := d.LastChecked
	if base.IsZero() {
		base = now
	}
	next := base.Add(s.cfg.WatchInterval)
	if s.managed(d) && !d.Cert.RenewAt.IsZero() && !s.stopped(d, now) {
		next = minTime(next, maxTime(d.Cert.RenewAt, d.IssueRetryAt))
	}
	if d.Cert.Has() && d.ExpiryWarnedAt.IsZero() {
		next = minTime(next, expiringAt(d.Cert))
	}
	if s.managed(d) && !d.MovedSince.IsZero() && !s.stopped(d, now) {
		next = minTime(next, d.MovedSince.Add(s.cfg.MovedGrace).Add(time.Second))
	}
	return maxTime(next, now.Add(time.Second)) // never a hot loop
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
func (s *Service) issueFindings(name string, err error) ([]finding.Finding, time.Duration) {
	var ie *issuance.Error
	if errors.As(err, &ie) && len(ie.Findings) > 0 {
		return ie.Findings, ie.RetryAfter
	}
	s.logger.Error("certificate issuance failed", "domain", name, "err", err)
	return []finding.Finding{{
		ID: FindingIssueFailed, Severity: finding.Error,
		Summary: "Hallmark could not obtain or store the certificate for " + name,
		Detail:  "An internal step failed (not the certificate authority, not DNS); the operator's log has the detail.",
		Fix:     "Nothing to change on your side; Hallmark retries with backoff. Operators: see the log for this domain.",
	}}, 0
}

// errUploaded: the Certifier stored nothing because an uploaded
// certificate is stored for the name, or landed while the order was in
// flight (issuance.ErrSuperseded). The upload wins: the attempt records
// nothing and tells the edge nothing.
var errUploaded = errors.New("an uploaded certificate won over the order")

// certify runs the CAA pre-check and asks the Certifier. findings is nil
// on success; err is errUploaded when an upload won.
func (s *Service) certify(ctx context.Context, d Domain) (issuance.Record, bool, []finding.Finding, time.Duration, error) {
	ids, err := s.certs.Certifier.CAAIdentities(ctx)
	if err != nil {
		fs, ra := s.issueFindings(d.Name, err)
		return issuance.Record{}, false, fs, ra, nil
	}
	if len(ids) > 0 {
		// The CA may not check CAA itself (Pebble does not); a refusal
		// named here says which record would allow us. Any of the CA's
		// identities allowed is enough (RFC 8659).
		rep := s.checker.Check(ctx, dnscheck.Expectation{Name: d.Name, CAAIdentities: ids})
		var caa []finding.Finding
		for _, f := range rep.Findings {
			if f.ID == finding.CAAForbidsIssuer && f.Severity == finding.Error {
				caa = append(caa, f)
			}
		}
		if len(caa) > 0 {
			return issuance.Record{}, false, caa, 0, nil
		}
	}
	rec, issued, err := s.certs.Certifier.Certify(ctx, d.Name, d.Cert.Fingerprint)
	if errors.Is(err, issuance.ErrSuperseded) {
		s.logger.Info("an uploaded certificate won over the order", "domain", d.Name)
		return issuance.Record{}, false, nil, 0, errUploaded
	}
	if err != nil {
		fs, ra := s.issueFindings(d.Name, err)
		return issuance.Record{}, false, fs, ra, nil
	}
	return rec, issued, nil, 0, nil
}

// errSkip abandons an update whose domain changed meanwhile.
var errSkip = errors.New("domain changed meanwhile")

// obtain issues the first certificate of a VERIFIED managed domain.
func (s *Service) obtain(ctx context.Context, d Domain) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
	defer cancel()
	rec, issued, fs, retryAfter, err := s.certify(cctx, d)
	if ctx.Err() != nil || err != nil {
		// Shutting down: the lease expires and the attempt is redone. Or
		// an upload won: it recorded the domain and told the edge.
		return
	}
	if fs == nil {
		s.invalidate(d.Name) // served from now on, before it is COMPLETED
	}
	var attempt int
	var retryAt time.Time
	d2, err := s.update(ctx, System, d.ID, func(x *Domain) error {
		if x.Status != Verified || x.CertSource != Managed {
			return errSkip // uploaded or changed meanwhile
		}
		now := s.now().UTC()
		if fs != nil {
			x.IssueAttempts++
			attempt = x.IssueAttempts
			retryAt = now.Add(issuance.Backoff(x.IssueAttempts, retryAfter, nil))
			x.IssueRetryAt, x.NextCheck = retryAt, retryAt
			x.Diagnosis = fs
			return nil
		}
		x.Status = Completed
		x.Cert = certInfo(rec)
		x.IssueAttempts, x.IssueRetryAt, x.ExpiryWarnedAt = 0, time.Time{}, time.Time{}
		x.Diagnosis = nil
		x.LastChecked = now
		x.NextCheck = s.nextMaintenance(*x, now)
		return nil
	})
	switch {
	case errors.Is(err, errSkip):
		return
	case err != nil:
		s.logger.Warn("recording certificate issuance", "domain", d.Name, "err", err)
		return
	}
	if fs != nil {
		s.event(ctx, System, d2, systemlog.DomainCertProvision, "FAILURE", firstError(fs), "Custom domain certificate could not be provisioned",
			map[string]any{"findings": fs, "attempt": attempt, "retryAt": retryAt.Format(time.RFC3339)})
		return
	}
	msg := "Custom domain certificate provisioned"
	if !issued {
		msg = "Custom domain certificate provisioned (stored by an interrupted attempt)"
	}
	s.event(ctx, System, d2, systemlog.DomainCertProvision, "SUCCESS", "", msg, certDebug(d2.Cert))
}

func certDebug(c CertInfo) map[string]any {
	m := map[string]any{"fingerprint": c.Fingerprint, "subject": c.Subject, "issuer": c.Issuer,
		"notAfter": c.NotAfter.Format(time.RFC3339)}
	if !c.RenewAt.IsZero() {
		m["renewAt"] = c.RenewAt.Format(time.RFC3339)
	}
	return m
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

func (s *Service) movedFinding(d Domain, now time.Time) finding.Finding {
	stop := d.MovedSince.Add(s.cfg.MovedGrace)
	f := finding.Finding{
		ID: FindingMoved, Severity: finding.Warning,
		Summary: fmt.Sprintf("%s no longer points to %s", d.Name, s.cfg.CNAMETarget),
		Detail: fmt.Sprintf("Since %s the CNAME of %s does not lead here (the findings below say what DNS answers). The certificate in hand is served until it expires on %s.",
			d.MovedSince.Format(time.RFC3339), d.Name, d.Cert.NotAfter.Format(time.RFC3339)),
		Fix:      fmt.Sprintf("If %s should still be served by Hallmark, restore the record %s. CNAME %s. If it moved on purpose, delete this domain.", d.Name, d.Name, s.cfg.CNAMETarget),
		Evidence: map[string]any{"name": d.Name, "movedSince": d.MovedSince.Format(time.RFC3339), "renewalsStopAt": stop.Format(time.RFC3339)},
	}
	if d.CertSource == Managed {
		if s.stopped(d, now) {
			f.Severity = finding.Error
			f.ID = FindingRenewStopped
			f.Summary = fmt.Sprintf("%s moved away more than %s ago: its certificate is no longer renewed", d.Name, s.cfg.MovedGrace)
		} else {
			f.Detail += fmt.Sprintf(" Renewals stop on %s unless the name points here again.", stop.Format(time.RFC3339))
		}
	}
	return f
}

// movedEvent records the moved/recovered transition.
func (s *Service) movedEvent(ctx context.Context, a Actor, d Domain, was time.Time, fs []finding.Finding) {
	switch {
	case was.IsZero() && !d.MovedSince.IsZero():
		s.event(ctx, a, d, systemlog.DomainMoved, "FAILURE", firstError(fs),
			fmt.Sprintf("Custom domain no longer points to %s", s.cfg.CNAMETarget),
			map[string]any{"findings": fs, "movedSince": d.MovedSince.Format(time.RFC3339),
				"renewalsStopAt": d.MovedSince.Add(s.cfg.MovedGrace).Format(time.RFC3339)})
	case !was.IsZero() && d.MovedSince.IsZero():
		s.event(ctx, a, d, systemlog.DomainMoved, "SUCCESS", "",
			fmt.Sprintf("Custom domain points to %s again", s.cfg.CNAMETarget),
			map[string]any{"movedSince": was.Format(time.RFC3339)})
	}
}

// maintain looks after a COMPLETED domain: the CNAME watch, the renewal
// plan (ARI), the renewal itself and the expiry warning.
func (s *Service) maintain(ctx context.Context, d Domain) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
	defer cancel()
	now := s.now().UTC()
	watchDue := d.LastChecked.IsZero() || !now.Before(d.LastChecked.Add(s.cfg.WatchInterval))
	managed := s.managed(d)
	renewDue := managed && (!d.Cert.Has() || !d.Cert.RenewAt.IsZero() && !now.Before(d.Cert.RenewAt)) && !now.Before(d.IssueRetryAt)

	// The CNAME, on the slow schedule and before each renewal.
	checked := false
	var dnsFs []finding.Finding
	if s.cfg.CNAMETarget != "" && (watchDue || renewDue) {
		rep := s.checker.Check(cctx, dnscheck.Expectation{Name: d.Name, CNAMETarget: s.cfg.CNAMETarget})
		if rep.Error == "" {
			checked = true
			dnsFs = moveFindings(rep.Findings)
		}
	}
	movedSince := d.MovedSince
	if checked {
		switch {
		case len(dnsFs) > 0 && movedSince.IsZero():
			movedSince = now
		case len(dnsFs) == 0:
			movedSince = time.Time{}
		}
	}

	var replanned issuance.Record
	if managed && watchDue && d.Cert.Has() {
		if rec, err := s.certs.Certifier.Replan(cctx, d.Name); err == nil {
			replanned = rec
			if rec.Fingerprint != d.Cert.Fingerprint {
				renewDue = true // another certificate is stored: adopt it
			} else if !rec.RenewAt.IsZero() && !now.Before(rec.RenewAt) && !now.Before(d.IssueRetryAt) {
				renewDue = true // the CA moved the window to now
			}
		}
	}

	probe := d
	probe.MovedSince = movedSince
	attempted := renewDue && !s.stopped(probe, now)
	var rec issuance.Record
	var issueFs []finding.Finding
	var retryAfter time.Duration
	if attempted {
		var err error
		if rec, _, issueFs, retryAfter, err = s.certify(cctx, d); err != nil {
			return // an upload won: it recorded the domain and told the edge
		}
	}
	if ctx.Err() != nil {
		return
	}
	renewed := attempted && issueFs == nil && rec.Fingerprint != d.Cert.Fingerprint
	if renewed {
		s.invalidate(d.Name)
	}

	var warn bool
	var attempt int
	d2, err := s.update(ctx, System, d.ID, func(x *Domain) error {
		if x.Status != Completed || x.CertSource != d.CertSource || x.Cert.Fingerprint != d.Cert.Fingerprint {
			return errSkip // uploaded, renewed or changed meanwhile
		}
		warn, attempt = false, 0
		if watchDue {
			x.LastChecked = now
		}
		x.MovedSince = movedSince
		if replanned.Fingerprint != "" && replanned.Fingerprint == x.Cert.Fingerprint {
			x.Cert.RenewAt = replanned.RenewAt.UTC()
		}
		switch {
		case renewed || attempted && issueFs == nil:
			x.Cert = certInfo(rec)
			x.IssueAttempts, x.IssueRetryAt, x.ExpiryWarnedAt = 0, time.Time{}, time.Time{}
		case attempted:
			x.IssueAttempts++
			attempt = x.IssueAttempts
			x.IssueRetryAt = now.Add(issuance.Backoff(x.IssueAttempts, retryAfter, nil))
		}
		if x.Cert.Has() && x.ExpiryWarnedAt.IsZero() && !now.Before(expiringAt(x.Cert)) {
			x.ExpiryWarnedAt = now
			warn = true
		}

		var diag []finding.Finding
		if !x.MovedSince.IsZero() {
			diag = append(diag, s.movedFinding(*x, now))
			if checked {
				diag = append(diag, dnsFs...)
			} else {
				diag = append(diag, slices.DeleteFunc(slices.Clone(x.Diagnosis), func(f finding.Finding) bool { return !strings.HasPrefix(f.ID, "dns.") })...)
			}
		}
		switch {
		case attempted && issueFs != nil:
			diag = append(diag, issueFs...)
		case !attempted && x.IssueAttempts > 0:
			for _, f := range x.Diagnosis {
				if f.ID != FindingMoved && f.ID != FindingRenewStopped && f.ID != FindingExpiring && !strings.HasPrefix(f.ID, "dns.") {
					diag = append(diag, f)
				}
			}
		}
		if !x.ExpiryWarnedAt.IsZero() {
			diag = append(diag, expiringFinding(*x))
		}
		x.Diagnosis = diag
		x.NextCheck = s.nextMaintenance(*x, now)
		return nil
	})
	switch {
	case errors.Is(err, errSkip):
		return
	case err != nil:
		s.logger.Warn("recording domain maintenance", "domain", d.Name, "err", err)
		return
	}
	s.movedEvent(ctx, System, d2, d.MovedSince, dnsFs)
	switch {
	case attempted && issueFs == nil:
		debug := certDebug(d2.Cert)
		debug["replaced"] = d.Cert.Fingerprint
		s.event(ctx, System, d2, systemlog.DomainCertRenew, "SUCCESS", "", "Custom domain certificate renewed", debug)
	case attempted:
		s.event(ctx, System, d2, systemlog.DomainCertRenew, "FAILURE", firstError(issueFs), "Custom domain certificate could not be renewed",
			map[string]any{"findings": issueFs, "attempt": attempt, "retryAt": d2.IssueRetryAt.Format(time.RFC3339)})
	}
	if warn {
		f := expiringFinding(d2)
		s.event(ctx, System, d2, systemlog.DomainCertExpiring, "FAILURE", f.Summary, "Custom domain certificate expires soon",
			map[string]any{"findings": []finding.Finding{f}, "notAfter": d2.Cert.NotAfter.Format(time.RFC3339)})
	}
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

// park clears the schedule of a domain that needs no background work.
func (s *Service) park(ctx context.Context, d Domain) {
	_, err := s.update(ctx, System, d.ID, func(x *Domain) error {
		if x.Status != d.Status {
			return errSkip
		}
		x.NextCheck = time.Time{}
		return nil
	})
	if err != nil && !errors.Is(err, errSkip) {
		s.logger.Warn("parking domain", "domain", d.Name, "err", err)
	}
}

// Upload checks u and makes it the certificate of the domain: the domain
// becomes MANUAL (no more renewals) and COMPLETED, the certificate is
// replaced in one write and served from the next handshake. Refusals are
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
	opts := s.certs.Upload
	checked, err := issuance.CheckUpload(d.Name, u, opts)
	if err != nil {
		return Domain{}, err
	}
	rec, err := s.certs.Keeper.Install(ctx, d.Name, checked.Issued)
	if err != nil {
		return Domain{}, err
	}
	s.invalidate(d.Name)
	from := d.CertSource
	d, err = s.update(ctx, a, id, func(x *Domain) error {
		now := s.now().UTC()
		x.CertSource, x.Status = Manual, Completed
		x.Cert = certInfo(rec)
		x.IssueAttempts, x.IssueRetryAt, x.ExpiryWarnedAt = 0, time.Time{}, time.Time{}
		x.Diagnosis = checked.Warnings
		x.LastChecked = now
		x.NextCheck = s.nextMaintenance(*x, now)
		return nil
	})
	if err != nil {
		return Domain{}, err
	}
	debug := certDebug(d.Cert)
	debug["certificateSourceTypeFrom"] = string(from)
	if len(checked.Warnings) > 0 {
		debug["findings"] = checked.Warnings
	}
	s.event(ctx, a, d, systemlog.DomainCertUpload, "SUCCESS", "", "Custom domain certificate uploaded", debug)
	return d, nil
}

// UploadCertificate is Upload with PEM fields, for the web console.
func (s *Service) UploadCertificate(ctx context.Context, a Actor, id, certPEM, chainPEM, keyPEM string) error {
	_, err := s.Upload(ctx, a, id, issuance.Upload{Certificate: certPEM, CertificateChain: chainPEM, PrivateKey: keyPEM, Type: "PEM"})
	return err
}
