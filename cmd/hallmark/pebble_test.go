package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
)

// pebble is `go tool pebble` (the tool line of go.mod) on loopback, its
// challenges sent to the edge's ports and its DNS to a dnstest world.
type pebble struct {
	t               *testing.T
	dirURL, mgmtURL string
	rootFile        string // CA of Pebble's own listeners: --acme-ca-root
	client          *http.Client
	mac             string
	args            []string
	env             []string
	cmd             *exec.Cmd
	log             *syncBuffer
}

func startPebble(t *testing.T, world *dnstest.World, httpPort, tlsPort int, env ...string) *pebble {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble listener CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	root, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pebble"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), caKey)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	p := &pebble{t: t, rootFile: filepath.Join(dir, "root.pem"), mac: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	os.WriteFile(p.rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)

	acmePort, mgmtPort := freePort(t), freePort(t)
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"externalAccountBindingRequired": true,
		"externalAccountMACKeys":         map[string]string{"kid-1": p.mac},
		"caaIdentities":                  []string{"pebble.letsencrypt.org"},
		"profiles":                       map[string]any{"default": map[string]any{"Description": "90 days", "ValidityPeriod": 7776000}},
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
	}})
	confFile := filepath.Join(dir, "pebble.json")
	os.WriteFile(confFile, conf, 0o600)
	// `go tool -n pebble` builds the tool and prints its path: the PID we
	// stop is Pebble's own, not a go command's.
	out, err := exec.CommandContext(t.Context(), "go", "tool", "-n", "pebble").Output()
	if err != nil {
		t.Fatalf("go tool -n pebble: %v", err)
	}
	p.args = []string{strings.TrimSpace(string(out)), "-config", confFile, "-dnsserver", world.Resolvers()[0]}
	p.env = append(append(os.Environ(), "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"), env...)
	p.dirURL = fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort)
	p.mgmtURL = fmt.Sprintf("https://127.0.0.1:%d", mgmtPort)
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))}}}
	p.start()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("pebble output:\n%s", p.log.String())
		}
	})
	return p
}

func (p *pebble) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = p.env
	p.log = &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.client.Get(p.dirURL)
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

