package customdomain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// Config configures the lifecycle. Zero values mean defaults.
type Config struct {
	// CNAMETarget is the name tenants point their CNAME at; empty skips
	// the CNAME record and its check.
	CNAMETarget string
	// VerificationPrefix is the label of the ownership TXT record
	// (default _hallmark-challenge).
	VerificationPrefix string
	// VerifyWindow is how long a pending domain is re-checked before it
	// becomes FAILED_TO_VERIFY (default 168h).
	VerifyWindow time.Duration
	// CAAIdentity is the issuer domain of the configured CA; when set a
	// CAA record is published and checked.
	CAAIdentity string
	// DomainLimit caps the domains of one org (default 200; negative
	// means no limit). The operator is not limited.
	DomainLimit int
	// Workers bounds concurrent background checks (default 8).
	Workers int
	// BackoffFirst and BackoffMax shape the re-check schedule (defaults
	// BackoffFirst and BackoffMax: 1m and 1h).
	BackoffFirst, BackoffMax time.Duration
	// PollInterval is how often the scheduler looks for due checks
	// (default 1s).
	PollInterval time.Duration
	// WatchInterval is how often an active domain's CNAME is re-checked
	// and its CA asked for the renewal window (default WatchInterval, 6h).
	WatchInterval time.Duration
	// MovedGrace is how long renewals go on after the name stopped
	// pointing here (default MovedGrace, 7 days).
	MovedGrace time.Duration
	// Lease is how long a claimed domain stays claimed while it is worked
	// on; a node that dies mid-work leaves it to be claimed again after
	// it. One attempt (a DNS check, an issuance) is bounded by half of it
	// (default 2m).
	Lease time.Duration
	// Brands creates each new domain's brand and checks the brand a domain
	// moves to; nil leaves brand ids unchecked.
	Brands Brands
}

// Checker runs the DNS checks of a domain.
type Checker interface {
	Check(ctx context.Context, e dnscheck.Expectation) dnscheck.Report
}

// EventLog records system log events.
type EventLog interface {
	Append(ctx context.Context, e systemlog.Event) (systemlog.Event, error)
}

// Actor is who asks (see tenant.Actor).
type Actor = tenant.Actor

// System is the actor of background work.
var System = Actor{Operator: true, ID: "hallmark", Name: "Hallmark scheduler"}

// Service runs the lifecycle of custom domains.
type Service struct {
	cfg     Config
	store   Store
	checker Checker
	log     EventLog
	logger  *slog.Logger
	now     func() time.Time
	wake    chan struct{}
	certs   Certificates
}

