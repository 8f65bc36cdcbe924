package sqlcommon

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Execer runs statements inside a transaction.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type migration struct {
	version int
	name    string
}

// Migrate applies, inside tx, every migrations/NNNN_*.sql file of fsys
// whose version schema_migrations does not record, in version order:
// branches that added migrations side by side land in any order. raw runs
// the files' bodies as they are (tx may rewrite placeholders); intType is
// the database's 64-bit integer type. It returns how many were applied and
// the schema version after.
func Migrate(ctx context.Context, tx, raw Execer, fsys fs.FS, intType string) (applied, version int, err error) {
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return 0, 0, err
	}
	var ms []migration
	for _, f := range files {
		base := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return 0, 0, fmt.Errorf("migration %s: name must start with a positive number and _", base)
		}
		ms = append(ms, migration{v, f})
	}
	if len(ms) == 0 {
		return 0, 0, fmt.Errorf("no migrations")
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			// Two branches took one number: one of them would never apply.
			return 0, 0, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		applied `+intType+` NOT NULL
	)`); err != nil {
		return 0, 0, err
	}
	done, err := recorded(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	for v := range done {
		version = max(version, v)
	}
	if latest := ms[len(ms)-1].version; version > latest {
		return 0, 0, fmt.Errorf("the database has schema version %d, newer than this program's %d; run a newer hallmark", version, latest)
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		body, err := fs.ReadFile(fsys, m.name)
		if err != nil {
			return 0, 0, err
		}
		if _, err := raw.ExecContext(ctx, string(body)); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
			m.version, time.Now().UnixNano()); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", m.name, err)
		}
		applied++
		version = max(version, m.version)
	}
	return applied, version, nil
}

func recorded(ctx context.Context, tx Execer) (map[int]bool, error) {
	done := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}
