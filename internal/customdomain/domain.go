// Package customdomain is the domain model and its lifecycle: names, the
// records a tenant publishes, the statuses and the rules that move a domain
// between them.
package customdomain

import (
	"context"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

// Status is a domain's validationStatus, in Okta's words.
type Status string

const (
	NotStarted     Status = "NOT_STARTED"
	InProgress     Status = "IN_PROGRESS"
	Verified       Status = "VERIFIED"  // ownership proven
	Completed      Status = "COMPLETED" // certificate issued and served
	FailedToVerify Status = "FAILED_TO_VERIFY"
)

// Proven reports whether ownership of the name has been proven.
func (s Status) Proven() bool { return s == Verified || s == Completed }

// CertSource is the certificateSourceType.
type CertSource string

const (
	Manual  CertSource = "MANUAL"
	Managed CertSource = "OKTA_MANAGED"
)

// Domain is a custom domain as stored.
type Domain struct {
	ID         string
	OrgID      string
	Name       string // normalised ASCII (punycode), lower case, no trailing dot
	CertSource CertSource
	Status     Status
	// Token is the value of the ownership TXT record. It is published in
	// DNS, so it is not a secret; it never changes for the life of the
	// domain (re-verification keeps it).
	Token   string
	BrandID string

	// Version increases with every stored change (optimistic concurrency).
	Version int64
	Created time.Time
	Updated time.Time
	// WindowStart is when the current verification window opened (create,
	// or a verify call after FAILED_TO_VERIFY).
	WindowStart time.Time
	VerifiedAt  time.Time // zero until proven
	LastChecked time.Time // zero until checked
	// NextCheck is when background work on the domain is due next (a
	// re-check, the first certificate, a renewal, the watch); zero means
	// never. A claim never moves it: the lease is held apart.
	NextCheck time.Time
	// Lease is the claim of the worker doing the domain's due work; zero
	// when none holds it.
	Lease Lease
	// Attempts counts background checks since the backoff was last reset.
	Attempts int
	// Diagnosis holds the findings of the latest check.
	Diagnosis []finding.Finding

	// Cert summarises the certificate served for the name, read from its
	// certificate record (the one source of truth); zero until there is
	// one, and for a domain that has not proven the name.
	Cert CertInfo
	// IssueAttempts counts consecutive failed issuance or renewal attempts.
	IssueAttempts int
	// IssueRetryAt is when the next attempt is due after a failure; zero
	// when none failed.
	IssueRetryAt time.Time
	// MovedSince is when the name was first seen no longer pointing here
	// (its CNAME removed or changed) after activation; zero while it does.
	MovedSince time.Time
	// ExpiryWarnedAt is when the cert_expiring event was recorded for
	// Cert; zero until then, and again for each new certificate.
	ExpiryWarnedAt time.Time
}

// CertInfo is what the domain records of its certificate: the
// publicCertificate and the renewal plan. The certificate and its sealed
// key live in the certificate store.
type CertInfo struct {
	Subject     string
	Fingerprint string // SHA-256 of the leaf, colon hex
	Issuer      string // "builtin", "acme" or "manual"
	NotBefore   time.Time
	NotAfter    time.Time
	RenewAt     time.Time // zero for manual certificates
	// Challenge is how the CA validated the name for this certificate
	// ("" for none: built-in CA, upload), and ChallengeReason why.
	Challenge       issuance.ChallengeType
	ChallengeReason string
}

// Ready reports whether the domain's certificate was obtained ahead of
// its CNAME: proven, served by SNI, waiting for traffic to move here.
func (d Domain) Ready() bool { return d.Status == Verified && d.Cert.Has() }

// ReadyDetail is what a ready domain says (API statusDetail, console).
const ReadyDetail = "certificate ready: point the CNAME to switch traffic"

// Has reports whether a certificate is recorded.
func (c CertInfo) Has() bool { return c.Fingerprint != "" }

// Lease is a worker's claim on a domain's due work. The result of the work
// is stored only while the lease holds: a worker whose lease ran out, or
// was taken over, cannot overwrite newer state (ErrLeaseLost).
type Lease struct {
	Owner string // the node and worker that holds it
	Token string // random per claim
	Until time.Time
}

// Held reports whether l is held by the claim token at now.
func (l Lease) Held(token string, now time.Time) bool {
	return token != "" && l.Token == token && now.Before(l.Until)
}

// Store keeps domains. Every change of a domain is committed whole, with
// its certificate, its system log events and its outbox entries, by
// InsertDomain or ApplyDomain.
type Store interface {
	GetDomain(ctx context.Context, id string) (Domain, error)
	// ListDomains returns up to limit domains of an org ("" for every org)
	// ordered by id, starting after the id after.
	ListDomains(ctx context.Context, orgID, after string, limit int) ([]Domain, error)
	// DomainsByName returns every org's domain with that name.
	DomainsByName(ctx context.Context, name string) ([]Domain, error)
	CountDomains(ctx context.Context, orgID string) (int, error)
	// InsertDomain commits the creation of c.Domain (stored at Version 1)
	// with c's events in one transaction. It fails with ErrDuplicate when
	// the org already has the name, ErrInUse when another org has proven
	// it, and ErrLimit when limit > 0 and the org already has limit
	// domains: each decided inside the transaction, so concurrent creates
	// cannot pass a check together.
	InsertDomain(ctx context.Context, c Change, limit int) error
	// ApplyDomain reads domain id inside one write transaction, calls
	// decide with it (no other change of the domain can interleave, on any
	// node), and commits the Change it returns whole: the domain at
	// Version+1 (or its deletion), the certificate record, the events, the
	// outbox entries and the lease's release. decide must not do I/O.
	// When decide fails nothing is written and its error is returned;
	// store.ErrNotFound when the domain is gone; ErrInUse when the change
	// would prove a name another domain has proven.
	ApplyDomain(ctx context.Context, id string, decide func(Domain) (Change, error)) (Domain, error)
	// ClaimDue leases up to limit domains whose NextCheck is set and not
	// after now and whose lease is free or ran out, to owner until the
	// given time, each with a new token, in one transaction: two claimers
	// (workers, nodes) never hold the same domain. The domains are
	// returned with their Lease, in NextCheck order.
	ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]Domain, error)
	// ScheduleUnissued sets NextCheck to at, and moves Version on, for
	// every VERIFIED OKTA_MANAGED domain without a certificate and without
	// a NextCheck (proven while no certificate issuer was configured), and
	// returns how many it scheduled.
	ScheduleUnissued(ctx context.Context, at time.Time) (int, error)
	// Certificate returns the certificate record of a name
	// (store.ErrNotFound when it has none).
	Certificate(ctx context.Context, name string) (issuance.Record, error)
	Outbox
}

