package customdomain

import (
	"context"
	rand2 "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
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
	// Owner names this node in the leases it takes (default host/pid/random).
	Owner string
	// Brands creates each new domain's brand and checks the brand a domain
	// moves to; nil leaves brand ids unchecked.
	Brands Brands
}

// Checker runs the DNS checks of a domain.
type Checker interface {
	Check(ctx context.Context, e dnscheck.Expectation) dnscheck.Report
}

// EventLog is told when events were committed with a change, so that its
// followers (a long poll, `hallmark logs --follow`) look again.
type EventLog interface {
	Notify()
}

// Actor is who asks (see tenant.Actor).
type Actor = tenant.Actor

// System is the actor of background work.
var System = Actor{Operator: true, ID: "hallmark", Name: "Hallmark scheduler"}

// Service runs the lifecycle of custom domains: it gathers what the rules
// need (DNS checks, issuance), asks the Rules for the change, and has the
// store commit it whole.
type Service struct {
	cfg     Config
	rules   Rules
	store   Store
	checker Checker
	log     EventLog
	logger  *slog.Logger
	now     func() time.Time
	wake    chan struct{}
	certs   Certificates
	owner   string // this node's name in the leases it takes

	// persistID is the identity the persistent record names, once known
	// (loadPersist); persistTried when it was last asked (UnixNano).
	persistID    atomic.Pointer[issuance.PersistIdentity]
	persistTried atomic.Int64

	edgeMu    sync.Mutex
	edgeSeq   int64 // outbox position the edge has caught up to; -1 before the first look
	edgePrime bool
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
		if IsWildcard(t) {
			return nil, fmt.Errorf("cname target %q: give the edge's own host name, not a wildcard", cfg.CNAMETarget)
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
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomHex(4))
	}
	rules := Rules{CNAMETarget: cfg.CNAMETarget, VerifyWindow: cfg.VerifyWindow,
		BackoffFirst: cfg.BackoffFirst, BackoffMax: cfg.BackoffMax,
		WatchInterval: cfg.WatchInterval, MovedGrace: cfg.MovedGrace,
		Jitter: func() float64 { return 0.9 + 0.2*rand.Float64() }}
	return &Service{cfg: cfg, rules: rules, store: st, checker: checker, log: log, logger: logger,
		now: time.Now, wake: make(chan struct{}, 1), owner: cfg.Owner, edgeSeq: -1}, nil
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

// Rules returns the lifecycle's rules as configured.
func (s *Service) Rules() Rules { return s.rules }

// ParseCertSource reads a certificateSourceType: MANUAL, OKTA_MANAGED, or
// MANAGED (a synonym of OKTA_MANAGED), in any case.
func ParseCertSource(v string) (CertSource, error) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case string(Manual):
		return Manual, nil
	case string(Managed), "MANAGED":
		return Managed, nil
	}
	return "", &InvalidError{Field: "certificateSourceType", Reason: fmt.Sprintf("%q is not one of MANUAL, OKTA_MANAGED", v)}
}

// Create registers name for the actor's org and returns the domain with the
// records to publish.
func (s *Service) Create(ctx context.Context, a Actor, name string, src CertSource) (Domain, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return Domain{}, err
	}
	if src, err = ParseCertSource(string(src)); err != nil {
		return Domain{}, err
	}
	brandID, err := s.newBrand(ctx, a.OrgID, n)
	if err != nil {
		return Domain{}, err
	}
	d := Domain{ID: oktaid.New("dom"), OrgID: a.OrgID, Name: n, CertSource: src,
		Token: randomHex(16), BrandID: brandID}
	c := s.rules.Created(a, d, s.now().UTC())
	limit := s.cfg.DomainLimit
	if a.Operator {
		limit = 0
	}
	if err := s.store.InsertDomain(ctx, c, limit); err != nil {
		s.discardBrand(ctx, n, brandID)
		if errors.Is(err, ErrDuplicate) || errors.Is(err, ErrInUse) || errors.Is(err, ErrLimit) {
			return Domain{}, err
		}
		return Domain{}, fmt.Errorf("%s: storing domain: %w", n, err)
	}
	s.committed(ctx, c)
	s.loadPersist(ctx)
	return c.Domain, nil
}