// New validates cfg and returns a Service.
func New(cfg Config, st Store, checker Checker, log EventLog, logger *slog.Logger) (*Service, error) {
	if cfg.VerificationPrefix == "" {
		cfg.VerificationPrefix = "_hallmark-challenge"
	}
	if strings.Contains(cfg.VerificationPrefix, ".") || !validLabel(cfg.VerificationPrefix) {
		return nil, fmt.Errorf("verification prefix %q: must be one DNS label (letters, digits, '-' and '_')", cfg.VerificationPrefix)
	}
	if cfg.VerifyWindow == 0 {
		cfg.VerifyWindow = 168 * time.Hour
	}
	if cfg.VerifyWindow < 0 {
		return nil, fmt.Errorf("verify window %s: must be positive", cfg.VerifyWindow)
	}
	if cfg.CNAMETarget != "" {
		t, err := NormalizeName(cfg.CNAMETarget)
		if err != nil {
			return nil, fmt.Errorf("cname target: %w", err)
		}
		cfg.CNAMETarget = t
	}
	if cfg.DomainLimit == 0 {
		cfg.DomainLimit = 200
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.BackoffFirst <= 0 {
		cfg.BackoffFirst = BackoffFirst
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = BackoffMax
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = WatchInterval
	}
	if cfg.MovedGrace <= 0 {
		cfg.MovedGrace = MovedGrace
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	return &Service{cfg: cfg, store: st, checker: checker, log: log, logger: logger,
		now: time.Now, wake: make(chan struct{}, 1)}, nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	for _, r := range l {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Config returns the validated configuration.
func (s *Service) Config() Config { return s.cfg }

// Create registers name for the actor's org and returns the domain with the
// records to publish.
func (s *Service) Create(ctx context.Context, a Actor, name string, src CertSource) (Domain, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return Domain{}, err
	}
	switch src {
	case Manual, Managed:
	default:
		return Domain{}, &InvalidError{"certificateSourceType", fmt.Sprintf("%q is not one of MANUAL, OKTA_MANAGED", src)}
	}
	others, err := s.store.DomainsByName(ctx, n)
	if err != nil {
		return Domain{}, fmt.Errorf("%s: looking up existing domains: %w", n, err)
	}
	for _, o := range others {
		if o.OrgID == a.OrgID {
			return Domain{}, ErrDuplicate
		}
		if o.Status.Proven() {
			return Domain{}, ErrInUse
		}
	}
	if s.cfg.DomainLimit > 0 && !a.Operator {
		c, err := s.store.CountDomains(ctx, a.OrgID)
		if err != nil {
			return Domain{}, fmt.Errorf("counting domains: %w", err)
		}
		if c >= s.cfg.DomainLimit {
			return Domain{}, ErrLimit
		}
	}
	brandID, err := s.newBrand(ctx, a.OrgID, n)
	if err != nil {
		return Domain{}, err
	}
	now := s.now().UTC()
	d := Domain{
		ID:          oktaid.New("dom"),
		OrgID:       a.OrgID,
		Name:        n,
		CertSource:  src,
		Status:      NotStarted,
		Token:       randomHex(16),
		BrandID:     brandID,
		Created:     now,
		Updated:     now,
		WindowStart: now,
		NextCheck:   now.Add(s.backoff(0)),
	}
	if err := s.store.CreateDomain(ctx, d); err != nil {
		s.discardBrand(ctx, n, brandID)
		if errors.Is(err, store.ErrConflict) {
			return Domain{}, ErrDuplicate
		}
		return Domain{}, fmt.Errorf("%s: storing domain: %w", n, err)
	}
	d.Version = 1
	s.event(ctx, a, d, systemlog.DomainInitiate, "SUCCESS", "", "Custom domain setup initiated", nil)
	return d, nil
}

// Get returns a domain the actor may see.
func (s *Service) Get(ctx context.Context, a Actor, id string) (Domain, error) {
	d, err := s.store.GetDomain(ctx, id)
	if err != nil {
		return Domain{}, err
	}
	if !a.Operator && d.OrgID != a.OrgID {
		// Another org's domain does not exist for this actor.
		return Domain{}, ErrNotFound
	}
	return d, nil
}

// List returns a page of the actor's domains (every org's for the
// operator), ordered by id, after the id after.
func (s *Service) List(ctx context.Context, a Actor, after string, limit int) ([]Domain, error) {
	org := a.OrgID
	if a.Operator {
		org = ""
	}
	return s.store.ListDomains(ctx, org, after, limit)
}

// Delete removes a domain.
func (s *Service) Delete(ctx context.Context, a Actor, id string) error {
	d, err := s.Get(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteDomain(ctx, id); err != nil {
		return err
	}
	if d.Status.Proven() && s.certs.Keeper != nil {
		// Only the proven domain of a name owns its certificate.
		if err := s.certs.Keeper.Forget(ctx, d.Name); err != nil {
			s.logger.Warn("deleting the certificate of a deleted domain", "domain", d.Name, "err", err)
		}
		s.invalidate(d.Name)
	}
	s.event(ctx, a, d, systemlog.DomainDelete, "SUCCESS", "", "Custom domain deleted", nil)
	return nil
}

// SetBrand associates the domain with a brand.
func (s *Service) SetBrand(ctx context.Context, a Actor, id, brandID string) (Domain, error) {
	brandID = strings.TrimSpace(brandID)
	if brandID == "" || len(brandID) > 64 || !validLabel(brandID) {
		return Domain{}, &InvalidError{"brandId", "must be 1 to 64 letters, digits, '-' or '_'"}
	}
	var from string
	d, err := s.update(ctx, a, id, func(d *Domain) error {
		if err := s.checkBrand(ctx, *d, brandID); err != nil {
			return err
		}
		from = d.BrandID
		d.BrandID = brandID
		return nil
	})
	if err != nil {
		return Domain{}, err
	}
	if d.Status.Proven() {
		s.invalidate(d.Name) // the edge's page shows the brand's name
	}
	s.event(ctx, a, d, systemlog.DomainUpdate, "SUCCESS", "", "Custom domain brand changed",
		map[string]any{"brandIdFrom": from, "brandIdTo": brandID})
	return d, nil
}

// update applies fn to the stored domain with optimistic concurrency,
// retrying when another writer got there first.
func (s *Service) update(ctx context.Context, a Actor, id string, fn func(*Domain) error) (Domain, error) {
	for range 5 {
		d, err := s.Get(ctx, a, id)
		if err != nil {
			return Domain{}, err
		}
		if err := fn(&d); err != nil {
			return Domain{}, err
		}
		d.Updated = s.now().UTC()
		v, err := s.store.UpdateDomain(ctx, d)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return Domain{}, fmt.Errorf("%s: storing domain: %w", d.Name, err)
		}
		d.Version = v
		return d, nil
	}
	return Domain{}, fmt.Errorf("domain %s: too many concurrent changes, try again", id)
}

// Verify checks the domain's records now, records the result, and resets
// the background backoff. A domain that failed its window gets a new one.
// The returned domain carries the findings in Diagnosis.
func (s *Service) Verify(ctx context.Context, a Actor, id string) (Domain, dnscheck.Report, error) {
	d, err := s.Get(ctx, a, id)
	if err != nil {
		return Domain{}, dnscheck.Report{}, err
	}
	rep := s.checker.Check(ctx, s.Expectation(d))
	d, err = s.apply(ctx, a, d.ID, rep, true)
	return d, rep, err
}

// apply records a check's result and moves the domain to its next status.
// manual is true for a verify call: it resets the backoff and reopens a
// closed window.
func (s *Service) apply(ctx context.Context, a Actor, id string, rep dnscheck.Report, manual bool) (Domain, error) {
	var event, outcome, reason, msg string
	var movedWas time.Time
	var wake bool
	findings := rep.Findings
	d, err := s.update(ctx, a, id, func(d *Domain) error {
		event, outcome, reason, msg = "", "", "", ""
		movedWas, wake = d.MovedSince, false
		now := s.now().UTC()
		d.LastChecked = now
		fs := findings
		if rep.OK() {
			if taken, err := s.provenElsewhere(ctx, *d); err != nil {
				return err
			} else if taken {
				fs = append(fs, inUseFinding(d.Name))
			}
		}
		d.Diagnosis = fs
		if d.Status.Proven() {
			// Already proven: keep the status; the diagnosis shows how the
			// records look now.
			if manual {
				event, outcome, msg = systemlog.DomainVerify, "SUCCESS", "Custom domain ownership already verified"
				if finding.HasError(fs) {
					outcome, reason = "FAILURE", firstError(fs)
					msg = "Custom domain records no longer verify"
				}
				s.verifyProven(d, fs, now)
				wake = !d.NextCheck.IsZero()
			}
			return nil
		}
		if !finding.HasError(fs) {
			d.Status = Verified
			d.VerifiedAt = now
			d.NextCheck = time.Time{}
			if s.managed(*d) {
				// Issue at once: the scheduler is woken below.
				d.NextCheck, d.IssueRetryAt, wake = now, time.Time{}, true
			}
			d.Attempts = 0
			event, outcome, msg = systemlog.DomainVerify, "SUCCESS", "Custom domain ownership verified"
			return nil
		}
		if manual {
			if d.Status == FailedToVerify {
				d.WindowStart = now
			}
			d.Attempts = 0
			d.Status = InProgress
			d.NextCheck = now.Add(s.backoff(0))
			event, outcome, reason, msg = systemlog.DomainVerify, "FAILURE", firstError(fs), "Custom domain verification failed"
			return nil
		}
		d.Attempts++
		if !now.Before(d.WindowStart.Add(s.cfg.VerifyWindow)) {
			d.Status = FailedToVerify
			d.NextCheck = time.Time{}
			event, outcome, reason, msg = systemlog.DomainVerify, "FAILURE", "DNS verification timeout",
				fmt.Sprintf("Custom domain verification timed out after %s", s.cfg.VerifyWindow)
			return nil
		}
		d.Status = InProgress
		next := now.Add(s.backoff(d.Attempts))
		if end := d.WindowStart.Add(s.cfg.VerifyWindow); next.After(end) {
			next = end // one last check when the window closes
		}
		d.NextCheck = next
		return nil
	})
	if err != nil {
		return Domain{}, err
	}
	if event != "" {
		s.event(ctx, a, d, event, outcome, reason, msg, map[string]any{"findings": d.Diagnosis, "manual": manual})
	}
	s.movedEvent(ctx, a, d, movedWas, moveFindings(findings))
	if wake {
		s.Wake()
	}
	return d, nil
}

// verifyProven is a verify call on a proven domain: an active domain's
// moved state follows its CNAME as the check saw it, and the scheduler is
// asked to act now (issue, or retry a failed renewal) instead of waiting
// out the backoff, except after a rate limit.
func (s *Service) verifyProven(d *Domain, fs []finding.Finding, now time.Time) {
	if d.Status == Completed && s.cfg.CNAMETarget != "" {
		switch moved := moveFindings(fs); {
		case len(moved) > 0 && d.MovedSince.IsZero():
			d.MovedSince = now
		case len(moved) == 0:
			d.MovedSince = time.Time{}
		}
		if !d.MovedSince.IsZero() {
			d.Diagnosis = append([]finding.Finding{s.movedFinding(*d, now)}, fs...)
		}
	}
	if !s.managed(*d) && d.Status != Completed {
		return
	}
	if slices.Contains(finding.IDs(d.Diagnosis), finding.ACMERateLimited) {
		return
	}
	d.IssueRetryAt = time.Time{}
	d.NextCheck = now
}

// provenElsewhere reports whether another org has proven d's name.
func (s *Service) provenElsewhere(ctx context.Context, d Domain) (bool, error) {
	others, err := s.store.DomainsByName(ctx, d.Name)
	if err != nil {
		return false, fmt.Errorf("%s: looking up other orgs' domains: %w", d.Name, err)
	}
	for _, o := range others {
		if o.ID != d.ID && o.Status.Proven() {
			return true, nil
		}
	}
	return false, nil
}

func inUseFinding(name string) finding.Finding {
	return finding.Finding{
		ID:       "domain.in_use",
		Severity: finding.Error,
		Summary:  name + " is already verified by another organization",
		Detail:   "The records are correct, but another organization proved ownership of this name first; a name serves one organization.",
		Fix:      "Ask the operator to delete the other organization's domain, or use another name.",
		Evidence: map[string]any{"name": name},
	}
}

func firstError(fs []finding.Finding) string {
	for _, f := range fs {
		if f.Severity == finding.Error {
			return f.ID + ": " + f.Summary
		}
	}
	return ""
}

// AssignToOrg moves the proven domain name to a new org (org creation with
// a customDomain). Only a domain proven by the operator, or already the
// org's, can be assigned.
func (s *Service) AssignToOrg(ctx context.Context, name, orgID string, check bool) error {
	n, err := NormalizeName(name)
	if err != nil {
		return &InvalidError{"customDomain", err.Error()}
	}
	ds, err := s.store.DomainsByName(ctx, n)
	if err != nil {
		return fmt.Errorf("%s: looking up domain: %w", n, err)
	}
	for _, d := range ds {
		if !d.Status.Proven() {
			continue
		}
		if d.OrgID != "" && d.OrgID != orgID {
			return ErrInUse
		}
		if check {
			return nil
		}
		// The domain gets a brand of its new org; the old one stays with
		// the operator.
		brandID := d.BrandID
		if d.OrgID != orgID && s.cfg.Brands != nil {
			if brandID, err = s.newBrand(ctx, orgID, d.Name); err != nil {
				return err
			}
		}
		_, err := s.update(ctx, System, d.ID, func(d *Domain) error {
			if d.OrgID != "" && d.OrgID != orgID {
				return ErrInUse
			}
			d.OrgID, d.BrandID = orgID, brandID
			return nil
		})
		if err != nil && brandID != d.BrandID {
			s.discardBrand(ctx, d.Name, brandID)
		}
		return err
	}
	return ErrNotVerified
}

func (s *Service) event(ctx context.Context, a Actor, d Domain, typ, result, reason, msg string, debug map[string]any) {
	sev := "INFO"
	if result == "FAILURE" {
		sev = "WARN"
	}
	actor := systemlog.Actor{ID: a.ID, Type: "PublicClientApp", DisplayName: a.Name}
	if a == System {
		actor.Type = "SystemPrincipal"
	}
	e := systemlog.Event{
		EventType:      typ,
		Severity:       sev,
		DisplayMessage: msg,
		Actor:          actor,
		Target: []systemlog.Target{{
			ID: d.ID, Type: "CustomDomain", AlternateID: d.Name, DisplayName: d.Name,
			DetailEntry: map[string]any{
				"custom_domain_name":                    d.Name,
				"custom_domain_status":                  strings.ToLower(string(d.Status)),
				"custom_domain_certificate_source_type": string(d.CertSource),
				"custom_domain_brand_id":                d.BrandID,
			},
		}},
		Outcome:      systemlog.Outcome{Result: result, Reason: truncate(reason, 255)},
		DebugContext: systemlog.DebugContext{DebugData: debug},
		OrgID:        d.OrgID,
	}
	if _, err := s.log.Append(ctx, e); err != nil {
		// The change itself is stored; losing its log line must not undo it.
		s.logger.Error("system log append failed", "eventType", typ, "domain", d.Name, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