// stop kills Pebble by its PID.
func (p *pebble) stop() {
	if p.cmd == nil {
		return
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Wait()
	p.cmd = nil
}

// root is Pebble's issuing root (new at every start).
func (p *pebble) root() *x509.CertPool {
	p.t.Helper()
	resp, err := p.client.Get(p.mgmtURL + "/roots/0")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return pool(b)
}

// forceRenewal sets the ARI window of leaf in the past.
func (p *pebble) forceRenewal(leaf *x509.Certificate) {
	p.t.Helper()
	past := time.Now().Add(-time.Hour).UTC()
	ari, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{"start": past.Format(time.RFC3339), "end": past.Add(30 * time.Minute).Format(time.RFC3339)}})
	body, _ := json.Marshal(map[string]string{"Certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})), "ARIResponse": string(ari)})
	resp, err := p.client.Post(p.mgmtURL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("set-renewal-info: %d", resp.StatusCode)
	}
}

func (p *pebble) flags() []string {
	return []string{"--acme-directory", p.dirURL, "--acme-ca-root", p.rootFile, "--acme-email", "ops@hallmark.test",
		"--acme-eab-kid", "kid-1", "--acme-eab-hmac", p.mac}
}

// TestServeACMEPebble is Story 1 to the end against Pebble, through the
// API: create, publish, verify, COMPLETED, a handshake that verifies
// against Pebble's root, a renewal forced through ARI served without a
// restart; then each fault gives its finding and recovers when removed.
func TestServeACMEPebble(t *testing.T) {
	world := newWorld(t)
	h := &hallmark{httpPort: freePort(t), httpsPort: freePort(t)}
	p := startPebble(t, world, h.httpPort, h.httpsPort, "PEBBLE_VA_NOSLEEP=1")
	startHallmark(t, h, world, append(p.flags(), "--watch-interval", "500ms")...)

	const name = "login.acme.test"
	d := h.create(e2eToken, name, "OKTA_MANAGED")
	publish(world, d)
	h.verify(e2eToken, d.ID)
	d = h.waitDomain(e2eToken, d.ID, 60*time.Second, "COMPLETED", status("COMPLETED"))
	leaf, err := h.handshake(name, p.root())
	if err != nil {
		t.Fatalf("handshake with SNI %s verified against Pebble's root: %v", name, err)
	}
	if fp := fingerprint(leaf); d.PublicCertificate == nil || d.PublicCertificate.Fingerprint != fp {
		t.Fatalf("publicCertificate %+v, the edge serves %s", d.PublicCertificate, fp)
	}

	t.Run("ari-renewal-served-without-restart", func(t *testing.T) {
		p.forceRenewal(leaf)
		r := h.waitDomain(e2eToken, d.ID, 60*time.Second, "a renewed certificate", func(x e2eDomain) bool {
			return x.PublicCertificate != nil && x.PublicCertificate.Fingerprint != d.PublicCertificate.Fingerprint
		})
		got, err := h.handshake(name, p.root())
		if err != nil {
			t.Fatal(err)
		}
		if fingerprint(got) != r.PublicCertificate.Fingerprint {
			t.Errorf("the edge serves %s, publicCertificate says %s", fingerprint(got), r.PublicCertificate.Fingerprint)
		}
		if evs := h.events("system.custom_url_domain.cert_renew", d.ID); len(evs) != 1 {
			t.Errorf("cert_renew events: %d, want 1", len(evs))
		}
	})

	// each fault: a fresh name, the fault in place before verification;
	// its finding in the diagnosis and a cert_provision FAILURE event; the
	// fault removed and verify pressed again: COMPLETED.
	fault := func(t *testing.T, name, wantID string, inject, remove func(), check func(finding string)) {
		inject()
		d := h.create(e2eToken, name, "OKTA_MANAGED")
		publish(world, d)
		h.verify(e2eToken, d.ID)
		got := h.waitDomain(e2eToken, d.ID, 60*time.Second, wantID, hasFinding(wantID))
		if got.ValidationStatus != "VERIFIED" {
			t.Errorf("status %s, want VERIFIED while issuance fails", got.ValidationStatus)
		}
		f, _ := got.finding(wantID)
		check(f)
		evs := h.events("system.custom_url_domain.cert_provision", d.ID)
		if len(evs) == 0 || !strings.Contains(fmt.Sprint(evs[0]), wantID) {
			t.Errorf("cert_provision events %v, want a FAILURE carrying %s", evs, wantID)
		}
		remove()
		h.verify(e2eToken, d.ID)
		h.waitDomain(e2eToken, d.ID, 60*time.Second, "COMPLETED after the fault is removed", status("COMPLETED"))
		if _, err := h.handshake(name, p.root()); err != nil {
			t.Errorf("handshake after recovery: %v", err)
		}
	}

	t.Run("fault/caa-forbids-issuer", func(t *testing.T) {
		fault(t, "caa.acme.test", "caa.forbids_issuer",
			func() { world.Set(`@ 300 IN CAA 0 issue "other-ca.example"`) },
			func() { world.Remove("@", "CAA") },
			func(f string) {
				if !strings.Contains(f, `CAA 0 issue \"pebble.letsencrypt.org\"`) {
					t.Errorf("finding %s, want the record that would allow pebble.letsencrypt.org", f)
				}
			})
	})
	t.Run("fault/challenge-unreachable", func(t *testing.T) {
		// The name's own A record sends the CA's validation to 127.0.0.2,
		// where nothing listens.
		fault(t, "flaky.acme.test", "acme.challenge_failed",
			func() { world.Set("flaky 300 IN A 127.0.0.2") },
			func() { world.Remove("flaky", "A") },
			func(f string) {
				if !strings.Contains(f, "127.0.0.2") {
					t.Errorf("finding %s, want what the CA reached (127.0.0.2)", f)
				}
			})
	})
	t.Run("fault/ca-stopped", func(t *testing.T) {
		fault(t, "down.acme.test", "acme.unreachable",
			p.stop,
			p.start, // a new Pebble: new root, and it forgot our account
			func(f string) {
				if !strings.Contains(f, p.dirURL) && !strings.Contains(f, "127.0.0.1") {
					t.Errorf("finding %s, want the directory it could not reach", f)
				}
			})
	})
}

func fingerprint(c *x509.Certificate) string {
	var b strings.Builder
	sum := sha256Sum(c.Raw)
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}
