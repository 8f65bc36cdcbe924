package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store/sqlcommon"
)

// selectDomains reads domains with their certificate record's summary;
// scanDomain scans one of its rows.
const selectDomains = sqlcommon.SelectDomains

var scanDomain = sqlcommon.ScanDomain

var _ customdomain.ViewLister = (*Store)(nil)

type scanner = sqlcommon.Scanner

// domainColumns are the columns a change writes, in domainArgs order.
const domainColumns = `org_id, name, cert_source, status, token, brand_id,
	created, updated, window_start, verified_at, last_checked, next_check, attempts, diagnosis,
	issue_attempts, issue_retry_at, moved_since, expiry_warned_at`

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

// queryDomains reads the domains of query; size is how many rows it
// returns at most (0 when unknown).
func (s *Store) queryDomains(ctx context.Context, what string, size int, query string, args ...any) ([]customdomain.Domain, error) {
	return s.scanDomains(ctx, sqlcommon.NewDomainRow(), what, size, query, args...)
}

// scanDomains reads the domains of query with row.
func (s *Store) scanDomains(ctx context.Context, row *sqlcommon.DomainRow, what string, size int, query string, args ...any) ([]customdomain.Domain, error) {
	rows, err := s.readQuery(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ds []customdomain.Domain
	if size > 0 {
		ds = make([]customdomain.Domain, 0, min(size, maxPrealloc))
	}
	for rows.Next() {
		ds = append(ds, customdomain.Domain{})
		if err := row.Scan(rows, &ds[len(ds)-1]); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ds, nil
}

// maxPrealloc bounds the room queryDomains makes before it sees the rows.
const maxPrealloc = 1024

// ListDomains pages by id (keyset): the cost of a page does not depend on
// how deep it is or how many domains are stored.
func (s *Store) ListDomains(ctx context.Context, orgID, after string, limit int) ([]customdomain.Domain, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("listing domains: %w", err)
	}
	if orgID == "" {
		return s.queryDomains(ctx, "listing domains", limit,
			selectDomains+`WHERE d.id > ? ORDER BY d.id LIMIT ?`, after, limit)
	}
	return s.queryDomains(ctx, "listing domains", limit,
		selectDomains+`WHERE d.org_id = ? AND d.id > ? ORDER BY d.id LIMIT ?`, orgID, after, limit)
}

// ListDomainViews is ListDomains reading only the fields of
// customdomain.ViewLister.
func (s *Store) ListDomainViews(ctx context.Context, orgID, after string, limit int) ([]customdomain.Domain, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("listing domains: %w", err)
	}
	q, args := sqlcommon.ListViewsQuery(orgID, after, limit)
	return s.scanDomains(ctx, sqlcommon.NewViewRow(), "listing domains", limit, q, args...)
}

func (s *Store) DomainsByName(ctx context.Context, name string) ([]customdomain.Domain, error) {
	return s.queryDomains(ctx, "finding domains by name", 0,
		selectDomains+`WHERE d.name = ? ORDER BY d.id`, name)
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

// ScheduleUnissued schedules the VERIFIED managed domains that have no
// certificate and nothing scheduled, in one statement.
func (s *Store) ScheduleUnissued(ctx context.Context, at time.Time) (int, error) {
	ts, err := encTime(at)
	if err != nil || !ts.Valid {
		return 0, fmt.Errorf("scheduling unissued domains: at must be set and storable (%v)", err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE domains SET next_check = ?, version = version + 1
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

// ClaimDue leases the due domains in one IMMEDIATE transaction on the
// single writer connection, so two claimers (goroutines, or processes
// sharing the file) never hold the same domain.
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
		ORDER BY next_check, id LIMIT ?`, ts[0], ts[0], limit)
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
