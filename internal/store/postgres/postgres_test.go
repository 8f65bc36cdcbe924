package postgres_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/store/postgres"
	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
	"github.com/hallmark-dev/hallmark/internal/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend { return open(t, pgtest.New(t)) })
}

// Nodes starting at once on an empty database: the migration lock makes
// one apply the schema and the others find it applied.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.New(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, versions int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || rows == 0 {
		t.Errorf("schema_migrations holds %d rows for %d versions, want one row per version", rows, versions)
	}
}

// Two nodes (two pools on one database) changing one domain at once: each
// change reads the row FOR UPDATE, so none is lost.
func TestApplyDomainAcrossStoresLosesNoChange(t *testing.T) {
	url := pgtest.New(t)
	a, b := open(t, url), open(t, url)
	now := time.Now()
	d := customdomain.Domain{ID: "dom1", OrgID: "org1", Name: "a.example.com", CertSource: customdomain.Managed,
		Status: customdomain.NotStarted, Token: "tok", Version: 1, Created: now, Updated: now}
	if err := a.CreateDomain(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	const per = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*per)
	for _, s := range []*postgres.Store{a, b, a, b} {
		wg.Go(func() {
			for range per / 2 {
				_, err := s.ApplyDomain(t.Context(), "dom1", func(cur customdomain.Domain) (customdomain.Change, error) {
					cur.Attempts++
					return customdomain.Change{Domain: cur}, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ApplyDomain: %v", err)
	}
	got, err := b.GetDomain(t.Context(), "dom1")
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 * (per / 2); got.Attempts != want || got.Version != int64(want)+1 {
		t.Errorf("after %d changes: attempts %d, version %d; want %d and %d", want, got.Attempts, got.Version, want, want+1)
	}
}

func TestOpenRefusesAnotherScheme(t *testing.T) {
	_, err := postgres.Open(t.Context(), "mysql://u:secret@127.0.0.1/x", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "postgres://") || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(mysql://...) = %v, want an error naming postgres:// and not the password", err)
	}
}
