// Package sqlcommon holds the statements that read alike on SQLite and
// PostgreSQL (written with ?, which the postgres backend rebinds), so
// that each backend's method is its transaction handling only.
package sqlcommon

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// DB is a connection pool or a transaction.
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is a transaction.
type Tx interface {
	DB
	Commit() error
	Rollback() error
}

// Sessions is tenant.SessionStore over a backend's connections: Read for
// reads, Write for single writes, Begin for a write transaction. A
// backend embeds it.
type Sessions struct {
	Read, Write DB
	Begin       func(ctx context.Context) (Tx, error)
}

var _ tenant.SessionStore = Sessions{}

func (s Sessions) CreateSession(ctx context.Context, sess tenant.Session, idleBefore, createdBefore time.Time, limit int) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	defer tx.Rollback()
	if err := createSession(ctx, tx, sess, idleBefore.UnixNano(), createdBefore.UnixNano(), limit); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	return nil
}

func (s Sessions) SessionByHash(ctx context.Context, hash string) (tenant.Session, error) {
	return sessionByHash(ctx, s.Read, hash)
}

func (s Sessions) TouchSession(ctx context.Context, hash string, seen time.Time) error {
	return touchSession(ctx, s.Write, hash, seen.UnixNano())
}

func (s Sessions) SetSessionState(ctx context.Context, hash string, state []byte) error {
	return setSessionState(ctx, s.Write, hash, state)
}

func (s Sessions) DeleteSession(ctx context.Context, hash string) error {
	return deleteSession(ctx, s.Write, hash)
}

func (s Sessions) CountSessions(ctx context.Context) (int, error) { return countSessions(ctx, s.Read) }

func createSession(ctx context.Context, tx DB, s tenant.Session, idleBefore, createdBefore int64, limit int) error {
	if s.Hash == "" || len(s.TokenHash) == 0 {
		return errors.New("creating session: hash and token hash must be set")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE seen < ? OR created < ?`, idleBefore, createdBefore); err != nil {
		return fmt.Errorf("creating session: pruning: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM console_sessions`).Scan(&n); err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	if over := n - limit + 1; limit > 0 && over > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash IN
			(SELECT hash FROM console_sessions ORDER BY seen, hash LIMIT ?)`, over); err != nil {
			return fmt.Errorf("creating session: making room: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (hash, token_hash, created, seen, state) VALUES (?, ?, ?, ?, ?)`,
		s.Hash, s.TokenHash, s.Created.UnixNano(), s.Seen.UnixNano(), s.State); err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	return nil
}

func sessionByHash(ctx context.Context, db DB, hash string) (tenant.Session, error) {
	var (
		s             tenant.Session
		created, seen int64
	)
	err := db.QueryRowContext(ctx, `SELECT hash, token_hash, created, seen, state FROM console_sessions WHERE hash = ?`, hash).
		Scan(&s.Hash, &s.TokenHash, &created, &seen, &s.State)
	if errors.Is(err, sql.ErrNoRows) {
		return tenant.Session{}, store.ErrNotFound
	}
	if err != nil {
		return tenant.Session{}, fmt.Errorf("reading session: %w", err)
	}
	s.Created, s.Seen = unixNano(created), unixNano(seen)
	return s, nil
}

func touchSession(ctx context.Context, db DB, hash string, seen int64) error {
	if _, err := db.ExecContext(ctx, `UPDATE console_sessions SET seen = ? WHERE hash = ? AND seen < ?`, seen, hash, seen); err != nil {
		return fmt.Errorf("touching session: %w", err)
	}
	return nil
}

func setSessionState(ctx context.Context, db DB, hash string, state []byte) error {
	if _, err := db.ExecContext(ctx, `UPDATE console_sessions SET state = ? WHERE hash = ?`, state, hash); err != nil {
		return fmt.Errorf("saving session state: %w", err)
	}
	return nil
}

func deleteSession(ctx context.Context, db DB, hash string) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

func countSessions(ctx context.Context, db DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM console_sessions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting sessions: %w", err)
	}
	return n, nil
}
