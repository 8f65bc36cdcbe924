package sqlite

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store/storetest"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hallmark.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend { return openTemp(t) })
}

func TestReopenKeepsDataAndMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hallmark.db")
	s, err := Open(t.Context(), path, discard())
	if err != nil {
		t.Fatal(err)
	}
	d := customdomain.Domain{ID: "dom1", OrgID: "org1", Name: "login.acme.com", Version: 1, Created: time.Unix(1, 2)}
	if err := s.CreateDomain(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(t.Context(), systemlog.Event{UUID: "u1", EventType: "x", Published: time.Unix(3, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s, err = Open(t.Context(), path, discard())
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		got, err := s.GetDomain(t.Context(), "dom1")
		if err != nil || got.Name != d.Name || !got.Created.Equal(d.Created) {
			t.Errorf("reopen %d: got %+v, %v, want the domain back", i, got, err)
		}
		var versions, tables int
		if err := s.read.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil {
			t.Fatal(err)
		}
		if err := s.read.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'domains'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		files, _ := fs.Glob(migrations, "migrations/*.sql")
		if versions != len(files) || tables != 1 {
			t.Errorf("reopen %d: %d migrations recorded, %d domains tables, want %d (one per file) and 1", i, versions, tables, len(files))
		}
		evs, err := s.QueryEvents(t.Context(), systemlog.Query{All: true, Limit: 10})
		if err != nil || len(evs) != 1 {
			t.Errorf("reopen %d: events %v, %v, want 1", i, evs, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, p := range []string{"", filepath.Join(t.TempDir(), "a?b.db"), filepath.Join(t.TempDir(), "missing-dir", "x", "h.db")} {
		if s, err := Open(t.Context(), p, discard()); err == nil {
			s.Close()
			t.Errorf("Open(%q): got no error", p)
		}
	}
}

func TestPragmas(t *testing.T) {
	s := openTemp(t)
	for _, db := range []struct {
		name string
		q    func(string) (string, error)
	}{
		{"write", func(p string) (v string, err error) { err = s.write.QueryRow("PRAGMA " + p).Scan(&v); return }},
		{"read", func(p string) (v string, err error) { err = s.read.QueryRow("PRAGMA " + p).Scan(&v); return }},
	} {
		for p, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "1", "busy_timeout": "10000"} {
			got, err := db.q(p)
			if err != nil || got != want {
				t.Errorf("%s connection: PRAGMA %s = %q, %v, want %q", db.name, p, got, err, want)
			}
		}
	}
	if _, err := s.read.Exec(`DELETE FROM domains`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hallmark.db")
	s, err := Open(t.Context(), path, discard())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), path, discard()); err == nil || !strings.Contains(err.Error(), "schema version 999, newer") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("got %v, want a newer-schema error", err)
	}
}

// TestTwoStoresOneFile claims from two Stores on the same file, as two
// processes would: BEGIN IMMEDIATE and the busy timeout keep them from
// failing with SQLITE_BUSY or claiming a domain twice.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hallmark.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(t.Context(), path, discard())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 80
	for i := range n {
		d := customdomain.Domain{ID: fmt.Sprintf("dom%02d", i), OrgID: "org1", Name: fmt.Sprintf("d%d.example.com", i),
			Version: 1, NextCheck: now.Add(-time.Duration(i) * time.Second)}
		if err := stores[i%2].CreateDomain(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errc = make(chan error, 6)
	)
	for w := range 6 {
		wg.Go(func() {
			s := stores[w%2]
			for {
				ds, err := s.ClaimDue(t.Context(), fmt.Sprint("w", w), now, now.Add(time.Hour), 2)
				if err != nil {
					errc <- err
					return
				}
				if len(ds) == 0 {
					return
				}
				if _, err := s.AppendEvent(t.Context(), systemlog.Event{UUID: ds[0].ID, EventType: "claim", Published: now}); err != nil {
					errc <- err
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("worker: %v", err)
	}
	if len(seen) != n {
		t.Errorf("claimed %d distinct domains, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s claimed %d times", id, c)
		}
	}
}

func TestPutChallengeDeletesExpired(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for i, exp := range []time.Time{time.Now().Add(-time.Hour), time.Now().Add(-time.Second), time.Now().Add(time.Hour)} {
		c := issuance.Challenge{Type: issuance.HTTP01, Key: fmt.Sprint("k", i), Name: "a.acme.com", KeyAuth: "x", Expires: exp}
		if err := s.PutChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM acme_challenges`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("rows after three puts, two of them expired: got %d, want 1", n)
	}
}
