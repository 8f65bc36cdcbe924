package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hallmark-dev/hallmark/internal/store/sqlcommon"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// mapDomainErr names the invariant a unique index of domains refused: the
// org already has the name (E0000161), or another domain has proven it
// (E0000120).
func mapDomainErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		switch pe.ConstraintName {
		case "domains_org_name":
			return customdomain.ErrDuplicate
		case "domains_proven_name":
			return customdomain.ErrInUse
		}
	}
	return mapErr(err)
}

// InsertDomain commits a creation whole. The org's advisory lock, held to
// the commit, serialises its creations, so the domain limit holds under
// concurrent creates; the unique indexes refuse the rest.
func (s *Store) InsertDomain(ctx context.Context, c customdomain.Change, limit int) error {
	d := c.Domain
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('org:' || ?::text))`, d.OrgID); err != nil {
		return fmt.Errorf("creating domain %s: locking the org: %w", d.Name, err)
	}
	var same, proven, count int
	if err := tx.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE org_id = ?),
		COUNT(*) FILTER (WHERE status IN ('VERIFIED', 'COMPLETED'))
		FROM domains WHERE name = ?`, d.OrgID, d.Name).Scan(&same, &proven); err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, err)
	}
	switch {
	case same > 0:
		return customdomain.ErrDuplicate
	case proven > 0:
		return customdomain.ErrInUse
	}
	if limit > 0 {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE org_id = ?`, d.OrgID).Scan(&count); err != nil {
			return fmt.Errorf("creating domain %s: counting the org's domains: %w", d.Name, err)
		}
		if count >= limit {
			return customdomain.ErrLimit
		}
	}
	d.Version = 1
	if err := insertDomain(ctx, tx, d); err != nil {
		return err
	}
	c.Domain = d
	if err := writeChangeRest(ctx, tx, c); err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating domain %s: %w", d.Name, mapErr(err))
	}
	return nil
}

// ApplyDomain runs decide on the domain as stored and commits its change,
// all inside one transaction that read the row FOR UPDATE: nothing else
// changes the domain between the read and the commit.
func (s *Store) ApplyDomain(ctx context.Context, id string, decide func(customdomain.Domain) (customdomain.Change, error)) (customdomain.Domain, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return customdomain.Domain{}, fmt.Errorf("changing domain %s: %w", id, err)
	}
	defer tx.Rollback()
	cur, err := scanDomain(tx.QueryRowContext(ctx, selectDomains+`WHERE d.id = ? FOR UPDATE OF d`, id))
	if err != nil {
		return customdomain.Domain{}, fmt.Errorf("changing domain %s: %w", id, mapErr(err))
	}
	c, err := decide(cur)
	if err != nil {
		return customdomain.Domain{}, err
	}
	d := c.Domain
	if d.ID != id {
		return customdomain.Domain{}, fmt.Errorf("changing domain %s: the change is of domain %q", id, d.ID)
	}
	if c.Delete {
		if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE id = ?`, id); err != nil {
			return customdomain.Domain{}, fmt.Errorf("deleting domain %s: %w", id, err)
		}
	} else {
		args, err := domainArgs(d)
		if err != nil {
			return customdomain.Domain{}, err
		}
		lease := ``
		if c.Release {
			lease = `, lease_owner = '', lease_token = '', lease_until = NULL`
		}
		args = append(args, id)
		if _, err := tx.ExecContext(ctx, `UPDATE domains SET (`+domainColumns+`) =
			(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), version = version + 1`+lease+` WHERE id = ?`, args...); err != nil {
			return customdomain.Domain{}, fmt.Errorf("changing domain %s: %w", id, mapDomainErr(err))
		}
		d.Version = cur.Version + 1
		if c.Release {
			d.Lease = customdomain.Lease{}
		}
	}
	if err := writeChangeRest(ctx, tx, c); err != nil {
		return customdomain.Domain{}, fmt.Errorf("changing domain %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return customdomain.Domain{}, fmt.Errorf("changing domain %s: %w", id, mapErr(err))
	}
	return d, nil
}

