package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestServeMakesDataPrivate starts serve on a data directory that already
// exists with mode 0755 and a database 0644, as an operator's would: the
// directory becomes 0700 and every file of the database, the CA and the
// master key 0600.
func TestServeMakesDataPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hallmark.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHallmark(t, &hallmark{dataDir: dir}, newWorld(t))
	if st := h.call("POST", "/api/v1/orgs", e2eToken, map[string]string{"name": "Acme"}, nil); st != 201 {
		t.Fatalf("create org: %d", st)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("data dir mode = %04o, want 0700", m)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		switch {
		case d.IsDir() && info.Mode().Perm()&0o077 != 0:
			t.Errorf("%s: directory mode %04o, want no access for group and others", p, info.Mode().Perm())
		case !d.IsDir() && filepath.Ext(p) != ".pem" && info.Mode().Perm() != 0o600:
			t.Errorf("%s: mode %04o, want 0600", p, info.Mode().Perm())
		}
		return nil
	})
	for _, f := range []string{"hallmark.db", "hallmark.db-wal", "hallmark.db-shm", "master.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
