package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hallmark-dev/hallmark/internal/store"
)

// Ping reports whether the database answers reads.
func (s *Store) Ping(ctx context.Context) error {
	return s.read.PingContext(ctx)
}

// Ready reports whether the database takes writes (readiness): it commits
// a small write, so a full disk or a read-only file makes it fail with a
// *store.UnavailableError, and it succeeds again once writes do.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.Fault(fmt.Errorf("readiness write: %w", err))
	}
	defer tx.Rollback()
	// A page-sized value, so that the write needs room as a real one does.
	if _, err := tx.ExecContext(ctx, `INSERT INTO readiness (id, at, pad) VALUES (1, ?, zeroblob(4096))
		ON CONFLICT (id) DO UPDATE SET at = excluded.at, pad = zeroblob(4096 + (excluded.at % 2))`, time.Now().UnixNano()); err != nil {
		return s.Fault(fmt.Errorf("readiness write: %w", err))
	}
	if err := tx.Commit(); err != nil {
		return s.Fault(fmt.Errorf("readiness write: %w", err))
	}
	return nil
}

// Fault returns err as a *store.UnavailableError when SQLite reports that
// the storage is full, read-only or failing, and err unchanged otherwise.
func (s *Store) Fault(err error) error { return fault(err) }

func fault(err error) error {
	var se *sqlite.Error
	if err == nil || errors.Is(err, store.ErrUnavailable) || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_FULL:
		return &store.UnavailableError{Reason: "the storage is full", Err: err}
	case sqlite3.SQLITE_READONLY:
		return &store.UnavailableError{Reason: "the database is read-only", Err: err}
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return &store.UnavailableError{Reason: "the storage failed a read or write (I/O error)", Err: err}
	}
	return err
}
