package doctor_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
	"github.com/hallmark-dev/hallmark/trust"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const host = "login.acme.test"

// hosts is an in-memory Resolver: names to loopback addresses only.
type hosts map[string]string

func (h hosts) LookupHost(ctx context.Context, name string) ([]string, error) {
	if ip, ok := h[name]; ok {
		return []string{ip}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// env is one scenario's PKI: a root, an intermediate and the revocation
// server (CRL, OCSP, AIA) that answers for both.
type env struct {
	root, inter *testpki.Cert
	rev         *testpki.Revocation
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{rev: testpki.NewRevocation(t)}
	e.root = testpki.Issue(t, testpki.Template{CN: "Acme Test Root", CA: true, Key: "root", NotBefore: testpki.Now.Add(-365 * 24 * time.Hour), NotAfter: testpki.Now.Add(3650 * 24 * time.Hour)}, nil)
	e.inter = testpki.Issue(t, testpki.Template{CN: "Acme Test Intermediate", CA: true, Key: "intermediate", Serial: 2,
		NotBefore: testpki.Now.Add(-365 * 24 * time.Hour), CRL: []string{e.rev.CRLURL("root")}, AIA: []string{e.rev.AIAURL("root")}}, e.root)
	e.rev.AddCA("root", e.root)
	e.rev.AddCA("inter", e.inter)
	return e
}

// leaf mints the server certificate for host; edit adjusts the template.
func (e *env) leaf(t testing.TB, edit func(*testpki.Template)) *testpki.Cert {
	t.Helper()
	lt := testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 100,
		CRL: []string{e.rev.CRLURL("inter")}, OCSP: []string{e.rev.OCSPURL("inter")}, AIA: []string{e.rev.AIAURL("inter")}}
	if edit != nil {
		edit(&lt)
	}
	return testpki.Issue(t, lt, e.inter)
}

// serve starts a TLS server with chain and returns the doctor's target for it.
func serve(t *testing.T, chain []*testpki.Cert, staple []byte, date time.Time) string {
	t.Helper()
	addr := testpki.TLSServer(t, testpki.Certs(chain...), chain[0].Key, staple, date)
	_, port, _ := net.SplitHostPort(addr)
	return "https://" + host + ":" + port
}

func (e *env) config() doctor.Config {
	return doctor.Config{
		Roots: testpki.Pool(e.root), PublicRoots: testpki.Pool(e.root),
		Resolver: hosts{host: "127.0.0.1", "idp.acme.test": "127.0.0.1", "static.acme-cdn.test": "127.0.0.1"},
		Now:      func() time.Time { return testpki.Now },
		Timeout:  3 * time.Second,
	}
}

func always(p *testpki.Proxy, source string, cfg *doctor.Config) {
	cfg.Proxy = func(*url.URL) (*url.URL, error) { return p.URL, nil }
	cfg.ProxySource = source
}

type scenario struct {
	name string
	// source names the incident report, RFC section or vendor document a
	// scenario of the corpus reproduces (corpus_test.go).
	source string
	setup  func(t *testing.T, e *env, cfg *doctor.Config) string // returns the target
	want   []string                                              // id/severity, sorted
	check  func(t *testing.T, rep *doctor.Report)
}

func scenarios() []scenario {
	checked3 := []string{"revocation.checked/info", "revocation.checked/info", "revocation.checked/info"}
	with := func(extra ...string) []string { return sorted(append(slices.Clone(checked3), extra...)) }
	return []scenario{
		{
			name: "ok/healthy",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				return serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
			},
			want: checked3,
			check: func(t *testing.T, rep *doctor.Report) {
				if len(rep.Chain) != 3 || rep.Chain[0].Subject != "CN="+host || rep.Chain[2].Subject != "CN=Acme Test Root" {
					t.Errorf("chain = %+v, want leaf, intermediate, root", rep.Chain)
				}
			},
		},
		{
			name: "fail/expired",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				l := e.leaf(t, func(lt *testpki.Template) {
					lt.NotBefore, lt.NotAfter = testpki.Now.Add(-100*24*time.Hour), testpki.Now.Add(-24*time.Hour)
				})
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want:  with("cert.expired/error"),
			check: evidence(finding.CertExpired, "notAfter", "2026-02-28T12:00:00Z"),
		},
		{
			name: "fail/not-yet-valid",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				l := e.leaf(t, func(lt *testpki.Template) { lt.NotBefore = testpki.Now.Add(48 * time.Hour) })
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want:  with("cert.not_yet_valid/error"),
			check: evidence(finding.CertNotYetValid, "notBefore", "2026-03-03T12:00:00Z"),
		},
		{
			name: "fail/wrong-name",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				l := e.leaf(t, func(lt *testpki.Template) { lt.CN, lt.DNSNames = "other.acme.test", []string{"other.acme.test"} })
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want:  with("cert.hostname_mismatch/error"),
			check: evidence(finding.CertHostnameMismatch, "host", host),
		},
		{
			name: "fail/self-signed",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				self := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "self"}, nil)
				return serve(t, []*testpki.Cert{self}, nil, time.Time{})
			},
			want:  []string{"chain.self_signed/error"},
			check: evidence(finding.ChainSelfSigned, "subject", "CN="+host),
		},
		{
			name: "fail/untrusted-root",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				other := testpki.Issue(t, testpki.Template{CN: "Other Root", CA: true, Key: "other-root"}, nil)
				oi := testpki.Issue(t, testpki.Template{CN: "Other Intermediate", CA: true, Key: "other-intermediate", Serial: 3}, other)
				ol := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "other-leaf", Serial: 4}, oi)
				return serve(t, []*testpki.Cert{ol, oi}, nil, time.Time{})
			},
			want:  []string{"chain.untrusted/error"},
			check: evidence(finding.ChainUntrusted, "root", "CN=Other Root"),
		},
		{
			name: "fail/intermediate-missing-fetched-through-aia",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				return serve(t, []*testpki.Cert{e.leaf(t, nil)}, nil, time.Time{})
			},
			want: with("chain.incomplete/error"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ChainIncomplete)
				if f.Evidence["fetched"] != "CN=Acme Test Intermediate" || !strings.HasSuffix(f.Evidence["url"].(string), "/aia/inter.der") {
					t.Errorf("evidence = %v, want the intermediate fetched from /aia/inter.der", f.Evidence)
				}
				if !strings.Contains(f.Fix, "Acme Test Intermediate") {
					t.Errorf("fix = %q, want it to name the intermediate", f.Fix)
				}
			},
		},
		{
			name: "fail/intermediate-missing-unreachable",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				closed := testpki.ClosedPort(t)
				l := e.leaf(t, func(lt *testpki.Template) { lt.AIA = []string{"http://" + closed + "/inter.der"} })
				cfg.Resolver = hosts{host: "127.0.0.1", "closed": closed}
				return serve(t, []*testpki.Cert{l}, nil, time.Time{})
			},
			want: []string{"chain.incomplete/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ChainIncomplete)
				if f.Evidence["host"] != "127.0.0.1" || f.Evidence["missingIssuer"] != "CN=Acme Test Intermediate" {
					t.Errorf("evidence = %v, want host 127.0.0.1 and the missing issuer", f.Evidence)
				}
			},
		},
		{
			name: "fail/proxy-re-signs-with-own-root",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				zroot := testpki.Issue(t, testpki.Template{CN: "Zscaler Root CA", Org: "Zscaler Inc.", CA: true, Key: "proxy-root"}, nil)
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.ResignProxy(t, zroot, hosts{host: "127.0.0.1"})
				always(p, "--proxy", cfg)
				cfg.Roots = testpki.Pool(e.root, zroot) // the inspection root is installed locally
				return target
			},
			want: []string{"proxy.used/info", "revocation.unavailable/warning", "tls.intercepted/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.TLSIntercepted)
				if f.Evidence["product"] != "Zscaler" || f.Evidence["root"] != "CN=Zscaler Root CA,O=Zscaler Inc." {
					t.Errorf("evidence = %v, want Zscaler and its root", f.Evidence)
				}
				if f.Evidence["directLeafPin"] == nil || f.Evidence["directLeafPin"] == f.Evidence["proxyLeafPin"] {
					t.Errorf("evidence = %v, want different direct and proxy leaf pins", f.Evidence)
				}
				if !strings.Contains(f.Fix, host) {
					t.Errorf("fix = %q, want the host to bypass", f.Fix)
				}
			},
		},
		{
			name: "fail/pin-mismatch",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				spare := testpki.Issue(t, testpki.Template{CN: "spare", Key: "spare"}, nil)
				cfg.Pins = []string{trust.Pin(spare.Cert)}
				return serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
			},
			want: with("pin.mismatch/error"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.PinMismatch)
				if seen := f.Evidence["seen"].([]string); len(seen) != 3 || seen[0] != rep.Chain[0].Pin {
					t.Errorf("seen = %v, want the three pins of the chain", seen)
				}
			},
		},
		{
			name: "fail/revoked-by-crl",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				l := e.leaf(t, func(lt *testpki.Template) { lt.OCSP = nil })
				e.rev.Revoke(100)
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want:  []string{"revocation.checked/info", "revocation.revoked/error"},
			check: evidence(finding.RevocationRevoked, "kind", "crl"),
		},
		{
			name: "fail/revoked-by-ocsp",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				l := e.leaf(t, func(lt *testpki.Template) { lt.CRL = nil })
				e.rev.Revoke(100)
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want:  []string{"revocation.checked/info", "revocation.revoked/error"},
			check: evidence(finding.RevocationRevoked, "kind", "ocsp"),
		},
		{
			name: "fail/crl-on-closed-port",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				closed := testpki.ClosedPort(t)
				l := e.leaf(t, func(lt *testpki.Template) { lt.OCSP = nil; lt.CRL = []string{"http://" + closed + "/leaf.crl"} })
				t.Setenv("DOCTOR_TEST_CLOSED", closed)
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want: []string{"revocation.checked/info", "revocation.unreachable/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				closed := os.Getenv("DOCTOR_TEST_CLOSED")
				_, port, _ := net.SplitHostPort(closed)
				f := find(t, rep, finding.RevocationUnreachable)
				if f.Evidence["host"] != "127.0.0.1" || fmt.Sprint(f.Evidence["port"]) != port || f.Evidence["url"] != "http://"+closed+"/leaf.crl" {
					t.Errorf("evidence = %v, want host 127.0.0.1, port %s and the CRL URL", f.Evidence, port)
				}
				if !strings.Contains(f.Fix, "Allowlist line: 127.0.0.1:"+port) {
					t.Errorf("fix = %q, want the allowlist line", f.Fix)
				}
			},
		},
		{
			name: "warn/ocsp-down-staple-present",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				closed := testpki.ClosedPort(t)
				l := e.leaf(t, func(lt *testpki.Template) { lt.CRL = nil; lt.OCSP = []string{"http://" + closed + "/ocsp"} })
				return serve(t, []*testpki.Cert{l, e.inter}, testpki.Staple(t, e.inter, 100), time.Time{})
			},
			want: []string{"revocation.checked/info", "revocation.checked/info", "revocation.unreachable/warning"},
			check: func(t *testing.T, rep *doctor.Report) {
				var kinds []string
				for _, f := range rep.Findings {
					kinds = append(kinds, fmt.Sprint(f.Evidence["kind"]))
				}
				if !slices.Contains(kinds, trust.KindStapled) {
					t.Errorf("kinds = %v, want the stapled response reported", kinds)
				}
			},
		},
		{
			name: "fail/tcp-refused",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				_, port, _ := net.SplitHostPort(testpki.ClosedPort(t))
				return "https://" + host + ":" + port
			},
			want:  []string{"net.connect_failed/error"},
			check: evidence(finding.NetConnectFailed, "host", host),
		},
		{
			name: "fail/name-does-not-resolve",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				cfg.Resolver = nil // the real resolver: .invalid must not be looked up at all
				return "https://login.acme.invalid"
			},
			want:  []string{"dns.resolve_failed/error"},
			check: evidence(finding.DNSResolveFailed, "host", "login.acme.invalid"),
		},
		{
			name: "fail/proxy-refuses-connect",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				always(testpki.RefusingProxy(t), "HTTPS_PROXY", cfg)
				return target
			},
			want: []string{"proxy.connect_failed/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ProxyConnectFailed)
				if f.Evidence["status"] != 403 || f.Evidence["host"] != "127.0.0.1" || !strings.Contains(fmt.Sprint(f.Evidence["direct"]), "succeeds") {
					t.Errorf("evidence = %v, want status 403, the proxy host and a working direct path", f.Evidence)
				}
			},
		},
		{
			name: "ok/proxy-tunnels",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.TunnelProxy(t, hosts{host: "127.0.0.1"})
				always(p, "--proxy", cfg)
				t.Cleanup(func() {
					if got := p.ConnectTargets(); len(got) == 0 || !strings.HasPrefix(got[0], host+":") {
						t.Errorf("proxy CONNECT targets = %v, want %s", got, host)
					}
				})
				return target
			},
			want:  sorted(append(slices.Clone(checked3), "proxy.used/info")),
			check: evidence(finding.ProxyUsed, "direct", "same certificate as through the proxy"),
		},
		{
			name: "fail/port-speaks-plain-http",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				_, port, _ := net.SplitHostPort(testpki.HTTPServer(t))
				return "https://" + host + ":" + port
			},
			want:  []string{"tls.handshake_failed/error"},
			check: evidence(finding.TLSHandshakeFailed, "plainHTTP", true),
		},
		{
			name: "fail/rsa-1024-leaf",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				return serve(t, []*testpki.Cert{e.leaf(t, func(lt *testpki.Template) { lt.Key = "rsa1024" }), e.inter}, nil, time.Time{})
			},
			want:  with("cert.weak_key/error"),
			check: evidence(finding.CertWeakKey, "bits", 1024),
		},
		{
			name: "fail/sha1-signed-leaf",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				// An RSA intermediate that still signs with SHA-1.
				ri := testpki.Issue(t, testpki.Template{CN: "Acme RSA Intermediate", CA: true, Key: "rsa-intermediate", Serial: 3,
					NotBefore: testpki.Now.Add(-365 * 24 * time.Hour), CRL: []string{e.rev.CRLURL("root")}}, e.root)
				e.rev.AddCA("rsainter", ri)
				l := testpki.IssueWeak(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 100,
					CRL: []string{e.rev.CRLURL("rsainter")}, OCSP: []string{e.rev.OCSPURL("rsainter")}}, ri, x509.SHA1WithRSA)
				return serve(t, []*testpki.Cert{l, ri}, nil, time.Time{})
			},
			// Named as the cause; the chain is still built, so revocation
			// and the rest are judged too.
			want: with("cert.weak_signature/error"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.CertWeakSignature)
				if f.Evidence["signatureAlgorithm"] != "SHA1-RSA" || f.Evidence["subject"] != "CN="+host || f.Evidence["issuer"] != "CN=Acme RSA Intermediate" {
					t.Errorf("evidence = %v, want SHA1-RSA for the leaf, issued by the RSA intermediate", f.Evidence)
				}
				if len(rep.Chain) != 3 || rep.Chain[2].Subject != "CN=Acme Test Root" {
					t.Errorf("chain = %+v, want leaf, intermediate, root", rep.Chain)
				}
			},
		},

		{
			name: "fail/allowlist-profile",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				u, _ := url.Parse(target)
				_, closed, _ := net.SplitHostPort(testpki.ClosedPort(t))
				p, err := doctor.ParseProfile([]byte(fmt.Sprintf(`
name: test
hosts:
  - host: idp.acme.test
    ports: [%s]
  - host: "*.acme-cdn.test"
    probe: static.acme-cdn.test
    ports: [%s]
`, u.Port(), closed)), false)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Profile = p
				return target
			},
			// idp reachable, the CDN probe blocked, the revocation/AIA host of the chain reachable
			want: with("allowlist.blocked/error", "allowlist.ok/info", "allowlist.ok/info"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.AllowlistBlocked)
				if f.Evidence["host"] != "static.acme-cdn.test" || f.Evidence["entry"] != "*.acme-cdn.test" {
					t.Errorf("evidence = %v, want the probe host of the wildcard", f.Evidence)
				}
				if !strings.Contains(f.Fix, "Allowlist line: *.acme-cdn.test:") {
					t.Errorf("fix = %q, want the wildcard allowlist line", f.Fix)
				}
			},
		},
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

