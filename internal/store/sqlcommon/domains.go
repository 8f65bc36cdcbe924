package sqlcommon

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

// SelectDomains reads domains with what their certificate record says:
// the certificate row is the one source of publicCertificate, and only the
// domain that has proven the name owns it. DomainRow scans its columns.
const SelectDomains = `SELECT d.id, d.org_id, d.name, d.cert_source, d.status, d.token, d.brand_id, d.version,
	d.created, d.updated, d.window_start, d.verified_at, d.last_checked, d.next_check, d.attempts, d.diagnosis,
	COALESCE(c.subject, ''), COALESCE(c.fingerprint, ''), COALESCE(c.issuer, ''), c.not_before, c.not_after, c.renew_at,
	COALESCE(c.challenge, ''), COALESCE(c.challenge_reason, ''),
	d.issue_attempts, d.issue_retry_at, d.moved_since, d.expiry_warned_at, d.lease_owner, d.lease_token, d.lease_until
	FROM domains d LEFT JOIN certificates c ON c.name = d.name AND d.status IN ('VERIFIED', 'COMPLETED') `

// SelectDomainViews reads only the fields of customdomain.ViewLister,
// what a domain's views show: a page of the API's list reads a third
// fewer columns than SelectDomains. DomainRow scans its columns too.
//
// An empty diagnosis, and the certificate of a domain that has none, come
// as NULL (read as ""): the driver has no text to copy for them.
const SelectDomainViews = `SELECT d.id, d.name, d.cert_source, d.status, d.token, d.brand_id,
	d.window_start, d.verified_at, d.last_checked, d.next_check, d.attempts, NULLIF(d.diagnosis, '[]'),
	c.subject, c.fingerprint, c.not_after, c.renew_at, c.challenge, c.challenge_reason,
	d.issue_attempts, d.issue_retry_at, d.moved_since
	FROM domains d LEFT JOIN certificates c ON c.name = d.name AND d.status IN ('VERIFIED', 'COMPLETED') `

// The number of columns of SelectDomains and SelectDomainViews.
const (
	domainCols = 31
	viewCols   = 21
)

// DomainRow scans rows of SelectDomains. Each column lands in an any, the
// one destination database/sql fills without reflection or a copy, and
// the destinations are reused from row to row: a page of domains costs
// what the driver allocates for the values, and no more.
type DomainRow struct {
	vals [domainCols]any
	dest [domainCols]any
	view bool // the columns of SelectDomainViews
}

// NewDomainRow returns a DomainRow for the rows of one query of
// SelectDomains.
func NewDomainRow() *DomainRow {
	r := new(DomainRow)
	for i := range r.vals {
		r.dest[i] = &r.vals[i]
	}
	return r
}

// NewViewRow returns a DomainRow for the rows of one query of
// SelectDomainViews.
func NewViewRow() *DomainRow {
	r := NewDomainRow()
	r.view = true
	return r
}

// ScanDomain scans one row of SelectDomains.
func ScanDomain(s Scanner) (customdomain.Domain, error) {
	var d customdomain.Domain
	err := NewDomainRow().Scan(s, &d)
	return d, err
}

// Scan scans the current row of s into d.
func (r *DomainRow) Scan(s Scanner, d *customdomain.Domain) error {
	if r.view {
		return r.scanView(s, d)
	}
	if err := s.Scan(r.dest[:]...); err != nil {
		return err
	}
	c := columns{vals: r.vals[:]}
	*d = customdomain.Domain{
		ID: c.str(0), OrgID: c.str(1), Name: c.str(2),
		CertSource: customdomain.CertSource(c.str(3)), Status: customdomain.Status(c.str(4)),
		Token: c.str(5), BrandID: c.str(6), Version: c.int(7),
		Created: c.time(8), Updated: c.time(9), WindowStart: c.time(10), VerifiedAt: c.time(11),
		LastChecked: c.time(12), NextCheck: c.time(13), Attempts: int(c.int(14)),
		Cert: customdomain.CertInfo{
			Subject: c.str(16), Fingerprint: c.str(17), Issuer: c.str(18),
			NotBefore: c.time(19), NotAfter: c.time(20), RenewAt: c.time(21),
			Challenge: issuance.ChallengeType(c.str(22)), ChallengeReason: c.str(23),
		},
		IssueAttempts: int(c.int(24)), IssueRetryAt: c.time(25), MovedSince: c.time(26), ExpiryWarnedAt: c.time(27),
		Lease: customdomain.Lease{Owner: c.str(28), Token: c.str(29), Until: c.time(30)},
	}
	return r.finish(&c, d, c.str(15))
}

