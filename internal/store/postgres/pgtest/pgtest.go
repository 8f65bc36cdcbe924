// Package pgtest starts a throwaway PostgreSQL server for tests: Debian's
// initdb and pg_ctl in a temporary folder, listening on a free loopback
// port only, with a database of its own for each caller of New.
//
// Without the programs the test is skipped with the reason, and fails
// instead when HALLMARK_REQUIRE_SERVICES=1. PostgreSQL refuses to run as
// root: as root the server runs as the postgres system user (Debian's
// package creates it) through runuser.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
)

// server is one PostgreSQL cluster per test binary: starting one takes a
// second or two, a database in it a few milliseconds.
type server struct {
	once sync.Once
	err  error
	skip string
	dir  string
	port int
	ctl  []string // argv prefix running pg_ctl as the right user
}

var (
	srv   server
	seqDB atomic.Int64
)

// findBin finds a PostgreSQL program on PATH or in Debian's
// /usr/lib/postgresql/*/bin, newest version first.
func findBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	best, bestV := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > bestV {
			best, bestV = m, v
		}
	}
	return best
}

// asUser returns the argv prefix that runs a program as a user PostgreSQL
// accepts, and that user's uid and gid for chown (-1 when unchanged).
func asUser() (prefix []string, uid, gid int, err error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root, and PostgreSQL refuses root: no postgres user to run it as (install Debian's postgresql package): %v", err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root, and PostgreSQL refuses root: runuser not found: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return []string{runuser, "-u", "postgres", "--"}, uid, gid, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) start() {
	initdb, pgctl := findBin("initdb"), findBin("pg_ctl")
	if initdb == "" || pgctl == "" {
		s.skip = "PostgreSQL's initdb and pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
		return
	}
	prefix, uid, gid, err := asUser()
	if err != nil {
		s.err = err
		return
	}
	// Not t.TempDir: the cluster outlives the test that started it and is
	// removed by Stop (from TestMain) or left in the system temp folder.
	dir, err := os.MkdirTemp("", "hallmark-pgtest-")
	if err != nil {
		s.err = err
		return
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			s.err = err
			return
		}
	}
	data := filepath.Join(dir, "data")
	exec1 := func(argv ...string) error {
		full := append(append([]string{}, prefix...), argv...)
		cmd := exec.Command(full[0], full[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", filepath.Base(argv[0]), err, out)
		}
		return nil
	}
	if err := exec1(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		s.err = err
		return
	}
	port, err := freePort()
	if err != nil {
		s.err = err
		return
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	if err := exec1(pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		s.err = fmt.Errorf("%v\nserver log:\n%s", err, log)
		return
	}
	s.dir, s.port = dir, port
	s.ctl = append(append([]string{}, prefix...), pgctl, "-D", data, "-m", "immediate", "-w", "stop")
}

// Stop stops the server if one was started, and removes its folder. Call
// it from TestMain after m.Run.
func Stop() {
	if srv.ctl == nil {
		return
	}
	cmd := exec.Command(srv.ctl[0], srv.ctl[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stopping PostgreSQL: %v\n%s", err, out)
	}
	os.RemoveAll(srv.dir)
	srv.ctl = nil
}

// url is the URL of database db on the server.
func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// New returns the URL of a new, empty database on the shared test server,
// dropped when t ends.
func New(t testing.TB) string {
	t.Helper()
	srv.once.Do(srv.start)
	if srv.skip != "" {
		if os.Getenv("HALLMARK_REQUIRE_SERVICES") == "1" {
			t.Fatalf("HALLMARK_REQUIRE_SERVICES=1: %s", srv.skip)
		}
		t.Skipf("SKIPPING the PostgreSQL tier: %s", srv.skip)
	}
	if srv.err != nil {
		t.Fatalf("starting PostgreSQL: %v", srv.err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), seqDB.Add(1))
	admin, err := sql.Open("pgx", srv.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return srv.url(name)
}
