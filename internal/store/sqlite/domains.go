package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store"
)

const domainCols = `id, org_id, name, cert_source, status, token, brand_id, version,
	created, updated, window_start, verified_at, last_checked, next_check, attempts, diagnosis,
	cert_subject, cert_fingerprint, cert_issuer, cert_not_before, cert_not_after, cert_renew_at,
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
	)
	err := r.Scan(&d.ID, &d.OrgID, &d.Name, &certSource, &status, &d.Token, &d.BrandID, &d.Version,
		&created, &updated, &window, &verified, &lastChecked, &nextCheck, &d.Attempts, &diagnosis,
		&d.Cert.Subject, &d.Cert.Fingerprint, &d.Cert.Issuer, &certNB, &certNA, &certRenew,
		&d.IssueAttempts, &retryAt, &movedSince, &warnedAt)
	if err != nil {
		return customdomain.Domain{}, err
	}
	d.CertSource = customdomain.CertSource(certSource)
	d.Status = customdomain.Status(status)
	d.Created, d.Updated, d.WindowStart = decTime(created), decTime(updated), decTime(window)
	d.VerifiedAt, d.LastChecked, d.NextCheck = decTime(verified), decTime(lastChecked), decTime(nextCheck)
	d.Cert.NotBefore, d.Cert.NotAfter, d.Cert.RenewAt = decTime(certNB), decTime(certNA), decTime(certRenew)
	d.IssueRetryAt, d.MovedSince, d.ExpiryWarnedAt = decTime(retryAt), decTime(movedSince), decTime(warnedAt)
	if diagnosis != "null" && diagnosis != "" {
		if err := json.Unmarshal([]byte(diagnosis), &d.Diagnosis); err != nil {
			return customdomain.Domain{}, fmt.Errorf("domain %s: decoding diagnosis: %w", d.ID, err)
		}
	}
	return d, nil
}

// domainArgs returns the values of every column but id and version, in
// domainCols order.
func domainArgs(d customdomain.Domain) ([]any, error) {
	ts, err := encTimes(d.Created, d.Updated, d.WindowStart, d.VerifiedAt, d.LastChecked, d.NextCheck,
		d.Cert.NotBefore, d.Cert.NotAfter, d.Cert.RenewAt, d.IssueRetryAt, d.MovedSince, d.ExpiryWarnedAt)
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
		d.Cert.Subject, d.Cert.Fingerprint, d.Cert.Issuer, ts[6], ts[7], ts[8],
		d.IssueAttempts, ts[9], ts[10], ts[11]}, nil
}

// CreateDomain stores d as given, Version included.
func (s *Store) CreateDomain(ctx context.Context, d customdomain.Domain) error {
	args, err := domainArgs(d)
	if err != nil {
		return err
	}
	args = append([]any{d.ID, d.Version}, args...)
	_, err = s.write.ExecContext(ctx, `INSERT INTO domains (id, version, org_id, name, cert_source, status, token, brand_id,
		created, updated, window_start, verified_at, last_checked, next_check, attempts, diagnosis,
		cert_subject, cert_fingerprint, cert_issuer, cert_not_before, cert_not_after, cert_renew_at,
		issue_attempts, issue_retry_at, moved_since, expiry_warned_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, mapErr(err))
	}
	return nil
}

func (s *Store) GetDomain(ctx context.Context, id string) (customdomain.Domain, error) {
	d, err := scanDomain(s.read.QueryRowContext(ctx, `SELECT `+domainCols+` FROM domains WHERE id = ?`, id))
	if err != nil {
		return customdomain.Domain{}, fmt.Errorf("getting domain %s: %w", id, mapErr(err))
	}
	return d, nil
}

func (s *Store) queryDomains(ctx context.Context, db *sql.DB, what, query string, args ...any) ([]customdomain.Domain, error) {
	rows, err := db.QueryContext(ctx, query, args...)
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
		return s.queryDomains(ctx, s.read, "listing domains",
			`SELECT `+domainCols+` FROM domains WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	}
	return s.queryDomains(ctx, s.read, "listing domains",
		`SELECT `+domainCols+` FROM domains WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?`, orgID, after, limit)
}

func (s *Store) DomainsByName(ctx context.Context, name string) ([]customdomain.Domain, error) {
	return s.queryDomains(ctx, s.read, "finding domains by name",
		`SELECT `+domainCols+` FROM domains WHERE name = ? ORDER BY id`, name)
}

// CountDomains counts an org's domains, or every domain for orgID "".
func (s *Store) CountDomains(ctx context.Context, orgID string) (int, error) {
	var n int
	var err error
	if orgID == "" {
		err = s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n)
	} else {
		err = s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE org_id = ?`, orgID).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("counting domains: %w", err)
	}
	return n, nil
}

