// Package transfer copies an embedded installation's SQLite database into
// an empty PostgreSQL database, for an installation moving from one machine
// to several nodes (`hallmark migrate`).
//
// The copy is one generic table copy driven by the schema: the two
// backends keep the same tables and column names (their migrations say
// so), so every table of the source is streamed into the table of the same
// name with COPY, its values converted to the target column's type where
// the backends differ (SQLite's 0/1 integers become PostgreSQL booleans,
// and TEXT and BLOB values are coerced to the target's text or bytea).
// Ids, sequence numbers and times are copied as they are, so events keep
// their order and every cursor (event hooks') stays valid; each identity
// column's sequence is then moved past the largest value copied.
//
// Not copied: schema_migrations (the target has its own), SQLite's virtual
// tables and their shadow tables (events_fts, the keyword index that
// PostgreSQL does without), and readiness (a scratch row rewritten by each
// readiness check).
//
// Everything is copied in one transaction of the target, checked before it
// commits: per table, the row count and an order-independent digest of
// every row's content read back from the target must equal those of the
// source. A target that holds any row is refused.
package transfer

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// skipped are the source tables not copied, with the reason.
var skipped = map[string]string{
	"schema_migrations": "the target's own schema version",
	"readiness":         "a scratch row of the readiness check",
}

// ErrNotEmpty means the target database holds rows already.
var ErrNotEmpty = errors.New("the target database is not empty")

// Table is what was copied of one table.
type Table struct {
	Name   string
	Rows   int64
	Digest string // hex, the same for source and target
}

// Report is the outcome of a copy.
type Report struct {
	Tables []Table
	// Skipped are the source tables not copied, with the reason.
	Skipped map[string]string
}

// column is one copied column with the target's type.
type column struct {
	name, pgType string
}

// Copy copies the SQLite database src into the PostgreSQL database dst,
// whose schema is already applied and which must hold no rows, and checks
// the copy before committing it. src is read in one transaction, a
// consistent snapshot.
func Copy(ctx context.Context, src *sql.DB, dst *pgx.Conn) (Report, error) {
	stx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Report{}, fmt.Errorf("reading the embedded database: %w", err)
	}
	defer stx.Rollback()
	tables, skip, err := sourceTables(ctx, stx)
	if err != nil {
		return Report{}, fmt.Errorf("reading the embedded database's schema: %w", err)
	}

	dtx, err := dst.Begin(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("PostgreSQL: %w", err)
	}
	defer dtx.Rollback(context.WithoutCancel(ctx))
	if err := refuseNonEmpty(ctx, dtx); err != nil {
		return Report{}, err
	}

	rep := Report{Skipped: skip}
	for _, name := range tables {
		cols, err := columns(ctx, stx, dtx, name)
		if err != nil {
			return Report{}, fmt.Errorf("table %s: %w", name, err)
		}
		rows, err := stx.QueryContext(ctx, "SELECT "+sqliteList(cols)+" FROM "+sqliteIdent(name))
		if err != nil {
			return Report{}, fmt.Errorf("table %s: reading: %w", name, err)
		}
		feed := &feed{rows: rows, cols: cols}
		n, err := dtx.CopyFrom(ctx, pgx.Identifier{name}, names(cols), feed)
		rows.Close()
		if err == nil {
			err = feed.err
		}
		if err != nil {
			return Report{}, fmt.Errorf("table %s: copying: %w", name, err)
		}
		if err := bumpIdentity(ctx, dtx, name); err != nil {
			return Report{}, fmt.Errorf("table %s: %w", name, err)
		}
		got, err := targetDigest(ctx, dtx, name, cols)
		if err != nil {
			return Report{}, fmt.Errorf("table %s: reading the copy back: %w", name, err)
		}
		if n != feed.sum.rows || got.rows != feed.sum.rows || got.sum != feed.sum.sum {
			return Report{}, fmt.Errorf("table %s: the copy differs from the source: %d rows read, %d copied, %d read back (digest %s, source %s); nothing was committed",
				name, feed.sum.rows, n, got.rows, got.hex(), feed.sum.hex())
		}
		rep.Tables = append(rep.Tables, Table{Name: name, Rows: got.rows, Digest: got.hex()})
	}
	if err := dtx.Commit(ctx); err != nil {
		return Report{}, fmt.Errorf("PostgreSQL: committing the copy: %w", err)
	}
	return rep, nil
}

