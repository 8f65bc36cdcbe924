package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/issuance/certtest"
	"github.com/hallmark-dev/hallmark/internal/issuance/pebbletest"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

const (
	e2eToken  = "e2e-operator-token-0123456789abcdef"
	e2eTarget = "edge.hallmark.test"
)

// freePort is a loopback port nothing listens on.
var freePort = pebbletest.FreePort

// syncBuffer collects a server's output for the failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hallmark is a `hallmark serve` under test, every listener on loopback.
type hallmark struct {
	t                   testing.TB
	api, https, http    string
	dataDir             string
	httpPort, httpsPort int
	ip                  string // the loopback address it binds (default 127.0.0.1)
	log                 *syncBuffer
}

// newWorld is the DNS of the tests: the zone acme.test and the CNAME
// target edge.hallmark.test, which resolves to 127.0.0.1 (the edge).
func newWorld(t testing.TB) *dnstest.World {
	w := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2})
	w.Set(e2eTarget + ". 300 IN A 127.0.0.1")
	return w
}

// serveArgs are the flags of a serve on loopback against world.
func serveArgs(t testing.TB, h *hallmark, world *dnstest.World, extra ...string) []string {
	h.httpPort, h.httpsPort = cmpOr(h.httpPort, freePort(t)), cmpOr(h.httpsPort, freePort(t))
	if h.ip == "" {
		h.ip = "127.0.0.1"
	}
	h.api = net.JoinHostPort(h.ip, strconv.Itoa(freePort(t)))
	h.https = net.JoinHostPort(h.ip, strconv.Itoa(h.httpsPort))
	h.http = net.JoinHostPort(h.ip, strconv.Itoa(h.httpPort))
	if h.dataDir == "" {
		h.dataDir = t.TempDir()
	}
	return append([]string{"serve",
		"--data-dir", h.dataDir,
		"--api-addr", h.api, "--https-addr", h.https, "--http-addr", h.http,
		"--cname-target", e2eTarget,
		"--dns-resolvers", strings.Join(world.Resolvers(), ","),
		"--nameserver-port", strconv.Itoa(world.NameserverPort()),
		"--bootstrap-token", e2eToken,
		"--log-level", "debug",
	}, extra...)
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// buildHallmark builds the binary once per test that runs real processes.
func buildHallmark(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hallmark")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startHallmark runs serve in this process until the test ends.
func startHallmark(t *testing.T, h *hallmark, world *dnstest.World, extra ...string) *hallmark {
	t.Helper()
	runServe(t, h, world, extra...)
	return h
}

// runServe runs serve in this process until stop is called (or the test
// ends).
func runServe(t *testing.T, h *hallmark, world *dnstest.World, extra ...string) (stop func()) {
	t.Helper()
	h.t, h.log = t, &syncBuffer{}
	args := serveArgs(t, h, world, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, h.log, h.log) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of its context ending")
		}
		if t.Failed() {
			t.Logf("hallmark log:\n%s", h.log.String())
		}
	}
	t.Cleanup(stop)
	h.waitUp(done)
	return stop
}

func (h *hallmark) waitUp(done chan error) {
	h.t.Helper()
	if err := h.up(done); err != nil {
		h.t.Fatalf("%v\n%s", err, h.log.String())
	}
}

