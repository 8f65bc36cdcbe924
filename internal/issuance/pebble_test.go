package issuance_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

	"github.com/miekg/dns"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// testDNS answers A queries like a recursive resolver would for Pebble:
// names under "unreachable." resolve to 127.0.0.2, where nothing listens;
// everything else to 127.0.0.1. TCP only, as Pebble asks.
func testDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		for _, qq := range q.Question {
			if qq.Qtype != dns.TypeA {
				continue // AAAA, CAA…: NOERROR, no data
			}
			ip := "127.0.0.1"
			if strings.HasPrefix(qq.Name, "unreachable.") {
				ip = "127.0.0.2"
			}
			rr, _ := dns.NewRR(fmt.Sprintf("%s 60 IN A %s", qq.Name, ip))
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{Listener: ln, Net: "tcp", Handler: h}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// listenerCert makes a CA and a certificate for 127.0.0.1, for Pebble's
// own HTTPS listeners; the CA is what --acme-ca-root would name.
func listenerCert(t *testing.T, dir string) (certFile, keyFile string, root *x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test listener CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pebble"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile, root
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type pebble struct {
	dirURL, mgmtURL string
	client          *http.Client // trusts Pebble's listeners
	listenerRoots   *x509.CertPool
	eab             *issuance.EAB
}

// startPebble runs `go tool pebble` (the tool line of go.mod) on loopback
// with challenges sent to the edge's ports, and stops it by PID.
func startPebble(t *testing.T, dnsAddr string, httpPort, tlsPort int) *pebble {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, root := listenerCert(t, dir)
	acmePort, mgmtPort := freePort(t), freePort(t)
	mac := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"externalAccountBindingRequired": true,
		"externalAccountMACKeys":         map[string]string{"kid-1": mac},
		"caaIdentities":                  []string{"pebble.letsencrypt.org"},
		"profiles":                       map[string]any{"default": map[string]any{"Description": "90 days", "ValidityPeriod": 7776000}},
	}}
	b, _ := json.Marshal(conf)
	confFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confFile, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// `go tool -n pebble` builds the tool (slow the first time) and prints
	// its path; running that path is `go tool pebble` without a go process
	// in between, so the PID we stop is Pebble's own.
	out, err := exec.CommandContext(t.Context(), "go", "tool", "-n", "pebble").Output()
	if err != nil {
		t.Fatalf("go tool -n pebble: %v", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(out)), "-config", confFile, "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	var logBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble output:\n%s", logBuf.String())
		}
	})

	p := &pebble{
		dirURL:        fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort),
		mgmtURL:       fmt.Sprintf("https://127.0.0.1:%d", mgmtPort),
		listenerRoots: x509.NewCertPool(),
		eab:           &issuance.EAB{KeyID: "kid-1", HMACKey: mac},
	}
	p.listenerRoots.AddCert(root)
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.listenerRoots}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.client.Get(p.dirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v\n%s", err, logBuf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

func (p *pebble) root(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client.Get(p.mgmtURL + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble root: got %q", b)
	}
	return pool
}

// storeSource is the edge.Source the lead writes over the store: the
// certificate record, its key opened with the master key.
type storeSource struct {
	certs issuance.CertStore
	box   *sealed.Box
}

func (s storeSource) Lookup(ctx context.Context, name string) (edge.Entry, error) {
	rec, err := s.certs.Certificate(ctx, name)
	if err != nil {
		return edge.Entry{}, err
	}
	c, err := rec.TLSCertificate(s.box)
	if err != nil {
		return edge.Entry{}, err
	}
	return edge.Entry{Certificate: c, OrgName: "Acme"}, nil
}

func TestACMEAgainstPebble(t *testing.T) {
	box, _ := sealed.New(bytes.Repeat([]byte{3}, 32))
	st := issuance.NewMemStore()
	e, err := edge.New(edge.Config{}, storeSource{st, box}, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Serve(ctx, httpsLn, httpLn) }()
	t.Cleanup(func() { cancel(); <-served })

	p := startPebble(t, testDNS(t), httpLn.Addr().(*net.TCPAddr).Port, httpsLn.Addr().(*net.TCPAddr).Port)
	newIssuer := func(ch issuance.ChallengeType) *issuance.ACME {
		a, err := issuance.NewACME(issuance.ACMEConfig{
			DirectoryURL: p.dirURL, Email: "ops@example.test", EAB: p.eab, Roots: p.listenerRoots,
			Challenges: []issuance.ChallengeType{ch}, Timeout: 30 * time.Second,
		}, box, st, st)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	handshake := func(name string, roots *x509.CertPool) (*x509.Certificate, error) {
		d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots}}
		conn, err := d.DialContext(t.Context(), "tcp", httpsLn.Addr().String())
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
	}
	obtain := func(a *issuance.ACME, name string, replaces *x509.Certificate) issuance.Record {
		t.Helper()
		iss, err := a.Issue(t.Context(), issuance.Request{Name: name, Replaces: replaces})
		if err != nil {
			t.Fatalf("issue %s: %v", name, err)
		}
		plan := issuance.PlanRenewal(iss.Leaf(), nil, time.Now(), nil)
		rec, err := issuance.Seal(box, iss, plan.At)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutCertificate(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		e.Invalidate(name) // what the lifecycle does after storing
		return rec
	}

	httpIssuer := newIssuer(issuance.HTTP01)
	name := "www.e2e.test"
	if _, err := handshake(name, nil); err == nil {
		t.Fatal("handshake before issuance succeeded")
	}
	rec := obtain(httpIssuer, name, nil)
	pebbleRoots := p.root(t)
	leaf, err := handshake(name, pebbleRoots)
	if err != nil {
		t.Fatalf("handshake with SNI %s verified against Pebble's root: %v", name, err)
	}
	if got := issuance.Fingerprint(leaf); got != rec.Fingerprint {
		t.Errorf("served fingerprint %s, want the issued %s", got, rec.Fingerprint)
	}
	if acct, err := st.Account(t.Context(), p.dirURL); err != nil || acct.URL == "" || bytes.Contains(acct.SealedKey, []byte("PRIVATE")) {
		t.Errorf("stored account: %+v, %v; want a URL and a sealed key", acct.URL, err)
	}

	t.Run("ari-renewal", func(t *testing.T) {
		w, _, err := httpIssuer.RenewalWindow(t.Context(), leaf)
		if err != nil {
			t.Fatalf("renewal window: %v", err)
		}
		if !w.Start.After(time.Now()) {
			t.Errorf("fresh certificate's window starts %v, want in the future", w.Start)
		}
		// Force a window in the past through Pebble's management API.
		past := time.Now().Add(-time.Hour).UTC()
		ari, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{"start": past.Format(time.RFC3339), "end": past.Add(30 * time.Minute).Format(time.RFC3339)}})
		body, _ := json.Marshal(map[string]string{"Certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})), "ARIResponse": string(ari)})
		resp, err := p.client.Post(p.mgmtURL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("set-renewal-info: %v %v", err, resp)
		}
		resp.Body.Close()
		w, _, err = httpIssuer.RenewalWindow(t.Context(), leaf)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		plan := issuance.PlanRenewal(leaf, &w, now, nil)
		if plan.Reason != "ari" || plan.At.After(now) {
			t.Fatalf("plan: got %+v, want ari now", plan)
		}
		renewed := obtain(httpIssuer, name, leaf)
		got, err := handshake(name, pebbleRoots)
		if err != nil {
			t.Fatal(err)
		}
		if issuance.Fingerprint(got) != renewed.Fingerprint || renewed.Fingerprint == rec.Fingerprint {
			t.Errorf("after renewal the edge serves %s, want the renewed %s", issuance.Fingerprint(got), renewed.Fingerprint)
		}
	})

	t.Run("tls-alpn-01", func(t *testing.T) {
		obtain(newIssuer(issuance.TLSALPN01), "alpn.e2e.test", nil)
		if _, err := handshake("ALPN.e2e.test", pebbleRoots); err != nil {
			t.Fatalf("handshake: %v", err)
		}
	})

	t.Run("fail/challenge-unreachable", func(t *testing.T) {
		_, err := httpIssuer.Issue(t.Context(), issuance.Request{Name: "unreachable.e2e.test"})
		var ie *issuance.Error
		if !errors.As(err, &ie) {
			t.Fatalf("got %v, want *issuance.Error", err)
		}
		if got := finding.IDs(ie.Findings); len(got) != 1 || got[0] != finding.ACMEChallengeFailed {
			t.Fatalf("findings %v, want [%s]", got, finding.ACMEChallengeFailed)
		}
		if !strings.Contains(ie.Findings[0].Detail, "127.0.0.2") {
			t.Errorf("detail %q, want what the CA reached (127.0.0.2)", ie.Findings[0].Detail)
		}
	})

	t.Run("fail/unreachable-ca", func(t *testing.T) {
		a, _ := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: fmt.Sprintf("https://127.0.0.1:%d/dir", freePort(t)), Roots: p.listenerRoots}, box, issuance.NewMemStore(), st)
		_, err := a.Issue(t.Context(), issuance.Request{Name: "x.e2e.test"})
		var ie *issuance.Error
		if !errors.As(err, &ie) || ie.Findings[0].ID != finding.ACMEUnreachable {
			t.Fatalf("got %v, want %s", err, finding.ACMEUnreachable)
		}
	})

	t.Run("fail/untrusted-ca", func(t *testing.T) {
		a, _ := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: p.dirURL, Roots: x509.NewCertPool()}, box, issuance.NewMemStore(), st)
		_, err := a.Issue(t.Context(), issuance.Request{Name: "x.e2e.test"})
		var ie *issuance.Error
		if !errors.As(err, &ie) || ie.Findings[0].ID != finding.ACMEUnreachable || !strings.Contains(ie.Findings[0].Fix, "--acme-ca-root") {
			t.Fatalf("got %v, want %s naming --acme-ca-root", err, finding.ACMEUnreachable)
		}
	})
}
