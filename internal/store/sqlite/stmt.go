package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmts prepares each hot statement once per pool and keeps it: parsing
// SQL was a quarter of the CPU of a domain's change. database/sql prepares
// a statement again on each new connection by itself, and a transaction
// on the writer's single connection reuses the one prepared there.
type stmts struct {
	mu sync.Mutex
	m  map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// cached returns the prepared statement of query on db, if there is one.
func (c *stmts) cached(db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[stmtKey{db, query}]
}

// get returns the prepared statement of query on db, preparing it first.
// Never call it for the writer inside a transaction: preparing needs the
// writer's one connection, which the transaction holds.
func (c *stmts) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	if st := c.cached(db, query); st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[stmtKey{db, query}]; ok {
		st.Close()
		return prev, nil
	}
	if c.m == nil {
		c.m = make(map[stmtKey]*sql.Stmt)
	}
	c.m[stmtKey{db, query}] = st
	return st, nil
}

func (c *stmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// wtx is a write transaction that runs the writer's prepared statements.
// A statement not prepared yet runs as plain SQL and is prepared after
// the commit, when the writer's connection is free again.
type wtx struct {
	*sql.Tx
	s       *Store
	pending []string
}

func (s *Store) begin(ctx context.Context) (*wtx, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &wtx{Tx: tx, s: s}, nil
}

func (t *wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.s.stmts.cached(t.s.write, query); st != nil {
		return t.Tx.StmtContext(ctx, st)
	}
	t.pending = append(t.pending, query)
	return nil
}

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) rowScanner {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// Commit commits, then prepares the statements the transaction ran as
// plain SQL.
func (t *wtx) Commit() error {
	if err := t.Tx.Commit(); err != nil {
		return err
	}
	for _, q := range t.pending {
		// A statement that does not prepare keeps running as plain SQL.
		_, _ = t.s.stmts.get(context.Background(), t.s.write, q)
	}
	t.pending = nil
	return nil
}

// readRow runs a one-row query on the read pool with a prepared statement.
func (s *Store) readRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := s.stmts.get(ctx, s.read, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// readQuery runs a query on the read pool with a prepared statement.
func (s *Store) readQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmts.get(ctx, s.read, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