// up waits until serve answers /healthz. A serve that exits meanwhile, or
// right after another process answered on its port (a port freed by
// freePort and taken again before serve bound it), is an error.
func (h *hallmark) up(done chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if done != nil {
			select {
			case err := <-done:
				return fmt.Errorf("serve exited: %w", err)
			default:
			}
		}
		resp, err := http.Get("http://" + h.api + "/healthz")
		if err == nil {
			resp.Body.Close()
			if done != nil {
				select {
				case err := <-done:
					return fmt.Errorf("serve exited: %w", err)
				case <-time.After(300 * time.Millisecond):
				}
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("serve did not come up")
}

// e2eDomain is the CLI's view of a domain plus what tests look at beyond it.
type e2eDomain struct {
	domain
	MovedSince string `json:"movedSince"`
}

func (d e2eDomain) ids() []string {
	var out []string
	for _, f := range d.Diagnosis {
		out = append(out, f.ID)
	}
	return out
}

func (d e2eDomain) finding(id string) (string, bool) {
	for _, f := range d.Diagnosis {
		if f.ID == id {
			b, _ := json.Marshal(f)
			return string(b), true
		}
	}
	return "", false
}

// call sends a JSON request to the API with token.
func (h *hallmark) call(method, path, token string, body any, out any) int {
	h.t.Helper()
	st, _, b, err := h.try(method, path, token, body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
	return st
}

// try is an API call that reports instead of failing the test, for
// goroutines and for calls expected to fail.
func (h *hallmark) try(method, path, token string, body any) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+h.api+path, rd)
	req.Header.Set("Authorization", "SSWS "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, nil
}

func (h *hallmark) create(token, name, source string) e2eDomain {
	h.t.Helper()
	var d e2eDomain
	if st := h.call("POST", "/api/v1/domains", token, map[string]string{"domain": name, "certificateSourceType": source}, &d); st != 200 {
		h.t.Fatalf("create %s: %d", name, st)
	}
	return d
}

func (h *hallmark) get(token, id string) e2eDomain {
	h.t.Helper()
	var d e2eDomain
	if st := h.call("GET", "/api/v1/domains/"+id, token, nil, &d); st != 200 {
		h.t.Fatalf("get %s: %d", id, st)
	}
	return d
}

func (h *hallmark) verify(token, id string) e2eDomain {
	h.t.Helper()
	var d e2eDomain
	if st := h.call("POST", "/api/v1/domains/"+id+"/verify", token, nil, &d); st != 200 {
		h.t.Fatalf("verify %s: %d", id, st)
	}
	return d
}

// publish puts the records the API asked for into the world.
func publish(world *dnstest.World, d e2eDomain) {
	for _, r := range d.DNSRecords {
		switch r.RecordType {
		case "TXT":
			world.Set(fmt.Sprintf("%s. 300 IN TXT %q", r.FQDN, r.Values[0]))
		case "CNAME":
			world.Set(fmt.Sprintf("%s. 300 IN CNAME %s.", r.FQDN, r.Values[0]))
		}
	}
}

// waitDomain polls the domain until ok says yes.
func (h *hallmark) waitDomain(token, id string, within time.Duration, what string, ok func(e2eDomain) bool) e2eDomain {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := h.get(token, id)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: waited %s for %s; domain is %s %v %+v", d.Domain, within, what, d.ValidationStatus, d.ids(), d.Diagnosis)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func status(s string) func(e2eDomain) bool {
	return func(d e2eDomain) bool { return d.ValidationStatus == s }
}

func hasFinding(id string) func(e2eDomain) bool {
	return func(d e2eDomain) bool { _, ok := d.finding(id); return ok }
}

// events returns the system log events of one type for a domain.
func (h *hallmark) events(typ, domainID string) []map[string]any {
	h.t.Helper()
	var evs []map[string]any
	q := fmt.Sprintf(`eventType eq %q and target.id eq %q`, typ, domainID)
	if st := h.call("GET", "/api/v1/logs?limit=100&filter="+urlEscape(q), e2eToken, nil, &evs); st != 200 {
		h.t.Fatalf("logs: %d", st)
	}
	return evs
}

// waitEvents polls the system log until at least n events of typ for the
// domain are there, or 10s have passed. An event is appended right after
// the change it records is stored (not in the same transaction), so a test
// that has just seen the change waits for its event.
func (h *hallmark) waitEvents(typ, domainID string, n int) []map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := h.events(typ, domainID)
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer(" ", "%20", `"`, "%22", "=", "%3D", "&", "%26")
	return r.Replace(s)
}

// handshake connects to the edge with SNI name and returns the leaf it
// served, verified against roots.
func (h *hallmark) handshake(name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{ServerName: name, RootCAs: roots}}
	conn, err := d.DialContext(context.Background(), "tcp", h.https)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// edgeClient is an HTTP client that reaches every name at the edge.
func (h *hallmark) edgeClient(roots *x509.CertPool) *http.Client {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, h.https)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true,
	}}
}

func pool(pemBytes []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pemBytes)
	return p
}

func mustBox(t testing.TB, dataDir string) *sealed.Box {
	t.Helper()
	b, err := sealed.LoadOrCreateKey(filepath.Join(dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadBody is Okta's certificate upload body for an issued certificate;
// root is added at the end of the chain (a private root, accepted with a
// warning).
func uploadBody(t testing.TB, iss *issuance.Issued, root []byte) map[string]string {
	t.Helper()
	u := certtest.UploadOf(t, iss, root)
	return map[string]string{"certificate": u.Certificate, "certificateChain": u.CertificateChain, "privateKey": u.PrivateKey, "type": u.Type}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
