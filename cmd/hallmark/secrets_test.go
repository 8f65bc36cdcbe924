//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store/postgres"
	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
)

// stopProcess interrupts a serve process and waits for it, killing it
// after 20s.
func stopProcess(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// writeKey writes a new master key file and returns its path.
func writeKey(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "master.key")
	if _, err := sealed.LoadOrCreateKey(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyFile copies a key file, keeping it private.
func copyFile(t *testing.T, from, to string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// rootPEM is GET /api/v1/ca/root.pem of a serve.
func (h *hallmark) rootPEM() []byte {
	h.t.Helper()
	resp, err := http.Get("http://" + h.api + "/api/v1/ca/root.pem")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
		h.t.Fatalf("root.pem of %s: %d %q", h.api, resp.StatusCode, b)
	}
	return b
}

// Two nodes, two processes, start at once on one empty PostgreSQL
// database: one CA is created (in the database, none under the data dirs)
// and both serve its root; a certificate issued through one node verifies
// against the root served by the other.
func TestServeTwoNodesOneCA(t *testing.T) {
	url := pgtest.New(t)
	world := newWorld(t)
	nodes := newCluster(t, 2, url, world, freePort(t), freePort(t))
	startAll(t, nodes)
	a, b := nodes[0].rootPEM(), nodes[1].rootPEM()
	if !bytes.Equal(a, b) {
		t.Fatalf("the nodes serve two roots:\n%s\n%s", a, b)
	}
	st, err := postgres.Open(t.Context(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.CA(t.Context())
	if err != nil || !bytes.Equal(rec.RootPEM, a) {
		t.Errorf("the database's CA: %v; root equal to the one served: %v", err, err == nil && bytes.Equal(rec.RootPEM, a))
	}
	for _, nd := range nodes {
		if _, err := os.Stat(filepath.Join(nd.dataDir, "ca")); !os.IsNotExist(err) {
			t.Errorf("%s: a CA folder was made under the data dir (%v)", nd.id, err)
		}
	}

	const name = "login.acme.test"
	d := nodes[0].create(e2eToken, name, "OKTA_MANAGED")
	publish(world, d)
	nodes[0].verify(e2eToken, d.ID)
	nodes[1].waitDomain(e2eToken, d.ID, 30*time.Second, "COMPLETED", status("COMPLETED"))
	if _, err := nodes[0].handshake(name, pool(b)); err != nil {
		t.Errorf("the certificate does not verify against the other node's root: %v", err)
	}
}

// A node whose master key is not the database's is refused at start,
// naming --master-key-file and why, on PostgreSQL and on SQLite; so is a
// PostgreSQL node without --master-key-file, and one whose key file is
// missing once the database holds a check value (no new key is made).
func TestServeRefusesAnotherMasterKey(t *testing.T) {
	refused := func(t *testing.T, args []string, want ...string) {
		t.Helper()
		var out syncBuffer
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		err := run(ctx, args, &out, &out)
		if err == nil {
			t.Fatalf("serve started (want a refusal naming %q)\n%s", want, out.String())
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("serve refused with %q, want it to say %q", err, w)
			}
		}
		if code := exitCode(err, io.Discard); code != 2 {
			t.Errorf("exit status %d, want 2 (a flag to fix)", code)
		}
	}
	world := newWorld(t)

	t.Run("postgres", func(t *testing.T) {
		url := pgtest.New(t)
		first := &hallmark{}
		key := filepath.Join(t.TempDir(), "shared.key") // made by the first node
		startHallmark(t, first, world, "--database-url", url, "--master-key-file", key)
		root := first.rootPEM()

		other := writeKey(t, t.TempDir())
		refused(t, serveArgs(t, &hallmark{}, world, "--database-url", url, "--master-key-file", other),
			"--master-key-file", other, "not the master key this database was first started with")
		refused(t, serveArgs(t, &hallmark{}, world, "--database-url", url),
			"--master-key-file is required with --database-url", "same master key")
		missing := filepath.Join(t.TempDir(), "missing.key")
		refused(t, serveArgs(t, &hallmark{}, world, "--database-url", url, "--master-key-file", missing),
			"--master-key-file "+missing+" does not exist", "check value")
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Errorf("a key was made at %s against a database sealed with another (%v)", missing, err)
		}

		second := startHallmark(t, &hallmark{}, world, "--database-url", url, "--master-key-file", copyFile(t, key, filepath.Join(t.TempDir(), "copy.key")))
		if !bytes.Equal(second.rootPEM(), root) {
			t.Error("a node with a copy of the key serves another root")
		}
	})

	t.Run("sqlite", func(t *testing.T) {
		h := &hallmark{dataDir: t.TempDir()}
		stop := runServe(t, h, world)
		root := h.rootPEM()
		stop()
		keyFile := filepath.Join(h.dataDir, "master.key")
		saved, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}

		other := writeKey(t, t.TempDir())
		refused(t, serveArgs(t, &hallmark{dataDir: h.dataDir}, world, "--master-key-file", other),
			"--master-key-file", "not the master key this database was first started with")
		os.Remove(keyFile)
		refused(t, serveArgs(t, &hallmark{dataDir: h.dataDir}, world), keyFile+" does not exist")
		if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
			t.Errorf("the default key file was made again against a database sealed with another key (%v)", err)
		}

		if err := os.WriteFile(keyFile, saved, 0o600); err != nil {
			t.Fatal(err)
		}
		again := startHallmark(t, &hallmark{dataDir: h.dataDir}, world)
		if !bytes.Equal(again.rootPEM(), root) {
			t.Error("restarted with its key, the installation serves another root")
		}
	})
}

// An embedded installation from before the CA lived in the database (the
// CA in files under DATA_DIR/ca, no key check value): its first start
// moves the CA into the database and records the key's check value, and
// the root served is the files' root.
func TestServeMovesCAFilesIntoTheDatabase(t *testing.T) {
	world := newWorld(t)
	dataDir := t.TempDir()
	box := mustBox(t, dataDir)
	files, err := issuance.LoadOrCreateCA(filepath.Join(dataDir, "ca"), box)
	if err != nil {
		t.Fatal(err)
	}
	h := startHallmark(t, &hallmark{dataDir: dataDir}, world)
	if got := h.rootPEM(); !bytes.Equal(got, files.RootPEM()) {
		t.Fatalf("serves another root than the installation's files:\n%s", got)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "hallmark.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rec, err := st.CA(t.Context()); err != nil || !bytes.Equal(rec.RootPEM, files.RootPEM()) {
		t.Errorf("the database's CA: %v (the files' root: %v)", err, err == nil && bytes.Equal(rec.RootPEM, files.RootPEM()))
	}
	if check, err := st.MasterKeyCheck(t.Context()); err != nil || !box.Matches(check) {
		t.Errorf("the key check value: %v (matches the key: %v)", err, err == nil && box.Matches(check))
	}
}
