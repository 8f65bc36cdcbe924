// Package bindtest runs a real BIND 9 (named) for end-to-end tests: one
// primary zone on a loopback address and a free port, with a zone file the
// test edits and reloads. A test that needs it calls Start; when named is
// not installed the test is skipped with a loud message, or fails when
// HALLMARK_REQUIRE_SERVICES=1 (as in CI).
package bindtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Named is a running named serving one zone.
type Named struct {
	tb      testing.TB
	Zone    string // acme.test. (with the trailing dot)
	IP      string // loopback address it listens on
	Port    int
	dir     string
	cmd     *exec.Cmd
	mu      sync.Mutex
	serial  uint32
	records []string
	stderr  *bytes.Buffer
}

// Addr is ip:port of the server.
func (n *Named) Addr() string { return net.JoinHostPort(n.IP, fmt.Sprint(n.Port)) }

// findNamed returns the path of named or "".
func findNamed() string {
	if p, err := exec.LookPath("named"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/named", "/usr/local/sbin/named"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Start runs named for zone (such as "acme.test.") with records in
// zone-file syntax (relative names are inside the zone). The zone's apex
// gets an SOA and one NS, ns1.<zone>, with an A record for the server's
// address, so a checker that asks this server as its resolver finds the
// zone, its nameserver and the nameserver's address.
func Start(tb testing.TB, zone string, records ...string) *Named {
	tb.Helper()
	bin := findNamed()
	if bin == "" {
		if os.Getenv("HALLMARK_REQUIRE_SERVICES") == "1" {
			tb.Fatal("BIND 9 (named) is required (HALLMARK_REQUIRE_SERVICES=1) but not installed: apt-get install bind9")
		}
		tb.Skip("SKIPPED: BIND 9 tier: named is not installed (apt-get install bind9); set HALLMARK_REQUIRE_SERVICES=1 to make this a failure")
	}
	n := &Named{tb: tb, Zone: dns.Fqdn(zone), IP: "127.0.0.1", dir: tb.TempDir(), serial: 1, records: records}
	var lastErr error
	for attempt := range 5 {
		n.Port = freePort(tb, n.IP)
		if err := n.start(bin); err != nil {
			lastErr = err
			tb.Logf("named start attempt %d: %v", attempt+1, err)
			continue
		}
		tb.Cleanup(n.stop)
		return n
	}
	tb.Fatalf("starting named: %v", lastErr)
	return nil
}

// freePort finds a port free for both UDP and TCP on ip.
func freePort(tb testing.TB, ip string) int {
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			tb.Fatalf("listening on %s: %v", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	tb.Fatal("no free port for named")
	return 0
}

func (n *Named) start(bin string) error {
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { %[3]s; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	allow-query { any; };
	notify no;
};
controls { };
zone "%[4]s" {
	type primary;
	file "%[1]s/zone.db";
};
`, n.dir, n.Port, n.IP, strings.TrimSuffix(n.Zone, "."))
	if err := os.WriteFile(filepath.Join(n.dir, "named.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := n.writeZone(); err != nil {
		return err
	}
	n.stderr = &bytes.Buffer{}
	n.cmd = exec.Command(bin, "-g", "-n", "1", "-c", filepath.Join(n.dir, "named.conf"))
	n.cmd.Stdout = n.stderr
	n.cmd.Stderr = n.stderr
	if err := n.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- n.cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("named exited: %v\n%s", err, n.stderr)
		default:
		}
		if n.serving(n.serial) {
			go func() { <-exited }() // reap on stop
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.cmd.Process.Kill()
	return fmt.Errorf("named did not answer within 15s\n%s", n.stderr)
}

// serving reports whether the server answers the zone's SOA with serial.
func (n *Named) serving(serial uint32) bool {
	m := new(dns.Msg)
	m.SetQuestion(n.Zone, dns.TypeSOA)
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	r, _, err := c.Exchange(m, n.Addr())
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return false
	}
	soa, ok := r.Answer[0].(*dns.SOA)
	return ok && soa.Serial == serial
}

func (n *Named) writeZone() error {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 60\n", n.Zone)
	fmt.Fprintf(&b, "@ IN SOA ns1 hostmaster %d 60 60 600 60\n", n.serial)
	fmt.Fprintf(&b, "@ IN NS ns1\nns1 IN A %s\n", n.IP)
	for _, r := range n.records {
		b.WriteString(r + "\n")
	}
	tmp := filepath.Join(n.dir, "zone.db.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(n.dir, "zone.db"))
}

// SetRecords replaces the zone's records (beyond SOA, NS and the
// nameserver's A record), reloads named and waits until it serves them.
func (n *Named) SetRecords(records ...string) {
	n.tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.records = records
	n.serial++
	if err := n.writeZone(); err != nil {
		n.tb.Fatal(err)
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		n.tb.Fatalf("reloading named: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !n.serving(n.serial) {
		if time.Now().After(deadline) {
			n.tb.Fatalf("named did not load serial %d within 10s\n%s", n.serial, n.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *Named) stop() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for i := 0; i < 100; i++ {
				if n.cmd.Process.Signal(syscall.Signal(0)) != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			close(done)
		}()
		<-done
		n.cmd.Process.Kill()
	}
}
