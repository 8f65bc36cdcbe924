//go:build linux

package main

import (
	"database/sql"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestServeKill9DuringIssuance kills a `hallmark serve` process with
// SIGKILL while its ACME order is in flight (a challenge answer is in the
// store), restarts it on the same data dir, and expects the domain to reach
// COMPLETED with exactly one certificate once the dead process's lease on
// the domain has run out.
func TestServeKill9DuringIssuance(t *testing.T) {
	bin := buildHallmark(t)
	world := newWorld(t)
	h := &hallmark{t: t, httpPort: freePort(t), httpsPort: freePort(t)}
	// lego polls an authorization 5s after presenting its answer (Pebble
	// sends no Retry-After), so a presented challenge means an order in
	// flight for seconds: the kill lands in its middle.
	p := startPebble(t, world, h.httpPort, h.httpsPort, "PEBBLE_VA_NOSLEEP=1")
	// One attempt is bounded by half the lease; 12s covers lego's polls.
	const lease = 24 * time.Second
	args := serveArgs(t, h, world, append(pebbleFlags(p), "--scheduler-lease", lease.String())...)

	start := func() *exec.Cmd {
		h.log = &syncBuffer{}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = h.log, h.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		h.waitUp(nil)
		return cmd
	}
	cmd := start()

	db, err := sql.Open("sqlite", filepath.Join(h.dataDir, "hallmark.db")+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(table string) int {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatalf("counting %s: %v", table, err)
		}
		return n
	}

	const name = "login.acme.test"
	d := h.create(e2eToken, name, "OKTA_MANAGED")
	publish(world, d)
	h.verify(e2eToken, d.ID)
	deadline := time.Now().Add(30 * time.Second)
	for count("acme_challenges") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no challenge was presented within 30s\n%s", h.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	killedLog := h.log.String()
	if n := count("certificates"); n != 0 {
		t.Logf("the certificate was stored before the kill landed (%d); the restart must adopt it", n)
	}

	cmd = start()
	defer func() {
		stopProcess(cmd)
		if t.Failed() {
			t.Logf("killed process log:\n%s\nrestarted process log:\n%s", killedLog, h.log.String())
		}
	}()
	got := h.waitDomain(e2eToken, d.ID, lease+60*time.Second, "COMPLETED after the restart", status("COMPLETED"))
	if n := count("certificates"); n != 1 {
		t.Errorf("certificates stored: %d, want 1", n)
	}
	leaf, err := h.handshake(name, p.Roots())
	if err != nil {
		t.Fatalf("handshake after the restart: %v", err)
	}
	if fingerprint(leaf) != got.PublicCertificate.Fingerprint {
		t.Errorf("edge serves %s, publicCertificate says %s", fingerprint(leaf), got.PublicCertificate.Fingerprint)
	}
	if evs := h.waitEvents("system.custom_url_domain.cert_provision", d.ID, 1); len(evs) != 1 {
		t.Errorf("cert_provision events: %d, want 1 (one certificate provisioned)", len(evs))
	}
}