// Get returns a domain the actor may see.
func (s *Service) Get(ctx context.Context, a Actor, id string) (Domain, error) {
	s.loadPersist(ctx)
	d, err := s.store.GetDomain(ctx, id)
	if err != nil {
		return Domain{}, err
	}
	if !visible(a, d) {
		// Another org's domain does not exist for this actor.
		return Domain{}, ErrNotFound
	}
	return d, nil
}

func visible(a Actor, d Domain) bool { return a.Operator || d.OrgID == a.OrgID }

// List returns a page of the actor's domains (every org's for the
// operator), ordered by id, after the id after.
func (s *Service) List(ctx context.Context, a Actor, after string, limit int) ([]Domain, error) {
	s.loadPersist(ctx)
	org := a.OrgID
	if a.Operator {
		org = ""
	}
	return s.store.ListDomains(ctx, org, after, limit)
}

// ListViews is List for a page that only shows the domains (the API's
// list): through the store's ViewLister when it has one, the domains
// carry only the fields ViewLister names.
func (s *Service) ListViews(ctx context.Context, a Actor, after string, limit int) ([]Domain, error) {
	vl, ok := s.store.(ViewLister)
	if !ok {
		return s.List(ctx, a, after, limit)
	}
	s.loadPersist(ctx)
	org := a.OrgID
	if a.Operator {
		org = ""
	}
	return vl.ListDomainViews(ctx, org, after, limit)
}

// change commits the Change the rules decide for the actor's domain id,
// as stored at the moment of the commit: changes of one domain are
// serialised by the store, so concurrent requests each apply in turn.
func (s *Service) change(ctx context.Context, a Actor, id string, decide func(Domain, time.Time) (Change, error)) (Domain, Change, error) {
	var c Change
	d, err := s.store.ApplyDomain(ctx, id, func(cur Domain) (Change, error) {
		if !visible(a, cur) {
			return Change{}, ErrNotFound
		}
		var err error
		c, err = decide(cur, s.now().UTC())
		return c, err
	})
	if err != nil {
		return Domain{}, Change{}, err
	}
	s.committed(ctx, c)
	return d, c, nil
}

// committed tells the system log's followers and the edge what a commit
// changed.
func (s *Service) committed(ctx context.Context, c Change) {
	if len(c.Events) > 0 && s.log != nil {
		s.log.Notify()
	}
	if len(c.Served) > 0 {
		s.SyncEdge(ctx)
	}
	if !c.Delete && !c.Domain.NextCheck.IsZero() && !c.Domain.NextCheck.After(s.now()) {
		s.Wake()
	}
}

// Delete removes a domain. Its delete event names the records the
// tenant should remove (RecordsToRemove).
func (s *Service) Delete(ctx context.Context, a Actor, id string) error {
	s.primeEdge(ctx)
	_, _, err := s.change(ctx, a, id, func(d Domain, now time.Time) (Change, error) {
		return s.rules.Deleted(a, d, now, s.RecordsToRemove(d)...), nil
	})
	return err
}

// SetBrand associates the domain with a brand.
func (s *Service) SetBrand(ctx context.Context, a Actor, id, brandID string) (Domain, error) {
	brandID = strings.TrimSpace(brandID)
	if brandID == "" || len(brandID) > 64 || !validLabel(brandID) {
		return Domain{}, &InvalidError{Field: "brandId", Reason: "must be 1 to 64 letters, digits, '-' or '_'"}
	}
	if cur, err := s.Get(ctx, a, id); err != nil {
		return Domain{}, err
	} else if err := s.checkBrand(ctx, cur, brandID); err != nil {
		return Domain{}, err
	}
	d, _, err := s.change(ctx, a, id, func(d Domain, now time.Time) (Change, error) {
		c := s.rules.Rebranded(a, d, brandID, now)
		if d.Status.Proven() {
			// The edge's page for the name shows the brand's name.
			c.Served = append(c.Served, d.Name)
		}
		return c, nil
	})
	return d, err
}

