// Package sqlite is the embedded storage backend: one SQLite database file
// (modernc.org/sqlite, no cgo) holding domains, orgs, tokens and the system
// log. It implements customdomain.Store, tenant.Store and systemlog.Store.
//
// Writes go through their own *sql.DB limited to one connection, whose
// transactions begin IMMEDIATE: writers queue in Go instead of failing with
// SQLITE_BUSY, and a read-modify-write transaction (ClaimDue, UpdateDomain)
// is atomic. Reads use a separate pool of read-only connections, which WAL
// lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/store/sqlcommon"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

var (
	_ customdomain.Store = (*Store)(nil)
	_ tenant.Store       = (*Store)(nil)
	_ systemlog.Store    = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an open database.
type Store struct {
	sqlcommon.Sessions
	sqlcommon.RateCounts
	sqlcommon.Secrets
	sqlcommon.Brands
	sqlcommon.Certs
	write  *sql.DB // one connection, BEGIN IMMEDIATE
	read   *sql.DB // read-only pool
	logger *slog.Logger
	stmts  stmts
}

// Open opens (creating if needed) the database at path and applies the
// migrations it lacks.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("opening database %q: the path must be non-empty and hold neither ? nor #", path)
	}
	if err := privateFiles(path); err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	// case_sensitive_like makes LIKE (the filter's sw and the q keywords)
	// compare exactly, as PostgreSQL's LIKE and systemlog.Match do.
	common := "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=case_sensitive_like(1)&_pragma=synchronous(NORMAL)"
	write, err := sql.Open("sqlite", path+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	s := &Store{write: write, logger: logger}
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrating database %s: %w", path, err)
	}
	// The read pool opens after the writer has switched the file to WAL,
	// so readers never try to change the journal mode themselves.
	// Each reader keeps a page cache of 512 KiB instead of SQLite's 2 MiB:
	// the edge reads a certificate once per name and caches it, so pages
	// beyond the tables' interior nodes are rarely read twice, and four
	// full caches were about 12 MiB of the service's resident memory.
	read, err := sql.Open("sqlite", path+common+"&_pragma=query_only(1)&_pragma=cache_size(-512)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	s.read = read
	begin := func(ctx context.Context) (sqlcommon.Tx, error) { return write.BeginTx(ctx, nil) }
	s.Sessions = sqlcommon.Sessions{Read: read, Write: write, Begin: begin}
	s.RateCounts = sqlcommon.RateCounts{Begin: begin}
	s.Secrets = sqlcommon.Secrets{Read: read, Begin: begin, MapErr: mapErr}
	s.Brands = sqlcommon.Brands{Read: read, Write: write, Begin: begin, MapErr: mapErr}
	s.Certs = sqlcommon.Certs{Row: func(ctx context.Context, q string, args ...any) sqlcommon.Scanner { return s.readRow(ctx, q, args...) }, Read: read, Write: write, Begin: begin, MapErr: mapErr}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	return errors.Join(s.read.Close(), s.write.Close())
}

// migrate applies, in one transaction, every migrations/NNNN_*.sql file
// whose version is not yet in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	applied, version, err := sqlcommon.Migrate(ctx, tx, tx, migrations, "INTEGER")
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if applied > 0 {
		s.logger.Info("database migrated", "applied", applied, "version", version)
	}
	return nil
}

// mapErr turns unique-constraint violations into store.ErrConflict and
// sql.ErrNoRows into store.ErrNotFound.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
	}
	return fault(err)
}

// Times are stored as Unix nanoseconds; the zero time as NULL (sqlcommon).
var (
	encTime    = sqlcommon.EncTime
	decTime    = sqlcommon.DecTime
	encTimes   = sqlcommon.EncTimes
	checkLimit = sqlcommon.CheckLimit
)

func sqlNull(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: true} }

// privateFiles creates the database file 0600 if it is missing and makes it
// and its -wal and -shm files 0600 if they exist with wider modes. SQLite
// creates the journal files with the database file's mode, so they start
// private too. In-memory and URI paths are left alone.
func privateFiles(path string) error {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("making %s private: %w", p, err)
		}
	}
	return nil
}
