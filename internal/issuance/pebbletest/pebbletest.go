// Package pebbletest runs Pebble, Let's Encrypt's test ACME server, for
// tests: `go tool pebble` (the tool line of go.mod) with a configuration
// written by the test, every listener on loopback, its DNS asked of the
// test's own server, stopped by its PID when the test ends.
package pebbletest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/issuance/certtest"
)

// CAAIdentity is the issuer domain Pebble announces (meta.caaIdentities).
const CAAIdentity = "pebble.letsencrypt.org"

// Config says where Pebble sends its validations and asks DNS.
type Config struct {
	// DNSServer is ip:port of a DNS server answering over TCP (Pebble
	// asks over TCP only).
	DNSServer string
	// HTTPPort and TLSPort are where Pebble validates http-01 and
	// tls-alpn-01: the edge's ports.
	HTTPPort, TLSPort int
	// Env is added to Pebble's environment (PEBBLE_VA_NOSLEEP=1 …).
	Env []string
}

// Pebble is a running Pebble. Its account needs external account binding
// (EAB); its certificates are valid 90 days; it asks clients to poll again
// after 1s.
type Pebble struct {
	t testing.TB
	// DirURL is the ACME directory; MgmtURL the management API.
	DirURL, MgmtURL string
	// RootFile is the PEM of the private root of Pebble's own listeners
	// (--acme-ca-root); ListenerRoots the same as a pool.
	RootFile      string
	ListenerRoots *x509.CertPool
	// Client trusts Pebble's listeners.
	Client *http.Client
	// EAB is the external account binding Pebble accepts.
	EAB issuance.EAB

	args []string
	env  []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *logBuffer
}

// Start runs Pebble until the test ends.
func Start(t testing.TB, c Config) *Pebble {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, rootFile, root := certtest.Listener(t, dir)
	p := &Pebble{t: t, RootFile: rootFile, ListenerRoots: x509.NewCertPool(),
		EAB: issuance.EAB{KeyID: "kid-1", HMACKey: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))}}
	p.ListenerRoots.AddCert(root)
	acmePort, mgmtPort := FreePort(t), FreePort(t)
	conf, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       c.HTTPPort,
		"tlsPort":                        c.TLSPort,
		"externalAccountBindingRequired": true,
		"externalAccountMACKeys":         map[string]string{p.EAB.KeyID: p.EAB.HMACKey},
		"caaIdentities":                  []string{CAAIdentity},
		"profiles":                       map[string]any{"default": map[string]any{"Description": "90 days", "ValidityPeriod": 7776000}},
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	// `go tool -n pebble` builds the tool (slow the first time) and prints
	// its path: the PID we stop is Pebble's own, not a go command's.
	out, err := exec.CommandContext(t.Context(), "go", "tool", "-n", "pebble").Output()
	if err != nil {
		t.Fatalf("go tool -n pebble: %v", err)
	}
	p.args = []string{strings.TrimSpace(string(out)), "-config", confFile, "-dnsserver", c.DNSServer}
	p.env = append(append(os.Environ(), "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"), c.Env...)
	p.DirURL = fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort)
	p.MgmtURL = fmt.Sprintf("https://127.0.0.1:%d", mgmtPort)
	p.Client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.ListenerRoots}}}
	p.Start()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("pebble output:\n%s", p.log.String())
		}
	})
	return p
}

// Start starts Pebble again after Stop (a new issuing root; it forgot
// every account), and waits until its directory answers.
func (p *Pebble) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	p.log = &logBuffer{}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.Client.Get(p.DirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pebble did not start: %v\n%s", err, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills Pebble by its PID and waits for it.
func (p *Pebble) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill() // SIGKILL to this PID on Unix
	p.cmd.Wait()
	p.cmd = nil
}

// Roots is Pebble's issuing root (new at every start), as a pool.
func (p *Pebble) Roots() *x509.CertPool {
	p.t.Helper()
	resp, err := p.Client.Get(p.MgmtURL + "/roots/0")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if resp.StatusCode != 200 || !pool.AppendCertsFromPEM(b) {
		p.t.Fatalf("pebble root: %d %q", resp.StatusCode, b)
	}
	return pool
}

// ForceRenewal sets the ARI window of leaf an hour in the past, through
// the management API: its renewal is due now.
func (p *Pebble) ForceRenewal(leaf *x509.Certificate) {
	p.t.Helper()
	past := time.Now().Add(-time.Hour).UTC()
	ari, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{"start": past.Format(time.RFC3339), "end": past.Add(30 * time.Minute).Format(time.RFC3339)}})
	body, _ := json.Marshal(map[string]string{"Certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})), "ARIResponse": string(ari)})
	resp, err := p.Client.Post(p.MgmtURL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("set-renewal-info: %d", resp.StatusCode)
	}
}

// FreePort returns a loopback TCP port nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logBuffer collects Pebble's output for a failure message.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Orders counts the orders this Pebble has been sent since it last
// started, and Issued the certificates it has issued, from the line it
// logs for each.
func (p *Pebble) Orders() int { return p.logged("Added order ") }
func (p *Pebble) Issued() int { return p.logged("Issued certificate serial ") }

func (p *Pebble) logged(line string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Count(p.log.String(), line)
}
