// Package postgres is the shared storage backend: one PostgreSQL database
// (github.com/jackc/pgx/v5 through its database/sql adapter) holding what
// the embedded sqlite backend holds, with the same schema, the same time
// encoding (BIGINT Unix nanoseconds, NULL for the zero time) and the same
// contracts, so that several nodes can share it. It implements
// customdomain.Store, tenant.Store, systemlog.Store, issuance.Store and
// edge.Challenges.
//
// The database/sql adapter rather than pgxpool: the statements, scans and
// nullable types are those of the sqlite backend, so the two read alike and
// differ only where the databases do (locking, error codes); pgx caches the
// prepared statement of each query per connection by itself.
//
// Where SQLite serialises every writer on one connection, this backend
// locks what a change depends on: ApplyDomain reads the row FOR UPDATE,
// ClaimDue skips rows another claimer has locked (FOR UPDATE SKIP LOCKED),
// InsertDomain takes a transaction advisory lock on the org.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

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

// migrationLock is the pg_advisory_xact_lock key the migrations run under,
// so that nodes starting at once apply them one after the other.
const migrationLock = 0x68616c6c6d61726b // "hallmark"

// Store is an open database.
type Store struct {
	sqlcommon.Sessions
	sqlcommon.RateCounts
	sqlcommon.Secrets
	sqlcommon.Brands
	sqlcommon.Certs
	db     pool
	url    string // for connections of its own (LISTEN); never logged
	logger *slog.Logger
}

// Open connects to the database at url (postgres://...) and applies the
// migrations it lacks.
func Open(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, errors.New("opening database: the URL must start with postgres:// or postgresql://")
	}
	// Never a hang on a database that does not answer: a connection
	// attempt gives up after 5 s unless the URL says otherwise.
	if !strings.Contains(url, "connect_timeout=") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + "connect_timeout=5"
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		// Never the URL in the message: it may hold a password.
		return nil, fmt.Errorf("opening database: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: pool{db}, url: url, logger: logger}
	begin := func(ctx context.Context) (sqlcommon.Tx, error) { return s.begin(ctx) }
	s.Sessions = sqlcommon.Sessions{Read: s.db, Write: s.db, Begin: begin}
	s.RateCounts = sqlcommon.RateCounts{Begin: begin}
	s.Secrets = sqlcommon.Secrets{Read: s.db, Begin: begin, MapErr: mapErr}
	s.Brands = sqlcommon.Brands{Read: s.db, Write: s.db, Begin: begin, MapErr: mapErr}
	s.Certs = sqlcommon.Certs{Row: func(ctx context.Context, q string, args ...any) sqlcommon.Scanner { return s.readRow(ctx, q, args...) }, Read: s.db, Write: s.db, Begin: begin, MapErr: mapErr}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating database: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// migrate applies, in one transaction holding the migration lock, every
// migrations/NNNN_*.sql file whose version is not yet in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("taking the migration lock: %w", err)
	}
	applied, version, err := sqlcommon.Migrate(ctx, tx, tx.Tx, migrations, "BIGINT")
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

// uniqueViolation is PostgreSQL's SQLSTATE for a unique index refusing a row.
const uniqueViolation = "23505"

// mapErr turns unique-constraint violations into store.ErrConflict and
// sql.ErrNoRows into store.ErrNotFound.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

// Times are stored as Unix nanoseconds; the zero time as NULL (sqlcommon).
var (
	encTime    = sqlcommon.EncTime
	decTime    = sqlcommon.DecTime
	encTimes   = sqlcommon.EncTimes
	checkLimit = sqlcommon.CheckLimit
)

func sqlNull(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: true} }

// The statements are written with ? as in the sqlite backend, and rebound
// to PostgreSQL's $1, $2, ... once per statement text. None holds a ?
// of its own (no JSON operators, no ? in a literal).
var rebound sync.Map // string -> string

func rebind(q string) string {
	if r, ok := rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	r := b.String()
	rebound.Store(q, r)
	return r
}

// pool is the connection pool, rebinding each statement.
type pool struct{ *sql.DB }

func (p pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.DB.ExecContext(ctx, rebind(query), args...)
}

func (p pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.DB.QueryContext(ctx, rebind(query), args...)
}

func (p pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.DB.QueryRowContext(ctx, rebind(query), args...)
}

// wtx is a transaction, rebinding each statement.
type wtx struct {
	*sql.Tx
	ordered bool // holds the commit order lock
}

func (s *Store) begin(ctx context.Context) (*wtx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &wtx{Tx: tx}, nil
}

// commitOrderLock is the pg_advisory_xact_lock key under which a
// transaction appends to the logs that readers follow by position (events,
// outbox).
const commitOrderLock = 0x68616c6c6c6f6721 // "hallog!"

// ordered makes tx's appends to events and outbox commit in the order of
// their positions. An identity column hands out positions when rows are
// inserted, not when they commit: two nodes' transactions can commit
// positions 8 then 7, and a reader that saw 8 and pages "after 8" would
// never see 7. Holding one lock from the first append to the commit
// serialises the appending transactions' tails, so a position is taken only
// after every lower one has committed or rolled back. Every transaction
// appends last, just before it commits, so the lock is held for an insert
// and a commit, and no row lock is ever awaited under it.
func (t *wtx) order(ctx context.Context) error {
	if t.ordered {
		return nil
	}
	if _, err := t.Tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(commitOrderLock)); err != nil {
		return fmt.Errorf("taking the commit order lock: %w", err)
	}
	t.ordered = true
	return nil
}

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, rebind(query), args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, rebind(query), args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, rebind(query), args...)
}

func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, query, args...)
}

func (s *Store) readQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, query, args...)
}
