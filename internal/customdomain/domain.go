// Package customdomain is the domain model and its lifecycle: names, the
// records a tenant publishes, the statuses and the rules that move a domain
// between them.
package customdomain

import (
	"context"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
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
	// NextCheck is when the scheduler checks the domain next; zero means
	// never (proven or failed).
	NextCheck time.Time
	// Attempts counts background checks since the backoff was last reset.
	Attempts int
	// Diagnosis holds the findings of the latest check.
	Diagnosis []finding.Finding

	// Cert summarises the certificate stored (and served) for the name;
	// zero until there is one.
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
}

// Has reports whether a certificate is recorded.
func (c CertInfo) Has() bool { return c.Fingerprint != "" }

// Store keeps domains.
type Store interface {
	// CreateDomain fails with store.ErrConflict when the org already has
	// that name.
	CreateDomain(ctx context.Context, d Domain) error
	GetDomain(ctx context.Context, id string) (Domain, error)
	// ListDomains returns up to limit domains of an org ("" for every org)
	// ordered by id, starting after the id after.
	ListDomains(ctx context.Context, orgID, after string, limit int) ([]Domain, error)
	// DomainsByName returns every org's domain with that name.
	DomainsByName(ctx context.Context, name string) ([]Domain, error)
	CountDomains(ctx context.Context, orgID string) (int, error)
	// UpdateDomain replaces the stored domain if its stored Version still
	// equals d.Version, and stores it with Version+1 (the new version is
	// returned); store.ErrConflict when it changed meanwhile,
	// store.ErrNotFound when it is gone.
	UpdateDomain(ctx context.Context, d Domain) (int64, error)
	DeleteDomain(ctx context.Context, id string) error
	// ClaimDue returns up to limit domains whose NextCheck is set and not
	// after now, ordered by NextCheck, and moves their NextCheck to
	// leaseUntil in the same transaction so that no other worker or node
	// claims them while they are checked. The domains are returned as
	// stored after that change (new NextCheck and Version).
	ClaimDue(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Domain, error)
	// ScheduleUnissued sets NextCheck to at, and moves Version on, for
	// every VERIFIED OKTA_MANAGED domain without a certificate and without
	// a NextCheck (proven while no certificate issuer was configured), and
	// returns how many it scheduled.
	ScheduleUnissued(ctx context.Context, at time.Time) (int, error)
}