func find(t *testing.T, rep *doctor.Report, id string) finding.Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no %s finding in %v", id, finding.IDs(rep.Findings))
	return finding.Finding{}
}

func evidence(id, key string, want any) func(*testing.T, *doctor.Report) {
	return func(t *testing.T, rep *doctor.Report) {
		t.Helper()
		if got := find(t, rep, id).Evidence[key]; got != want {
			t.Errorf("%s evidence %s = %#v, want %#v", id, key, got, want)
		}
	}
}

func TestDiagnose(t *testing.T) {
	for _, sc := range slices.Concat(scenarios(), proxyScenarios(), corpus()) {
		t.Run(sc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config()
			target := sc.setup(t, e, &cfg)
			d, err := doctor.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tg, err := doctor.ParseTarget(target)
			if err != nil {
				t.Fatal(err)
			}
			rep := d.Diagnose(t.Context(), tg)
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.ID+"/"+string(f.Severity))
			}
			slices.Sort(got)
			if !slices.Equal(got, sc.want) {
				var b bytes.Buffer
				rep.WriteText(&b, doctor.TextOptions{})
				t.Fatalf("findings = %v, want %v\n%s", got, sc.want, b.String())
			}
			if sc.check != nil {
				sc.check(t, rep)
			}
			wantErr := slices.ContainsFunc(sc.want, func(s string) bool { return strings.HasSuffix(s, "/error") })
			if rep.HasError() != wantErr {
				t.Errorf("HasError = %v, want %v", rep.HasError(), wantErr)
			}
			checkJSON(t, rep)
			golden(t, sc.name, rep)
		})
	}
}