// Verify checks the domain's records now, records the result, and resets
// the background backoff. A domain that failed its window gets a new one.
// The returned domain carries the findings in Diagnosis.
func (s *Service) Verify(ctx context.Context, a Actor, id string) (Domain, dnscheck.Report, error) {
	d, err := s.Get(ctx, a, id)
	if err != nil {
		return Domain{}, dnscheck.Report{}, err
	}
	exp := s.Expectation(d)
	rep := s.checker.Check(ctx, exp)
	d, err = s.recordCheck(ctx, a, d.ID, Check{Report: rep, Manual: true, Persist: exp.Persist != nil}, "")
	return d, rep, err
}

// recordCheck commits a check's result. lease is the claim token of a
// background check ("" for a verify call). When the store refuses the
// proof because another domain has proven the name, the check is recorded
// as such (domain.in_use).
func (s *Service) recordCheck(ctx context.Context, a Actor, id string, c Check, lease string) (Domain, error) {
	decide := func(d Domain, now time.Time) (Change, error) {
		if lease != "" && !d.Lease.Held(lease, now) {
			return Change{}, ErrLeaseLost
		}
		ch := s.rules.Checked(a, d, c, now)
		ch.Release = lease != ""
		return ch, nil
	}
	d, _, err := s.change(ctx, a, id, decide)
	if errors.Is(err, ErrInUse) && !c.Taken {
		c.Taken = true
		d, _, err = s.change(ctx, a, id, decide)
	}
	return d, err
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

// CheckAssignable reports whether the proven domain name could be assigned
// to a new org (org creation with a customDomain): ErrNotVerified when no
// domain has proven it, ErrInUse when another org has.
func (s *Service) CheckAssignable(ctx context.Context, name string) error {
	_, err := s.provenDomain(ctx, name, "")
	return err
}

// AssignToOrg moves the proven domain name to orgID (org creation with a
// customDomain). Only a domain proven by the operator, or already the
// org's, can be assigned; the rule is checked inside the commit.
func (s *Service) AssignToOrg(ctx context.Context, name, orgID string) error {
	d, err := s.provenDomain(ctx, name, orgID)
	if err != nil {
		return err
	}
	// The domain gets a brand of its new org; the old one stays with the
	// operator.
	var brandID string
	if d.OrgID != orgID && s.cfg.Brands != nil {
		if brandID, err = s.newBrand(ctx, orgID, d.Name); err != nil {
			return err
		}
	}
	_, _, err = s.change(ctx, System, d.ID, func(d Domain, now time.Time) (Change, error) {
		c, err := s.rules.Assigned(d, orgID, now)
		if err == nil && brandID != "" {
			c.Domain.BrandID = brandID
		}
		return c, err
	})
	if err != nil && brandID != "" {
		s.discardBrand(ctx, d.Name, brandID)
	}
	return err
}

func (s *Service) provenDomain(ctx context.Context, name, orgID string) (Domain, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return Domain{}, &InvalidError{Field: "customDomain", Reason: err.Error()}
	}
	ds, err := s.store.DomainsByName(ctx, n)
	if err != nil {
		return Domain{}, fmt.Errorf("%s: looking up domain: %w", n, err)
	}
	for _, d := range ds {
		if !d.Status.Proven() {
			continue
		}
		if d.OrgID != "" && d.OrgID != orgID {
			return Domain{}, ErrInUse
		}
		return d, nil
	}
	return Domain{}, ErrNotVerified
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand2.Read(b)
	return hex.EncodeToString(b)
}