func (s *Store) UpdateDomain(ctx context.Context, d customdomain.Domain) (int64, error) {
	args, err := domainArgs(d)
	if err != nil {
		return 0, err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("updating domain %s: %w", d.ID, err)
	}
	defer tx.Rollback()
	args = append(args, d.ID, d.Version)
	var version int64
	err = tx.QueryRowContext(ctx, `UPDATE domains SET org_id = ?, name = ?, cert_source = ?, status = ?, token = ?, brand_id = ?,
		created = ?, updated = ?, window_start = ?, verified_at = ?, last_checked = ?, next_check = ?, attempts = ?, diagnosis = ?,
		cert_subject = ?, cert_fingerprint = ?, cert_issuer = ?, cert_not_before = ?, cert_not_after = ?, cert_renew_at = ?,
		issue_attempts = ?, issue_retry_at = ?, moved_since = ?, expiry_warned_at = ?,
		version = version + 1
		WHERE id = ? AND version = ? RETURNING version`, args...).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		var stored int64
		err = tx.QueryRowContext(ctx, `SELECT version FROM domains WHERE id = ?`, d.ID).Scan(&stored)
		if err != nil {
			return 0, fmt.Errorf("updating domain %s: %w", d.ID, mapErr(err))
		}
		return 0, fmt.Errorf("updating domain %s: version %d, stored %d: %w", d.ID, d.Version, stored, store.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("updating domain %s: %w", d.ID, mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("updating domain %s: %w", d.ID, err)
	}
	return version, nil
}

func (s *Store) DeleteDomain(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM domains WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("deleting domain %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("deleting domain %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("deleting domain %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// ScheduleUnissued schedules the VERIFIED managed domains that have no
// certificate and nothing scheduled, in one statement.
func (s *Store) ScheduleUnissued(ctx context.Context, at time.Time) (int, error) {
	ts, err := encTime(at)
	if err != nil || !ts.Valid {
		return 0, fmt.Errorf("scheduling unissued domains: at must be set and storable (%v)", err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE domains SET next_check = ?, version = version + 1
		WHERE status = ? AND cert_source = ? AND cert_fingerprint = '' AND next_check IS NULL`,
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

// ClaimDue selects the due domains and moves their NextCheck to leaseUntil
// in one IMMEDIATE transaction on the single writer connection, so two
// claimers (goroutines, or processes sharing the file) never get the same
// domain.
func (s *Store) ClaimDue(ctx context.Context, now, leaseUntil time.Time, limit int) ([]customdomain.Domain, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	ts, err := encTimes(now, leaseUntil)
	if err != nil || !ts[0].Valid || !ts[1].Valid {
		return nil, fmt.Errorf("claiming due domains: now and leaseUntil must be set and storable (%v)", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM domains
		WHERE next_check IS NOT NULL AND next_check <= ? ORDER BY next_check, id LIMIT ?`, ts[0], limit)
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
	if len(ids) == 0 {
		return nil, nil
	}
	// The same selection again, inside the same transaction, so the
	// statement binds a fixed number of parameters whatever the limit.
	rows, err = tx.QueryContext(ctx, `UPDATE domains SET next_check = ?, version = version + 1
		WHERE id IN (SELECT id FROM domains WHERE next_check IS NOT NULL AND next_check <= ? ORDER BY next_check, id LIMIT ?)
		RETURNING `+domainCols, ts[1], ts[0], limit)
	if err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	byID := make(map[string]customdomain.Domain, len(ids))
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("claiming due domains: %w", err)
		}
		byID[d.ID] = d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	// RETURNING has no order; give the domains back in NextCheck order.
	ds := make([]customdomain.Domain, 0, len(ids))
	for _, id := range ids {
		d, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("claiming due domains: domain %s selected but not updated", id)
		}
		ds = append(ds, d)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claiming due domains: %w", err)
	}
	return ds, nil
}
