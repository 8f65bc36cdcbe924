package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hallmark-dev/hallmark/internal/store"
)

// Ping reports whether the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	return s.db.PingContext(ctx)
}

// Ready reports whether the database takes writes now: a small write to
// the readiness row, committed.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO readiness (id, at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at`, time.Now().UnixNano())
	if err != nil {
		return s.Fault(fmt.Errorf("readiness write: %w", err))
	}
	return nil
}

// Fault returns err as a *store.UnavailableError when PostgreSQL reports
// that it cannot take writes (disk full, read-only transaction, too many
// connections, shutting down), and err unchanged otherwise.
func (s *Store) Fault(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if unreachable(err) {
		return &store.UnavailableError{Reason: "the database cannot be reached", Err: err}
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "53100":
		return &store.UnavailableError{Reason: "the database's disk is full", Err: err}
	case pe.Code == "25006":
		return &store.UnavailableError{Reason: "the database is read-only", Err: err}
	case strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"), strings.HasPrefix(pe.Code, "08"):
		return &store.UnavailableError{Reason: "the database is not accepting work now", Err: err}
	}
	return err
}

// unreachable reports whether err says that the server could not be
// reached or the connection broke (refused, reset, timed out, closed): the
// database is down or restarting, not refusing this request.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.Timeout(err),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "failed to connect")
}