// checkJSON asserts the JSON report has DESIGN.md's keys.
func checkJSON(t *testing.T, rep *doctor.Report) {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"chain", "checkedAt", "durationMs", "findings", "target"}; !slices.Equal(keys, want) {
		t.Errorf("JSON keys = %v, want %v", keys, want)
	}
	var chain []map[string]any
	json.Unmarshal(m["chain"], &chain)
	for _, c := range chain {
		for _, k := range []string{"subject", "issuer", "notBefore", "notAfter", "dnsNames", "pin"} {
			if _, ok := c[k]; !ok {
				t.Errorf("chain element lacks %q: %v", k, c)
			}
		}
	}
}

var (
	portRE = regexp.MustCompile(`(?:127\.0\.0\.1|localhost|login\.acme\.test|acme-cdn\.test|(?:idp|crl|mail|gone)\.acme\.test):(\d{4,5})\b|port: +(\d{4,5})\b`)
	msRE   = regexp.MustCompile(`in \d+ ms`)
)

// normalise replaces the scenario's random ports (P1, P2, ... in order of
// appearance) and the duration, so the report is stable across runs.
func normalise(s string) string {
	s = msRE.ReplaceAllString(s, "in N ms")
	names := map[string]string{}
	var order []string
	for _, m := range portRE.FindAllStringSubmatch(s, -1) {
		p := m[1] + m[2]
		if _, ok := names[p]; !ok {
			names[p] = "P" + strconv.Itoa(len(names)+1)
			order = append(order, p)
		}
	}
	for _, p := range order {
		s = regexp.MustCompile(`\b`+p+`\b`).ReplaceAllString(s, names[p])
	}
	return s
}