func (r *DomainRow) scanView(s Scanner, d *customdomain.Domain) error {
	if err := s.Scan(r.dest[:viewCols]...); err != nil {
		return err
	}
	c := columns{vals: r.vals[:viewCols]}
	*d = customdomain.Domain{
		ID: c.str(0), Name: c.str(1),
		CertSource: customdomain.CertSource(c.str(2)), Status: customdomain.Status(c.str(3)),
		Token: c.str(4), BrandID: c.str(5),
		WindowStart: c.time(6), VerifiedAt: c.time(7), LastChecked: c.time(8), NextCheck: c.time(9),
		Attempts: int(c.int(10)),
		Cert: customdomain.CertInfo{
			Subject: c.str(12), Fingerprint: c.str(13), NotAfter: c.time(14), RenewAt: c.time(15),
			Challenge: issuance.ChallengeType(c.str(16)), ChallengeReason: c.str(17),
		},
		IssueAttempts: int(c.int(18)), IssueRetryAt: c.time(19), MovedSince: c.time(20),
	}
	return r.finish(&c, d, c.str(11))
}

// finish reports a column of an unexpected type and decodes the
// diagnosis.
func (r *DomainRow) finish(c *columns, d *customdomain.Domain, diag string) error {
	clear(r.vals[:]) // let the row's values go
	if c.err != nil {
		return fmt.Errorf("domain %s: %w", d.ID, c.err)
	}
	if diag != "null" && diag != "" && diag != "[]" { // most rows: nothing to decode
		if err := json.Unmarshal([]byte(diag), &d.Diagnosis); err != nil {
			return fmt.Errorf("domain %s: decoding diagnosis: %w", d.ID, err)
		}
	}
	return nil
}

// columns reads the values a driver returned (database/sql's
// driver.Value: int64, string or []byte here, nil for NULL), keeping the
// first value of an unexpected type as the error.
type columns struct {
	vals []any
	err  error
}

func (c *columns) str(i int) string {
	switch v := c.vals[i].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	c.fail(i)
	return ""
}

func (c *columns) int(i int) int64 {
	switch v := c.vals[i].(type) {
	case int64:
		return v
	case nil:
		return 0
	}
	c.fail(i)
	return 0
}

// time decodes a column written by EncTime (NULL: the zero time).
func (c *columns) time(i int) time.Time {
	switch v := c.vals[i].(type) {
	case int64:
		return unixNano(v)
	case nil:
		return time.Time{}
	}
	c.fail(i)
	return time.Time{}
}

func (c *columns) fail(i int) {
	if c.err == nil {
		c.err = fmt.Errorf("column %d: unexpected %T", i+1, c.vals[i])
	}
}

// ListViewsQuery is the statement and arguments of a page of
// ListDomainViews: an org's domains, or every domain for orgID "", after
// the id after, in id order.
func ListViewsQuery(orgID, after string, limit int) (string, []any) {
	if orgID == "" {
		return SelectDomainViews + `WHERE d.id > ? ORDER BY d.id LIMIT ?`, []any{after, limit}
	}
	return SelectDomainViews + `WHERE d.org_id = ? AND d.id > ? ORDER BY d.id LIMIT ?`, []any{orgID, after, limit}
}