// writeChangeRest writes what a change holds beside the domain row: the
// certificate, the events and the outbox entries.
func writeChangeRest(ctx context.Context, tx *wtx, c customdomain.Change) error {
	if c.DropCert {
		if _, err := tx.ExecContext(ctx, `DELETE FROM certificates WHERE name = ?`, c.Domain.Name); err != nil {
			return fmt.Errorf("deleting certificate: %w", err)
		}
	}
	if c.Cert != nil {
		if c.Cert.Name != c.Domain.Name {
			return fmt.Errorf("storing certificate: it is for %q", c.Cert.Name)
		}
		if err := sqlcommon.PutCertificate(ctx, tx, *c.Cert, mapErr); err != nil {
			return err
		}
	}
	for _, e := range c.Events {
		if _, err := insertEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	if len(c.Served) > 0 {
		now, err := encTime(time.Now())
		if err != nil {
			return err
		}
		if err := tx.order(ctx); err != nil {
			return err
		}
		for _, name := range c.Served {
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (name, created) VALUES (?, ?)`, name, now); err != nil {
				return fmt.Errorf("writing outbox: %w", err)
			}
		}
		// Delivered to the other nodes' listeners when this commits.
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify(?, '')`, outboxChannel); err != nil {
			return fmt.Errorf("announcing outbox: %w", err)
		}
	}
	return nil
}

// insertEvent stores e with its targets inside tx.
func insertEvent(ctx context.Context, tx *wtx, e systemlog.Event) (int64, error) {
	pub, err := encTime(e.Published)
	if err != nil || !pub.Valid {
		return 0, fmt.Errorf("appending event: published must be set and storable (%v)", err)
	}
	if e.UUID == "" {
		return 0, fmt.Errorf("appending event: uuid must be set (systemlog.Prepare)")
	}
	body, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("appending event: encoding: %w", err)
	}
	if err := tx.order(ctx); err != nil {
		return 0, err
	}
	var seq int64
	err = tx.QueryRowContext(ctx, `INSERT INTO events (uuid, org_id, published, event_type, severity, outcome_result, actor_id, search, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.UUID, e.OrgID, pub, e.EventType, e.Severity, e.Outcome.Result, e.Actor.ID, systemlog.SearchText(e), string(body)).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("appending event: %w", mapErr(err))
	}
	for i, t := range e.Target {
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_targets (seq, pos, target_id) VALUES (?, ?, ?)`, seq, i, t.ID); err != nil {
			return 0, fmt.Errorf("appending event: target %d: %w", i, err)
		}
	}
	return seq, nil
}

func (s *Store) OutboxAfter(ctx context.Context, after int64, limit int) ([]customdomain.OutboxEntry, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	rows, err := s.readQuery(ctx, `SELECT seq, name, created FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	defer rows.Close()
	var es []customdomain.OutboxEntry
	for rows.Next() {
		var e customdomain.OutboxEntry
		var created int64
		if err := rows.Scan(&e.Seq, &e.Name, &created); err != nil {
			return nil, fmt.Errorf("reading outbox: %w", err)
		}
		e.Created = decTime(sqlNull(created))
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	return es, nil
}

func (s *Store) OutboxHead(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM outbox`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("reading outbox head: %w", err)
	}
	return seq, nil
}

// PruneOutbox deletes old entries, keeping the newest one so that the
// head (and with it SQLite's next seq) never moves back.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int, error) {
	ts, err := encTime(before)
	if err != nil || !ts.Valid {
		return 0, fmt.Errorf("pruning outbox: before must be set and storable (%v)", err)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE created < ? AND seq < (SELECT MAX(seq) FROM outbox)`, ts)
	if err != nil {
		return 0, fmt.Errorf("pruning outbox: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
