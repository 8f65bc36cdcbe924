package transfer_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store/postgres"
	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/store/transfer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// source is an embedded database with a domain and a brand (whose
// booleans SQLite keeps as 0 and 1), opened raw for the copy.
func source(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hallmark.db")
	st, err := sqlite.Open(t.Context(), path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateDomain(t.Context(), customdomain.Domain{ID: "dom1", OrgID: "org1", Name: "login.acme.com",
		CertSource: customdomain.Managed, Status: customdomain.InProgress, Token: "tok", Version: 3,
		Created: now, Updated: now, NextCheck: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBrand(t.Context(), brand.Brand{ID: "bnd1", OrgID: "org1", Name: "Acme", AgreeToCustomPrivacyPolicy: true,
		Created: now, Updated: now}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// target is an empty PostgreSQL database with the schema applied.
func target(t *testing.T) (*pgx.Conn, *postgres.Store) {
	t.Helper()
	url := pgtest.New(t)
	st, err := postgres.Open(t.Context(), url, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn, st
}

func TestCopy(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		src := source(t)
		conn, st := target(t)
		rep, err := transfer.Copy(t.Context(), src, conn)
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]int64{}
		for _, tb := range rep.Tables {
			rows[tb.Name] = tb.Rows
		}
		if rows["domains"] != 1 || rows["brands"] != 1 {
			t.Errorf("copied %v, want one domain and one brand", rows)
		}
		if _, ok := rep.Skipped["events_fts"]; !ok {
			t.Errorf("skipped %v, want the keyword index named", rep.Skipped)
		}
		d, err := st.GetDomain(t.Context(), "dom1")
		if err != nil || d.Version != 3 || d.NextCheck.IsZero() {
			t.Errorf("the copied domain: %+v, %v", d, err)
		}
		b, err := st.GetBrand(t.Context(), "bnd1")
		if err != nil || !b.AgreeToCustomPrivacyPolicy || b.RemovePoweredByOkta {
			t.Errorf("the copied brand: %+v, %v (its booleans must come across)", b, err)
		}
	})

	t.Run("fail/target-not-empty", func(t *testing.T) {
		conn, st := target(t)
		if err := st.CreateDomain(t.Context(), customdomain.Domain{ID: "domX", OrgID: "o", Name: "x.acme.com",
			CertSource: customdomain.Managed, Status: customdomain.NotStarted, Token: "t", Version: 1, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		_, err := transfer.Copy(t.Context(), source(t), conn)
		if !errors.Is(err, transfer.ErrNotEmpty) || !strings.Contains(err.Error(), "domains") {
			t.Errorf("Copy into a database with a domain: %v, want ErrNotEmpty naming domains", err)
		}
	})

	// A fault between the copy and its check: a trigger in the target
	// changes what is written. The check sees it and nothing is committed.
	t.Run("fail/copy-differs-nothing-committed", func(t *testing.T) {
		conn, st := target(t)
		if _, err := conn.Exec(t.Context(), `CREATE FUNCTION garble() RETURNS trigger AS $$
			BEGIN NEW.token := NEW.token || '!'; RETURN NEW; END $$ LANGUAGE plpgsql;
			CREATE TRIGGER garble BEFORE INSERT ON domains FOR EACH ROW EXECUTE FUNCTION garble();`); err != nil {
			t.Fatal(err)
		}
		_, err := transfer.Copy(t.Context(), source(t), conn)
		if err == nil || !strings.Contains(err.Error(), "domains") || !strings.Contains(err.Error(), "differs") {
			t.Fatalf("Copy through a garbling trigger: %v, want the domains table reported as differing", err)
		}
		if n, err := st.CountDomains(t.Context(), "org1"); err != nil || n != 0 {
			t.Errorf("after the failed copy the target holds %d domains (%v), want none", n, err)
		}
	})

	t.Run("fail/column-missing-in-target", func(t *testing.T) {
		conn, _ := target(t)
		if _, err := conn.Exec(t.Context(), `ALTER TABLE brands DROP COLUMN locale`); err != nil {
			t.Fatal(err)
		}
		_, err := transfer.Copy(t.Context(), source(t), conn)
		if err == nil || !strings.Contains(err.Error(), "brands") || !strings.Contains(err.Error(), "locale") {
			t.Errorf("Copy into a schema without brands.locale: %v, want an error naming the table and column", err)
		}
	})
}