// ViewLister is a Store that reads a page of domains with only what
// their views show, Records and the API's domain JSON: ID, Name,
// CertSource, Status, Token, BrandID, WindowStart, VerifiedAt,
// LastChecked, NextCheck, Attempts, Diagnosis, Cert (but its Issuer and
// NotBefore), IssueAttempts, IssueRetryAt and MovedSince; every other
// field is zero. Reading fewer columns makes a page of the list cheaper.
type ViewLister interface {
	// ListDomainViews selects and orders as ListDomains does.
	ListDomainViews(ctx context.Context, orgID, after string, limit int) ([]Domain, error)
}

// Outbox is the record of committed changes of served certificates, in
// commit order, that every edge follows.
type Outbox interface {
	// OutboxAfter returns up to limit entries with Seq above after, in
	// Seq order.
	OutboxAfter(ctx context.Context, after int64, limit int) ([]OutboxEntry, error)
	// OutboxHead returns the highest Seq (0 when empty).
	OutboxHead(ctx context.Context) (int64, error)
	// PruneOutbox deletes the entries committed before t.
	PruneOutbox(ctx context.Context, before time.Time) (int, error)
}

// OutboxNotifier is a store that announces other nodes' outbox commits as
// they happen (PostgreSQL's LISTEN/NOTIFY), so that the edge need not wait
// for its next poll. Notices coalesce and may be lost; the poll stays.
type OutboxNotifier interface {
	OutboxNotices(ctx context.Context) <-chan struct{}
}

// OutboxEntry says that the certificate served for Name changed.
type OutboxEntry struct {
	Seq     int64
	Name    string
	Created time.Time
}
