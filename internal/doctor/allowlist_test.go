package doctor_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/doctor"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
)

// TestAllowlistDerived derives the list from a real server: the service
// (which asks for a client certificate, so it must be exempt from
// inspection), the revocation and AIA host of its chain, and a profile
// entry that is blocked from here; all tried through a proxy.
func TestAllowlistDerived(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	chain := []*testpki.Cert{e.leaf(t, nil), e.inter}
	addr := testpki.TLSServerWith(t, testpki.Certs(chain...), chain[0].Key, func(c *tls.Config) { c.ClientAuth = tls.RequestClientCert })
	_, port, _ := net.SplitHostPort(addr)
	_, closed, _ := net.SplitHostPort(testpki.ClosedPort(t))
	p, err := doctor.ParseProfile([]byte(fmt.Sprintf("name: okta-verify\nhosts:\n  - host: '*.acme-cdn.test'\n    probe: static.acme-cdn.test\n    ports: [%s]\n    note: sign-in page assets\n", closed)), false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Profile = p
	proxy := testpki.TunnelProxy(t, hosts{host: "127.0.0.1", "static.acme-cdn.test": "127.0.0.1"})
	always(proxy, "--proxy", &cfg)
	d, err := doctor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := doctor.ParseTarget("https://" + host + ":" + port + "/app/sso?x=1")
	if err != nil {
		t.Fatal(err)
	}
	al := d.Allowlist(t.Context(), []doctor.Target{tg})

	rev, _ := url.Parse(e.rev.URL)
	got := map[string]doctor.AllowEntry{}
	var keys []string
	for _, en := range al.Entries {
		k := net.JoinHostPort(en.Host, fmt.Sprint(en.Port))
		got[k] = en
		keys = append(keys, k)
	}
	want := []string{host + ":" + port, rev.Host, "*.acme-cdn.test:" + closed}
	if !slices.Equal(keys, want) {
		t.Fatalf("entries = %v, want %v", keys, want)
	}
	svc := got[host+":"+port]
	if !svc.Exempt || !strings.Contains(svc.ExemptWhy, "client certificate") || svc.Protocol != "https" || svc.Status != "reachable" {
		t.Errorf("service entry = %+v, want https, reachable, exempt for its client certificate", svc)
	}
	r := got[rev.Host]
	if r.Protocol != "http" || r.Status != "reachable" || r.Exempt || len(r.Why) < 3 {
		t.Errorf("revocation entry = %+v, want http, reachable, not exempt, with the CRL, OCSP and AIA reasons", r)
	}
	if c := got["*.acme-cdn.test:"+closed]; c.Status != "blocked" || c.Error == "" || !strings.Contains(strings.Join(c.Why, ""), "okta-verify") {
		t.Errorf("profile entry = %+v, want blocked with the error and the profile named", c)
	}
	if al.Proxy != proxy.URL.String() {
		t.Errorf("proxy = %q, want %q", al.Proxy, proxy.URL)
	}
	var reqs []string
	for _, rq := range proxy.Requests() {
		reqs = append(reqs, rq.Method)
	}
	if !slices.Contains(reqs, "CONNECT") || !slices.Contains(reqs, "HEAD") {
		t.Errorf("proxy saw %v, want the service tried with CONNECT and the CRL host with HEAD", reqs)
	}
}

// sampleAllowlist is the list of a desktop authenticator's org: the
// sign-in host (client certificates: exempt), the CA's CRL and OCSP hosts
// on port 80, and a profile wildcard blocked from here.
func sampleAllowlist() *doctor.Allowlist {
	return &doctor.Allowlist{
		Targets: []string{"https://login.acme.com", "https://acme.mtls.okta.com"},
		Proxy:   "http://proxy.corp:3128",
		Entries: []doctor.AllowEntry{
			{Host: "login.acme.com", Port: 443, Protocol: "https", Why: []string{"the service https://login.acme.com"}, Status: "reachable"},
			{Host: "acme.mtls.okta.com", Port: 443, Protocol: "https", Why: []string{"the service https://acme.mtls.okta.com"}, Exempt: true,
				ExemptWhy: "it asks for a client certificate, which TLS inspection cannot carry", Status: "reachable"},
			{Host: "r11.o.lencr.org", Port: 80, Protocol: "http", Why: []string{"OCSP of R11: http://r11.o.lencr.org"}, Status: "reachable"},
			{Host: "r11.c.lencr.org", Port: 80, Protocol: "http", Why: []string{"CRL of R11: http://r11.c.lencr.org/12.crl"}, Status: "blocked", Error: "the proxy answered HEAD with 403 Forbidden"},
			{Host: "*.oktacdn.com", Port: 443, Protocol: "https", Why: []string{"profile okta-verify: sign-in page assets"}, Status: "reachable"},
			{Host: "ok12static.oktacdn.com", Port: 8443, Protocol: "https", Why: []string{"profile okta-verify"}, Status: "reachable"},
		},
	}
}

func TestAllowlistFormats(t *testing.T) {
	for _, format := range doctor.AllowlistFormats {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := sampleAllowlist().Write(&b, format); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "allowlist."+format+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("allowlist.%s differs from %s (run go test -update after checking):\n--- got\n%s\n--- want\n%s", format, path, b.String(), want)
			}
		})
	}
	if err := sampleAllowlist().Write(&bytes.Buffer{}, "xml"); err == nil || !strings.Contains(err.Error(), "text, csv, pac, squid") {
		t.Errorf("format xml: err = %v, want one naming the formats", err)
	}
}