func golden(t *testing.T, name string, rep *doctor.Report) {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteText(&b, doctor.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	got := normalise(b.String())
	path := filepath.Join("testdata", strings.ReplaceAll(name, "/", "-")+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s (run go test -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestTextColour(t *testing.T) {
	rep := &doctor.Report{Target: "https://x.test", Findings: []finding.Finding{{ID: "cert.expired", Severity: finding.Error, Summary: "s"}}}
	var plain, colour bytes.Buffer
	rep.WriteText(&plain, doctor.TextOptions{})
	rep.WriteText(&colour, doctor.TextOptions{Color: true})
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("plain report has ANSI escapes: %q", plain.String())
	}
	if !strings.Contains(colour.String(), "\x1b[31m") {
		t.Errorf("colour report has no red: %q", colour.String())
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"https://login.acme.com", "login.acme.com:443", ""},
		{"https://login.acme.com/", "login.acme.com:443", ""},
		{"login.acme.com", "login.acme.com:443", ""},
		{"Login.ACME.com:8443", "login.acme.com:8443", ""},
		{"127.0.0.1:8443", "127.0.0.1:8443", ""},
		{"[::1]:8443", "[::1]:8443", ""},
		{"https://bücher.example", "xn--bcher-kva.example:443", ""},
		{"", "", "empty target"},
		{"http://login.acme.com", "", "must start with https://"},
		{"https://user:pw@login.acme.com", "", "user information"},
		{"https://login.acme.com/app/login", "login.acme.com:443", ""},
		{"https://login.acme.com/?q=1", "login.acme.com:443", ""},
		{"https://login.acme.com:8443/oauth2/v1/authorize?client_id=0oa1&redirect_uri=https%3A%2F%2Fapp#state", "login.acme.com:8443", ""},
		{"https://acme.okta.com/app/acme_app_1/exk1/sso/saml?RelayState=%2Fhome", "acme.okta.com:443", ""},
		{"login.acme.com/path", "", "give an https URL"},
		{"2001:db8::1", "", "without brackets"},
		{"https://2001:db8::1/", "", "not a valid URL"},
		{"[fe80::1%eth0]:443", "", "not an IPv6 address"},
		{"[127.0.0.1]:443", "", "not an IPv6 address"},
		{"login.acme.com:0", "", "not a number from 1 to 65535"},
		{"login.acme.com:https", "", "not a number"},
		{"not a host", "", "not a valid host name"},
		{"!!!", "", "not a valid host name"},
		{"nodots", "", "not a valid host name"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := doctor.ParseTarget(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseTarget(%q) err = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Addr() != tc.want {
				t.Fatalf("ParseTarget(%q) = %v, %v; want %s", tc.in, got.Addr(), err, tc.want)
			}
		})
	}
}

func TestProfile(t *testing.T) {
	good := []struct{ name, data string }{
		{"yaml", "ports: [443]\nhosts:\n  - host: login.acme.com\n  - host: '*.cdn.net'\n    probe: a.cdn.net\n  - host: crl.ca.net\n    ports: [80]\n"},
		{"json", `{"ports":[443],"hosts":[{"host":"login.acme.com"},{"host":"*.cdn.net","probe":"a.cdn.net"}]}`},
	}
	for _, g := range good {
		if _, err := doctor.ParseProfile([]byte(g.data), g.name == "json"); err != nil {
			t.Errorf("%s: %v", g.name, err)
		}
	}
	bad := []struct{ name, data, wantErr string }{
		{"not-yaml", "hosts: [", "invalid YAML"},
		{"unknown-field", "hosts:\n  - hots: x.com\n", "field hots not found"},
		{"no-hosts", "ports: [443]\n", "no hosts"},
		{"no-ports", "hosts:\n  - host: a.com\n", "no ports"},
		{"bad-port", "hosts:\n  - host: a.com\n    ports: [70000]\n", "not a port"},
		{"wildcard-without-probe", "ports: [443]\nhosts:\n  - host: '*.cdn.net'\n", "needs a probe"},
		{"probe-outside", "ports: [443]\nhosts:\n  - host: '*.cdn.net'\n    probe: evil.com\n", "not a host name under"},
		{"inner-wildcard", "ports: [443]\nhosts:\n  - host: 'a.*.net'\n", "first label"},
	}
	for _, b := range bad {
		_, err := doctor.ParseProfile([]byte(b.data), false)
		if err == nil || !strings.Contains(err.Error(), b.wantErr) {
			t.Errorf("%s: err = %v, want one containing %q", b.name, err, b.wantErr)
		}
	}
	if _, err := doctor.ParseProfile([]byte(`{"hosts": 3}`), true); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Errorf("bad JSON: err = %v, want invalid JSON", err)
	}
	if _, err := doctor.LoadProfile(filepath.Join("..", "..", "docs", "profiles", "identity-provider.yaml")); err != nil {
		t.Errorf("the shipped example profile: %v", err)
	}
}
