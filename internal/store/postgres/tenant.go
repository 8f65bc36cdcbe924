package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// withEvents runs write and stores events in one transaction.
func (s *Store) withEvents(ctx context.Context, events []systemlog.Event, write func(tx *wtx) error) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := write(tx); err != nil {
		return err
	}
	for _, e := range events {
		if _, err := insertEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *Store) CreateOrg(ctx context.Context, o tenant.Org, events ...systemlog.Event) error {
	created, err := encTime(o.Created)
	if err != nil {
		return fmt.Errorf("creating org %s: %w", o.ID, err)
	}
	err = s.withEvents(ctx, events, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, name, custom_domain, upstream, created) VALUES (?, ?, ?, ?, ?)`,
			o.ID, o.Name, o.CustomDomain, o.Upstream, created)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating org %s: %w", o.ID, mapErr(err))
	}
	return nil
}

func scanOrg(r scanner) (tenant.Org, error) {
	var o tenant.Org
	var created sql.NullInt64
	if err := r.Scan(&o.ID, &o.Name, &o.CustomDomain, &o.Upstream, &created); err != nil {
		return tenant.Org{}, err
	}
	o.Created = decTime(created)
	return o, nil
}

func (s *Store) GetOrg(ctx context.Context, id string) (tenant.Org, error) {
	o, err := scanOrg(s.db.QueryRowContext(ctx, `SELECT id, name, custom_domain, upstream, created FROM orgs WHERE id = ?`, id))
	if err != nil {
		return tenant.Org{}, fmt.Errorf("getting org %s: %w", id, mapErr(err))
	}
	return o, nil
}

// ListOrgs returns every org ordered by id.
func (s *Store) ListOrgs(ctx context.Context) ([]tenant.Org, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, custom_domain, upstream, created FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing orgs: %w", err)
	}
	defer rows.Close()
	var os []tenant.Org
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("listing orgs: %w", err)
		}
		os = append(os, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing orgs: %w", err)
	}
	return os, nil
}

// CreateToken fails with store.ErrConflict when the id or the hash is
// taken.
func (s *Store) CreateToken(ctx context.Context, t tenant.Token, events ...systemlog.Event) error {
	ts, err := encTimes(t.Created, t.Revoked)
	if err != nil {
		return fmt.Errorf("creating token %s: %w", t.ID, err)
	}
	if len(t.Hash) == 0 {
		return fmt.Errorf("creating token %s: empty hash", t.ID)
	}
	err = s.withEvents(ctx, events, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, org_id, name, hash, prefix, created, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.OrgID, t.Name, t.Hash, t.Prefix, ts[0], ts[1])
		return err
	})
	if err != nil {
		return fmt.Errorf("creating token %s: %w", t.ID, mapErr(err))
	}
	return nil
}

const tokenCols = `id, org_id, name, hash, prefix, created, revoked`

func scanToken(r scanner) (tenant.Token, error) {
	var t tenant.Token
	var created, revoked sql.NullInt64
	if err := r.Scan(&t.ID, &t.OrgID, &t.Name, &t.Hash, &t.Prefix, &created, &revoked); err != nil {
		return tenant.Token{}, err
	}
	t.Created, t.Revoked = decTime(created), decTime(revoked)
	return t, nil
}

func (s *Store) TokenByHash(ctx context.Context, hash []byte) (tenant.Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	if err != nil {
		// Never the hash in the message: it identifies a secret.
		return tenant.Token{}, fmt.Errorf("finding token: %w", mapErr(err))
	}
	return t, nil
}

// ListTokens returns the tokens whose OrgID is orgID, revoked ones
// included, ordered by id; orgID "" lists the operator's tokens.
func (s *Store) ListTokens(ctx context.Context, orgID string) ([]tenant.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE org_id = ? ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var ts []tenant.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return ts, nil
}

// RevokeToken marks the token revoked at at. Revoking a revoked token
// keeps the first time and is not an error.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time, events ...systemlog.Event) error {
	n, err := encTime(at)
	if err != nil || !n.Valid {
		return fmt.Errorf("revoking token %s: revocation time must be set and storable (%v)", id, err)
	}
	err = s.withEvents(ctx, events, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked = COALESCE(revoked, ?) WHERE id = ?`, n, id)
		if err != nil {
			return err
		}
		if c, err := res.RowsAffected(); err != nil {
			return err
		} else if c == 0 {
			return store.ErrNotFound
		}
		// Every node's cache of valid tokens forgets it when this commits.
		_, err = tx.ExecContext(ctx, `SELECT pg_notify(?, ?)`, tokensChannel, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", id, err)
	}
	return nil
}

func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting tokens: %w", err)
	}
	return n, nil
}
