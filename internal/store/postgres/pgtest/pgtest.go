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
	"strings"
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
	ctl  []string // pg_ctl stop, as the right user
	run  []string // pg_ctl start, as the right user
	// durable keeps synchronous_commit on: a commit is acknowledged only
	// once its WAL is written, so that a crash of the server (not of the
	// machine: fsync stays off) loses nothing acknowledged.
	durable bool
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
	sync := "off"
	if s.durable {
		sync = "on"
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c synchronous_commit=%s -c full_page_writes=off -c max_connections=200", port, dir, sync)
	s.dir, s.port = dir, port
	s.run = append(append([]string{}, prefix...), pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start")
	s.ctl = append(append([]string{}, prefix...), pgctl, "-D", data, "-m", "immediate", "-w", "stop")
	if err := s.exec(s.run); err != nil {
		s.err = err
		s.ctl = nil
	}
}

func (s *server) exec(argv []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("%s: %v\n%s\nserver log:\n%s", filepath.Base(argv[len(argv)-1]), err, out, log)
	}
	return nil
}

// Server is a PostgreSQL cluster of one test's own, which the test may
// stop and start again (an outage) without touching other tests'
// databases.
type Server struct {
	t testing.TB
	s *server
}

// Own starts a cluster for t alone, removed when t ends, with one empty
// database "hallmark". Its commits are durable across a crash of the
// server (Stop), as PostgreSQL's defaults make them.
func Own(t testing.TB) *Server {
	t.Helper()
	s := &server{durable: true}
	s.start()
	check(t, s)
	t.Cleanup(func() { s.stop() })
	admin, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE hallmark"); err != nil {
		t.Fatalf("creating database hallmark: %v", err)
	}
	return &Server{t: t, s: s}
}

// URL is the URL of the database "hallmark".
func (p *Server) URL() string { return p.s.url("hallmark") }

// Stop stops the server at once (pg_ctl stop -m immediate: connections
// drop, as in a crash); its data stays.
func (p *Server) Stop() {
	p.t.Helper()
	if err := p.s.exec(p.s.ctl); err != nil {
		p.t.Fatalf("stopping PostgreSQL: %v", err)
	}
}

// Start starts the stopped server again on the same port and data.
func (p *Server) Start() {
	p.t.Helper()
	if err := p.s.exec(p.s.run); err != nil {
		p.t.Fatalf("starting PostgreSQL again: %v", err)
	}
}

func (s *server) stop() {
	if s.ctl == nil {
		return
	}
	if err := s.exec(s.ctl); err != nil && !strings.Contains(err.Error(), "not running") && !strings.Contains(err.Error(), "Is server running") {
		fmt.Fprintf(os.Stderr, "pgtest: stopping PostgreSQL: %v\n", err)
	}
	os.RemoveAll(s.dir)
	s.ctl = nil
}

func check(t testing.TB, s *server) {
	t.Helper()
	if s.skip != "" {
		if os.Getenv("HALLMARK_REQUIRE_SERVICES") == "1" {
			t.Fatalf("HALLMARK_REQUIRE_SERVICES=1: %s", s.skip)
		}
		t.Skipf("SKIPPING the PostgreSQL tier: %s", s.skip)
	}
	if s.err != nil {
		t.Fatalf("starting PostgreSQL: %v", s.err)
	}
}

// Stop stops the shared server if one was started, and removes its
// folder. Call it from TestMain after m.Run.
func Stop() { srv.stop() }

// url is the URL of database db on the server.
func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// New returns the URL of a new, empty database on the shared test server,
// dropped when t ends.
func New(t testing.TB) string {
	t.Helper()
	srv.once.Do(srv.start)
	check(t, &srv)
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
