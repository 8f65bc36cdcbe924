package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
)

// selectDomains reads domains with what their certificate record says:
// the certificate row is the one source of publicCertificate, and only the
// domain that has proven the name owns it.
const selectDomains = `SELECT d.id, d.org_id, d.name, d.cert_source, d.status, d.token, d.brand_id, d.version,
	d.created, d.updated, d.window_start, d.verified_at, d.last_checked, d.next_check, d.attempts, d.diagnosis,
	COALESCE(c.subject, ''), COALESCE(c.fingerprint, ''), COALESCE(c.issuer, ''), c.not_before, c.not_after, c.renew_at,
	COALESCE(c.challenge, ''), COALESCE(c.challenge_reason, ''),
	d.issue_attempts, d.issue_retry_at, d.moved_since, d.expiry_warned_at, d.lease_owner, d.lease_token, d.lease_until
	FROM domains d LEFT JOIN certificates c ON c.name = d.name AND d.status IN ('VERIFIED', 'COMPLETED') `

// domainColumns are the columns a change writes, in domainArgs order.
const domainColumns = `org_id, name, cert_source, status, token, brand_id,
	created, updated, window_start, verified_at, last_checked, next_check, attempts, diagnosis,
	issue_attempts, issue_retry_at, moved_since, expiry_warned_at`

type scanner interface{ Scan(dest ...any) error }

func scanDomain(r scanner) (customdomain.Domain, error) {
	var (
		d                                  customdomain.Domain
		created, updated, window, verified sql.NullInt64
		lastChecked, nextCheck             sql.NullInt64
		diagnosis                          string
		certSource, status                 string
		certNB, certNA, certRenew          sql.NullInt64
		retryAt, movedSince, warnedAt      sql.NullInt64
		leaseUntil                         sql.NullInt64
	)
	err := r.Scan(&d.ID, &d.OrgID, &d.Name, &certSource, &status, &d.Token, &d.BrandID, &d.Version,
		&created, &updated, &window, &verified, &lastChecked, &nextCheck, &d.Attempts, &diagnosis,
		&d.Cert.Subject, &d.Cert.Fingerprint, &d.Cert.Issuer, &certNB, &certNA, &certRenew,
		&d.Cert.Challenge, &d.Cert.ChallengeReason,
		&d.IssueAttempts, &retryAt, &movedSince, &warnedAt, &d.Lease.Owner, &d.Lease.Token, &leaseUntil)
	if err != nil {
		return customdomain.Domain{}, err
	}
	d.CertSource = customdomain.CertSource(certSource)
	d.Status = customdomain.Status(status)
	d.Created, d.Updated, d.WindowStart = decTime(created), decTime(updated), decTime(window)
	d.VerifiedAt, d.LastChecked, d.NextCheck = decTime(verified), decTime(lastChecked), decTime(nextCheck)
	d.Cert.NotBefore, d.Cert.NotAfter, d.Cert.RenewAt = decTime(certNB), decTime(certNA), decTime(certRenew)
	d.IssueRetryAt, d.MovedSince, d.ExpiryWarnedAt = decTime(retryAt), decTime(movedSince), decTime(warnedAt)
	d.Lease.Until = decTime(leaseUntil)
	if diagnosis != "null" && diagnosis != "" {
		if err := json.Unmarshal([]byte(diagnosis), &d.Diagnosis); err != nil {
			return customdomain.Domain{}, fmt.Errorf("domain %s: decoding diagnosis: %w", d.ID, err)
		}
	}
	return d, nil
}

// domainArgs returns the values of domainColumns.
func domainArgs(d customdomain.Domain) ([]any, error) {
	ts, err := encTimes(d.Created, d.Updated, d.WindowStart, d.VerifiedAt, d.LastChecked, d.NextCheck,
		d.IssueRetryAt, d.MovedSince, d.ExpiryWarnedAt)
	if err != nil {
		return nil, fmt.Errorf("domain %s: %w", d.ID, err)
	}
	diag := d.Diagnosis
	if diag == nil {
		diag = []finding.Finding{}
	}
	js, err := json.Marshal(diag)
	if err != nil {
		return nil, fmt.Errorf("domain %s: encoding diagnosis: %w", d.ID, err)
	}
	return []any{d.OrgID, d.Name, string(d.CertSource), string(d.Status), d.Token, d.BrandID,
		ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], d.Attempts, string(js),
		d.IssueAttempts, ts[6], ts[7], ts[8]}, nil
}