// sourceTables lists the tables to copy in the order they were created
// (parents before the tables referring to them), and those skipped.
func sourceTables(ctx context.Context, tx *sql.Tx) ([]string, map[string]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' ORDER BY rowid`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	type tbl struct{ name, sql string }
	var all []tbl
	for rows.Next() {
		var t tbl
		if err := rows.Scan(&t.name, &t.sql); err != nil {
			return nil, nil, err
		}
		all = append(all, t)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var virtual []string
	for _, t := range all {
		if strings.HasPrefix(strings.ToUpper(t.sql), "CREATE VIRTUAL TABLE") {
			virtual = append(virtual, t.name)
		}
	}
	skip := map[string]string{}
	var out []string
	for _, t := range all {
		if why, ok := skipped[t.name]; ok {
			skip[t.name] = why
			continue
		}
		if strings.HasPrefix(t.name, "sqlite_") {
			continue // SQLite's own (sqlite_sequence, sqlite_stat1)
		}
		if slices.Contains(virtual, t.name) {
			skip[t.name] = "an SQLite virtual table (the system log's keyword index, which PostgreSQL does without)"
			continue
		}
		if slices.ContainsFunc(virtual, func(v string) bool { return strings.HasPrefix(t.name, v+"_") }) {
			continue // a virtual table's shadow table
		}
		out = append(out, t.name)
	}
	return out, skip, nil
}

// refuseNonEmpty fails with ErrNotEmpty, naming the tables, when a table
// of the target holds a row.
func refuseNonEmpty(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		return fmt.Errorf("PostgreSQL: listing tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("PostgreSQL: listing tables: %w", err)
	}
	var full []string
	for _, n := range names {
		if n == "schema_migrations" {
			continue
		}
		var any bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{n}.Sanitize()+")").Scan(&any); err != nil {
			return fmt.Errorf("PostgreSQL: reading %s: %w", n, err)
		}
		if any {
			full = append(full, n)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s hold rows; migrate copies into an empty database only (create a new one, for example with createdb, and point --to at it)",
			ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// columns returns the source table's columns with the target's types; a
// column the target lacks is an error (the schemas drifted apart).
func columns(ctx context.Context, stx *sql.Tx, dtx pgx.Tx, table string) ([]column, error) {
	rows, err := dtx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		return nil, err
	}
	target := map[string]string{}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			rows.Close()
			return nil, err
		}
		target[n] = typ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(target) == 0 {
		return nil, errors.New("PostgreSQL's schema has no such table; this hallmark cannot migrate it")
	}
	srows, err := stx.QueryContext(ctx, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer srows.Close()
	var cols []column
	for srows.Next() {
		var n string
		if err := srows.Scan(&n); err != nil {
			return nil, err
		}
		typ, ok := target[n]
		if !ok {
			return nil, fmt.Errorf("column %s has no column in PostgreSQL's schema; this hallmark cannot migrate it", n)
		}
		cols = append(cols, column{name: n, pgType: typ})
	}
	return cols, srows.Err()
}

// bumpIdentity moves each identity column's sequence past the largest
// value copied, so rows inserted afterwards get new numbers.
func bumpIdentity(ctx context.Context, tx pgx.Tx, table string) error {
	rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'`, table)
	if err != nil {
		return err
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, c := range cols {
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX(%s), 0) + 1, false) FROM %s`,
			pgx.Identifier{c}.Sanitize(), pgx.Identifier{table}.Sanitize())
		if _, err := tx.Exec(ctx, q, pgx.Identifier{table}.Sanitize(), c); err != nil {
			return fmt.Errorf("moving the sequence of %s past the rows copied: %w", c, err)
		}
	}
	return nil
}

// feed streams source rows into COPY, converting each value to its target
// column's type and summing the rows' digest on the way.
type feed struct {
	rows *sql.Rows
	cols []column
	vals []any
	sum  digest
	err  error
}

func (f *feed) Next() bool {
	if !f.rows.Next() {
		return false
	}
	raw := make([]any, len(f.cols))
	ptrs := make([]any, len(f.cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := f.rows.Scan(ptrs...); err != nil {
		f.err = err
		return false
	}
	f.vals = make([]any, len(f.cols))
	for i, c := range f.cols {
		v, err := convert(raw[i], c.pgType)
		if err != nil {
			f.err = fmt.Errorf("column %s: %w", c.name, err)
			return false
		}
		f.vals[i] = v
	}
	f.sum.add(f.vals)
	return true
}

func (f *feed) Values() ([]any, error) { return f.vals, nil }

func (f *feed) Err() error {
	if f.err != nil {
		return f.err
	}
	return f.rows.Err()
}

// convert turns a value read from SQLite into the Go type PostgreSQL's
// column type takes.
func convert(v any, pgType string) (any, error) {
	switch pgType {
	case "boolean":
		switch x := v.(type) {
		case nil, bool:
			return x, nil
		case int64:
			if x != 0 && x != 1 {
				return nil, fmt.Errorf("%d is not a boolean (0 or 1)", x)
			}
			return x == 1, nil
		}
		return nil, fmt.Errorf("a %T is not a boolean", v)
	case "text", "character varying":
		if b, ok := v.([]byte); ok {
			return string(b), nil
		}
	case "bytea":
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	}
	return v, nil
}

// targetDigest reads table back from the target and sums its digest.
func targetDigest(ctx context.Context, tx pgx.Tx, table string, cols []column) (digest, error) {
	rows, err := tx.Query(ctx, "SELECT "+pgList(cols)+" FROM "+pgx.Identifier{table}.Sanitize())
	if err != nil {
		return digest{}, err
	}
	defer rows.Close()
	var d digest
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return digest{}, err
		}
		d.add(vals)
	}
	return d, rows.Err()
}

// digest is an order-independent digest of a set of rows: their count and
// the lane-wise sum of the rows' SHA-256, so source and target compare
// equal whatever order either returns them in.
type digest struct {
	rows int64
	sum  [4]uint64
}

func (d *digest) add(vals []any) {
	h := sha256.New()
	var buf [9]byte
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			h.Write([]byte{0})
		case bool:
			buf[0] = 1
			binary.BigEndian.PutUint64(buf[1:], 0)
			if x {
				buf[8] = 1
			}
			h.Write(buf[:])
		case int64:
			buf[0] = 1
			binary.BigEndian.PutUint64(buf[1:], uint64(x))
			h.Write(buf[:])
		case int32:
			buf[0] = 1
			binary.BigEndian.PutUint64(buf[1:], uint64(int64(x)))
			h.Write(buf[:])
		case int16:
			buf[0] = 1
			binary.BigEndian.PutUint64(buf[1:], uint64(int64(x)))
			h.Write(buf[:])
		case float64:
			buf[0] = 4
			binary.BigEndian.PutUint64(buf[1:], math.Float64bits(x))
			h.Write(buf[:])
		case string:
			writeBytes(h, 2, []byte(x))
		case []byte:
			writeBytes(h, 3, x)
		default:
			writeBytes(h, 5, fmt.Appendf(nil, "%T:%v", x, x))
		}
	}
	sum := h.Sum(nil)
	for i := range d.sum {
		d.sum[i] += binary.BigEndian.Uint64(sum[8*i:])
	}
	d.rows++
}

func writeBytes(h interface{ Write([]byte) (int, error) }, tag byte, b []byte) {
	var hdr [9]byte
	hdr[0] = tag
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(b)))
	h.Write(hdr[:])
	h.Write(b)
}

func (d digest) hex() string {
	var b [32]byte
	for i, w := range d.sum {
		binary.BigEndian.PutUint64(b[8*i:], w)
	}
	return hex.EncodeToString(b[:8])
}

func names(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

func sqliteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sqliteList(cols []column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = sqliteIdent(c.name)
	}
	return strings.Join(parts, ", ")
}

func pgList(cols []column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = pgx.Identifier{c.name}.Sanitize()
	}
	return strings.Join(parts, ", ")
}
