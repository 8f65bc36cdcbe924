package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store/sqlquery"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// AppendEvent stores e with its targets in one transaction.
func (s *Store) AppendEvent(ctx context.Context, e systemlog.Event) (int64, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("appending event: %w", err)
	}
	defer tx.Rollback()
	seq, err := insertEvent(ctx, tx, e)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("appending event: %w", err)
	}
	return seq, nil
}

// QueryEvents translates q with sqlquery (shared with the PostgreSQL
// backend) and returns the events in Seq order.
func (s *Store) QueryEvents(ctx context.Context, q systemlog.Query) ([]systemlog.Event, error) {
	if err := checkLimit(q.Limit); err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	b := sqlquery.NewBuilder(sqlquery.Dollar)
	where, err := b.EventWhere(q)
	if err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	order := "ASC"
	if q.Descending {
		order = "DESC"
	}
	query := `SELECT e.seq, e.org_id, e.published, e.body FROM events e WHERE ` + where +
		` ORDER BY e.seq ` + order + ` LIMIT ` + b.Arg(q.Limit)
	rows, err := s.db.DB.QueryContext(ctx, query, b.Args...) // already in $n style
	if err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	defer rows.Close()
	var evs []systemlog.Event
	for rows.Next() {
		var (
			seq       int64
			org, body string
			published int64
		)
		if err := rows.Scan(&seq, &org, &published, &body); err != nil {
			return nil, fmt.Errorf("querying events: %w", err)
		}
		var e systemlog.Event
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("querying events: event %d: decoding: %w", seq, err)
		}
		e.Seq, e.OrgID = seq, org
		e.Published = decTime(sqlNull(published))
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	return evs, nil
}
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE seq IN
		(SELECT seq FROM events WHERE published < ? ORDER BY published LIMIT ?)`, t.UnixNano(), limit)
	if err != nil {
		return 0, fmt.Errorf("deleting events: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}