// CreateDomain stores d as given, Version included, and nothing else: a
// seeding path for tests and benchmarks. The lifecycle creates through
// InsertDomain.
func (s *Store) CreateDomain(ctx context.Context, d customdomain.Domain) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, err)
	}
	defer tx.Rollback()
	if err := insertDomain(ctx, tx, d); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, mapErr(err))
	}
	return nil
}

func insertDomain(ctx context.Context, tx *wtx, d customdomain.Domain) error {
	args, err := domainArgs(d)
	if err != nil {
		return err
	}
	args = append([]any{d.ID, d.Version}, args...)
	_, err = tx.ExecContext(ctx, `INSERT INTO domains (id, version, `+domainColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, mapDomainErr(err))
	}
	return nil
}

func (s *Store) GetDomain(ctx context.Context, id string) (customdomain.Domain, error) {
	d, err := scanDomain(s.readRow(ctx, selectDomains+`WHERE d.id = ?`, id))
	if err != nil {
		return customdomain.Domain{}, fmt.Errorf("getting domain %s: %w", id, mapErr(err))
	}
	return d, nil
}

func (s *Store) queryDomains(ctx context.Context, what, query string, args ...any) ([]customdomain.Domain, error) {
	rows, err := s.readQuery(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ds []customdomain.Domain
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ds, nil
}

// ListDomains pages by id (keyset): the cost of a page does not depend on
// how deep it is or how many domains are stored.
func (s *Store) ListDomains(ctx context.Context, orgID, after string, limit int) ([]customdomain.Domain, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("listing domains: %w", err)
	}
	if orgID == "" {
		return s.queryDomains(ctx, "listing domains",
			selectDomains+`WHERE d.id > ? ORDER BY d.id LIMIT ?`, after, limit)
	}
	return s.queryDomains(ctx, "listing domains",
		selectDomains+`WHERE d.org_id = ? AND d.id > ? ORDER BY d.id LIMIT ?`, orgID, after, limit)
}

func (s *Store) DomainsByName(ctx context.Context, name string) ([]customdomain.Domain, error) {
	return s.queryDomains(ctx, "finding domains by name",
		selectDomains+`WHERE d.name = ? ORDER BY d.id`, name)
}

// CountDomains counts an org's domains, or every domain for orgID "".
func (s *Store) CountDomains(ctx context.Context, orgID string) (int, error) {
	var n int
	var err error
	if orgID == "" {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE org_id = ?`, orgID).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("counting domains: %w", err)
	}
	return n, nil
}

// ScheduleUnissued schedules the VERIFIED managed domains that have no
// certificate and nothing scheduled, in one statement.
func (s *Store) ScheduleUnissued(ctx context.Context, at time.Time) (int, error) {
	ts, err := encTime(at)
	if err != nil || !ts.Valid {
		return 0, fmt.Errorf("scheduling unissued domains: at must be set and storable (%v)", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE domains SET next_check = ?, version = version + 1
		WHERE status = ? AND cert_source = ? AND next_check IS NULL
		  AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.name = domains.name)`,
		ts, string(customdomain.Verified), string(customdomain.Managed))
	if err != nil {
		return 0, fmt.Errorf("scheduling unissued domains: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("scheduling unissued domains: %w", err)
	}
	return int(n), nil
}

// ClaimDue leases the due domains in one transaction. The due rows are
// locked FOR UPDATE SKIP LOCKED: two claimers (goroutines, or nodes
// sharing the database) never hold the same domain, and neither waits for
// the rows the other is taking.
func (s *Store) ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]customdomain.Domain, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	ts, err := encTimes(now, until)
	if err != nil || !ts[0].Valid || !ts[1].Valid || !until.After(now) {
		return nil, fmt.Errorf("claiming due domains: now and until must be set, storable and in order (%v)", err)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM domains
		WHERE next_check IS NOT NULL AND next_check <= ? AND (lease_until IS NULL OR lease_until <= ?)
		ORDER BY next_check, id LIMIT ? FOR UPDATE SKIP LOCKED`, ts[0], ts[0], limit)
	if err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claiming due domains: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	ds := make([]customdomain.Domain, 0, len(ids))
	for _, id := range ids {
		token := oktaid.New("lse")
		if _, err := tx.ExecContext(ctx, `UPDATE domains SET lease_owner = ?, lease_token = ?, lease_until = ? WHERE id = ?`,
			owner, token, ts[1], id); err != nil {
			return nil, fmt.Errorf("claiming due domains: %w", err)
		}
		d, err := scanDomain(tx.QueryRowContext(ctx, selectDomains+`WHERE d.id = ?`, id))
		if err != nil {
			return nil, fmt.Errorf("claiming due domains: %w", err)
		}
		ds = append(ds, d)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	return ds, nil
}
