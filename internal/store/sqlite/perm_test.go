package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// TestDatabaseFilesPrivate checks that the database and its WAL and
// shared-memory files are 0600, created fresh under a permissive umask and
// when they already existed with wider modes.
func TestDatabaseFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	for _, tc := range []struct {
		name     string
		existing bool
	}{{"created", false}, {"existing-0644", true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hallmark.db")
			if tc.existing {
				s, err := Open(t.Context(), path, discard())
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				if err := os.Chmod(path, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(t.Context(), path, discard())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// A write makes SQLite create the -wal and -shm files.
			if _, err := s.AppendEvent(t.Context(), systemlog.Prepare(systemlog.Event{EventType: "x", Severity: "INFO"}, time.Now())); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(p), err)
				}
				if m := fi.Mode().Perm(); m != 0o600 {
					t.Errorf("%s mode = %04o, want 0600", filepath.Base(p), m)
				}
			}
		})
	}
}

// TestFaultReadOnly checks that a write refused because the database is
// read-only becomes a *store.UnavailableError saying so.
func TestFaultReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(t.Context(), path, discard())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.ExecContext(t.Context(), `INSERT INTO readiness (id, at, pad) VALUES (1, 1, x'00')`)
	var ue *store.UnavailableError
	if !errors.As(fault(err), &ue) || ue.Reason != "the database is read-only" || !errors.Is(fault(err), store.ErrUnavailable) {
		t.Fatalf("fault(%v) = %v, want a store.UnavailableError saying the database is read-only", err, fault(err))
	}
	if got := fault(errors.New("other")); errors.Is(got, store.ErrUnavailable) {
		t.Errorf("fault(other) = %v, want it unchanged", got)
	}
}
