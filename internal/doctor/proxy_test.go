package doctor_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
)

// The proxy's credentials in the auth scenarios; neither may appear in a
// report.
const (
	proxyUser = "alice.proxyuser"
	proxyPass = "s3cret-Pa55"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// portOf returns the port of a URL or host:port.
func portOf(t *testing.T, s string) string {
	t.Helper()
	if u, err := url.Parse(s); err == nil && u.Port() != "" {
		return u.Port()
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("no port in %q", s)
	}
	return port
}

// requests returns the proxy's requests as "METHOD target".
func requests(p *testpki.Proxy) []string {
	var out []string
	for _, r := range p.Requests() {
		out = append(out, r.Method+" "+r.Target)
	}
	return out
}

// afterTest checks the proxy's request log once the diagnosis is done.
func afterTest(t *testing.T, p *testpki.Proxy, check func(reqs []string)) {
	t.Cleanup(func() { check(requests(p)) })
}

func withUser(u *url.URL, user, pass string) *url.URL {
	c := *u
	c.User = url.UserPassword(user, pass)
	return &c
}

// noSecrets asserts the report, as text and JSON, never shows the proxy's
// credentials.
func noSecrets(t *testing.T, rep *doctor.Report) {
	t.Helper()
	var b bytes.Buffer
	rep.WriteText(&b, doctor.TextOptions{})
	rep.WriteJSON(&b)
	for _, secret := range []string{proxyPass, proxyUser, base64.StdEncoding.EncodeToString([]byte(proxyUser + ":" + proxyPass))} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("the report shows the proxy credential %q:\n%s", secret, b.String())
		}
	}
}

// proxyScenarios are the proxy paths: the environment's settings with Go's
// rules (an injected httpproxy.Config, never the process environment),
// proxy authentication, and allowlist entries tried through a proxy.
func proxyScenarios() []scenario {
	checked3 := []string{"revocation.checked/info", "revocation.checked/info", "revocation.checked/info"}
	with := func(extra ...string) []string { return sorted(append(slices.Clone(checked3), extra...)) }
	return []scenario{
		{
			name: "ok/env-https-proxy-used",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1"}})
				cfg.ProxyEnv = &httpproxy.Config{HTTPSProxy: p.URL.String(), HTTPProxy: p.URL.String(), NoProxy: "intranet.acme.test"}
				afterTest(t, p, func(reqs []string) {
					// The target goes through HTTPS_PROXY; the revocation
					// server is on 127.0.0.1, which Go never proxies.
					if want := []string{"CONNECT " + host + ":" + portOf(t, target)}; !slices.Equal(reqs, want) {
						t.Errorf("proxy requests = %v, want %v", reqs, want)
					}
				})
				return target
			},
			want: with("proxy.used/info"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ProxyUsed)
				if f.Evidence["source"] != "HTTPS_PROXY" || f.Evidence["status"] != "200" {
					t.Errorf("evidence = %v, want source HTTPS_PROXY and status 200", f.Evidence)
				}
			},
		},
		{
			name: "ok/env-no-proxy-excludes-target",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1"}})
				// ".acme.test" matches subdomains: login.acme.test goes direct.
				cfg.ProxyEnv = &httpproxy.Config{HTTPSProxy: withUser(p.URL, proxyUser, proxyPass).String(), NoProxy: "example.org, .acme.test"}
				afterTest(t, p, func(reqs []string) {
					if len(reqs) != 0 {
						t.Errorf("proxy requests = %v, want none: NO_PROXY excludes the target", reqs)
					}
				})
				return target
			},
			want: with("proxy.direct/info"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ProxyDirect)
				if f.Evidence["reason"] != "NO_PROXY" || f.Evidence["noProxy"] != "example.org, .acme.test" || f.Evidence["source"] != "HTTPS_PROXY" {
					t.Errorf("evidence = %v, want reason NO_PROXY, the NO_PROXY value and source HTTPS_PROXY", f.Evidence)
				}
				if p := fmt.Sprint(f.Evidence["proxy"]); !strings.HasPrefix(p, "http://xxxxx@127.0.0.1:") {
					t.Errorf("proxy = %q, want the proxy URL with its credentials hidden", p)
				}
				noSecrets(t, rep)
			},
		},
		{
			name: "ok/env-loopback-target-direct",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				l := e.leaf(t, func(lt *testpki.Template) { lt.CN, lt.DNSNames = "localhost", []string{"localhost"} })
				target := serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{})
				cfg.Resolver = hosts{"localhost": "127.0.0.1"}
				cfg.ProxyEnv = &httpproxy.Config{HTTPSProxy: p.URL.String(), HTTPProxy: p.URL.String()}
				afterTest(t, p, func(reqs []string) {
					if len(reqs) != 0 {
						t.Errorf("proxy requests = %v, want none: Go never proxies localhost or 127.0.0.1", reqs)
					}
				})
				return "https://localhost:" + portOf(t, target)
			},
			want:  with("proxy.direct/info"),
			check: evidence(finding.ProxyDirect, "reason", "loopback"),
		},
		{
			name: "ok/env-http-proxy-for-crl",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				crl := "http://crl.acme.test:" + portOf(t, e.rev.URL) + "/crl/inter.crl"
				l := e.leaf(t, func(lt *testpki.Template) { lt.OCSP, lt.CRL = nil, []string{crl} })
				target := serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1", "crl.acme.test": "127.0.0.1"}})
				cfg.ProxyEnv = &httpproxy.Config{HTTPSProxy: p.URL.String(), HTTPProxy: p.URL.String()}
				afterTest(t, p, func(reqs []string) {
					// http:// URLs use HTTP_PROXY, as a plain request; the
					// intermediate's CRL on 127.0.0.1 goes direct.
					want := []string{"CONNECT " + host + ":" + portOf(t, target), "GET " + crl}
					if !slices.Equal(sorted(reqs), sorted(want)) {
						t.Errorf("proxy requests = %v, want %v", reqs, want)
					}
				})
				return target
			},
			want: []string{"proxy.used/info", "revocation.checked/info", "revocation.checked/info"},
		},
		{
			name: "ok/env-https-proxy-only-crl-direct",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				crl := "http://crl.acme.test:" + portOf(t, e.rev.URL) + "/crl/inter.crl"
				l := e.leaf(t, func(lt *testpki.Template) { lt.OCSP, lt.CRL = nil, []string{crl} })
				target := serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1", "crl.acme.test": "127.0.0.1"}})
				cfg.Resolver = hosts{host: "127.0.0.1", "crl.acme.test": "127.0.0.1"}
				cfg.ProxyEnv = &httpproxy.Config{HTTPSProxy: p.URL.String()}
				afterTest(t, p, func(reqs []string) {
					// Without HTTP_PROXY an http:// URL goes direct: the
					// current httpproxy does not fall back to HTTPS_PROXY.
					if want := []string{"CONNECT " + host + ":" + portOf(t, target)}; !slices.Equal(reqs, want) {
						t.Errorf("proxy requests = %v, want %v", reqs, want)
					}
				})
				return target
			},
			want: []string{"proxy.used/info", "revocation.checked/info", "revocation.checked/info"},
		},
		{
			name: "ok/explicit-proxy-includes-loopback",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1"}})
				always(p, "--proxy", cfg)
				afterTest(t, p, func(reqs []string) {
					// --proxy is used for every host: the revocation
					// fetches to 127.0.0.1 go through it too, as plain
					// requests, not CONNECT.
					// OCSP is asked with GET, the request in the URL.
					rev := e.rev.URL
					for i, r := range reqs {
						if strings.HasPrefix(r, "GET "+rev+"/ocsp/inter/") {
							reqs[i] = "GET " + rev + "/ocsp/inter/REQUEST"
						}
					}
					want := sorted([]string{"CONNECT " + host + ":" + portOf(t, target), "GET " + rev + "/crl/inter.crl", "GET " + rev + "/crl/root.crl", "GET " + rev + "/ocsp/inter/REQUEST"})
					if got := sorted(reqs); !slices.Equal(got, want) {
						t.Errorf("proxy requests = %v, want %v", got, want)
					}
				})
				return target
			},
			want:  with("proxy.used/info"),
			check: evidence(finding.ProxyUsed, "source", "--proxy"),
		},
		{
			name: "ok/proxy-auth-credentials-sent",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1"}, User: proxyUser, Password: proxyPass})
				pu := withUser(p.URL, proxyUser, proxyPass)
				cfg.Proxy, cfg.ProxySource = func(*url.URL) (*url.URL, error) { return pu, nil }, "--proxy"
				t.Cleanup(func() {
					reqs := p.Requests()
					if len(reqs) != 4 {
						t.Errorf("proxy requests = %v, want the CONNECT and three revocation fetches", reqs)
					}
					for _, r := range reqs {
						if r.Auth != basic(proxyUser, proxyPass) || r.Status != 0 {
							t.Errorf("%s %s: Proxy-Authorization %q, status %d; want Basic credentials, accepted", r.Method, r.Target, r.Auth, r.Status)
						}
					}
				})
				return target
			},
			want: with("proxy.used/info"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ProxyUsed)
				if p := fmt.Sprint(f.Evidence["proxy"]); !strings.HasPrefix(p, "http://xxxxx@127.0.0.1:") || f.Evidence["credentials"] == nil {
					t.Errorf("evidence = %v, want the proxy with its credentials hidden, and that credentials were sent", f.Evidence)
				}
				noSecrets(t, rep)
			},
		},
		{
			name: "fail/proxy-auth-wrong-password",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1"}, User: proxyUser, Password: "the-right-one"})
				pu := withUser(p.URL, proxyUser, proxyPass)
				cfg.ProxyEnv = &httpproxy.Config{HTTPSProxy: pu.String()}
				t.Cleanup(func() {
					if reqs := p.Requests(); len(reqs) != 1 || reqs[0].Method != "CONNECT" || reqs[0].Auth != basic(proxyUser, proxyPass) || reqs[0].Status != 407 {
						t.Errorf("proxy requests = %+v, want one CONNECT with the Basic credentials, answered 407", reqs)
					}
				})
				return target
			},
			want: []string{"proxy.connect_failed/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ProxyConnectFailed)
				if f.Evidence["status"] != 407 || f.Evidence["source"] != "HTTPS_PROXY" || !strings.Contains(fmt.Sprint(f.Evidence["credentials"]), "refused") {
					t.Errorf("evidence = %v, want status 407 from HTTPS_PROXY with the credentials refused", f.Evidence)
				}
				if got := f.Evidence["authenticate"]; !slices.Equal(got.([]string), []string{`Basic realm="testpki"`}) {
					t.Errorf("authenticate = %v, want the proxy's Basic challenge", got)
				}
				if !strings.Contains(f.Fix, "refused the credentials") || !strings.Contains(f.Fix, "password is wrong") {
					t.Errorf("fix = %q, want it to say the credentials are wrong", f.Fix)
				}
				noSecrets(t, rep)
			},
		},
		{
			name: "fail/proxy-auth-credentials-missing",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1"}, User: proxyUser, Password: proxyPass})
				always(p, "--proxy", cfg)
				return target
			},
			want: []string{"proxy.connect_failed/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ProxyConnectFailed)
				if f.Evidence["status"] != 407 || f.Evidence["credentials"] != "none in the proxy URL" {
					t.Errorf("evidence = %v, want status 407 and no credentials sent", f.Evidence)
				}
				if !strings.Contains(f.Fix, "needs credentials") || !strings.Contains(f.Fix, "http://USER:PASSWORD@127.0.0.1:") {
					t.Errorf("fix = %q, want it to say credentials are needed and where they go", f.Fix)
				}
			},
		},
		func() scenario {
			var rport string // the revocation server's port
			return scenario{
				name: "fail/allowlist-through-proxy",
				setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
					target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
					tport := portOf(t, target)
					rport = portOf(t, e.rev.URL)
					// A proxy that tunnels to the TLS port only (Squid's
					// SSL_ports) and forwards plain HTTP anywhere it can reach.
					p := testpki.NewProxy(t, testpki.ProxyConfig{
						Hosts:        hosts{host: "127.0.0.1", "idp.acme.test": "127.0.0.1", "crl.acme.test": "127.0.0.1"},
						ConnectPorts: []string{tport},
					})
					always(p, "--proxy", cfg)
					prof, err := doctor.ParseProfile(fmt.Appendf(nil, `
name: through-proxy
hosts:
  - host: idp.acme.test
    ports: [%[1]s]
  - host: crl.acme.test
    http: true
    ports: [%[2]s]
  - host: mail.acme.test
    ports: [%[2]s]
  - host: gone.acme.test
    http: true
    ports: [%[2]s]
`, tport, rport), false)
					if err != nil {
						t.Fatal(err)
					}
					cfg.Profile = prof
					afterTest(t, p, func(reqs []string) {
						for _, want := range []string{
							"CONNECT idp.acme.test:" + tport,            // a TLS entry: CONNECT
							"HEAD http://crl.acme.test:" + rport + "/",  // a plain-HTTP entry: absolute-form
							"HEAD http://gone.acme.test:" + rport + "/", // the proxy cannot reach it: 502
							"HEAD " + e.rev.URL + "/crl/inter.crl",      // the chain's CRL host: the URL itself
							"CONNECT mail.acme.test:" + rport,           // a TLS entry on a port the proxy refuses
						} {
							if !slices.Contains(reqs, want) {
								t.Errorf("proxy requests = %v, want %q among them", reqs, want)
							}
						}
						for _, r := range reqs {
							if strings.HasPrefix(r, "CONNECT ") && strings.HasSuffix(r, ":"+rport) && r != "CONNECT mail.acme.test:"+rport {
								t.Errorf("proxy request %q: a plain-HTTP entry was tried with CONNECT", r)
							}
						}
					})
					return target
				},
				want: with("allowlist.blocked/error", "allowlist.blocked/error", "allowlist.ok/info", "allowlist.ok/info", "allowlist.ok/info", "proxy.used/info"),
				check: func(t *testing.T, rep *doctor.Report) {
					byHost := map[string]finding.Finding{}
					for _, f := range rep.Findings {
						if f.ID == finding.AllowlistOK || f.ID == finding.AllowlistBlocked {
							byHost[fmt.Sprint(f.Evidence["host"])] = f
						}
					}
					via := find(t, rep, finding.ProxyUsed).Evidence["proxy"]
					tests := []struct {
						host, id, method string
						status           any
					}{
						{"idp.acme.test", finding.AllowlistOK, "CONNECT idp.acme.test:", 200},
						{"crl.acme.test", finding.AllowlistOK, "HEAD http://crl.acme.test:" + rport + "/", 404},
						{"127.0.0.1", finding.AllowlistOK, "HEAD http://127.0.0.1:" + rport + "/crl/inter.crl", 200},
						{"mail.acme.test", finding.AllowlistBlocked, "CONNECT mail.acme.test:" + rport, 403},
						{"gone.acme.test", finding.AllowlistBlocked, "HEAD http://gone.acme.test:" + rport + "/", 502},
					}
					for _, tc := range tests {
						f, ok := byHost[tc.host]
						if !ok {
							t.Errorf("no allowlist finding for %s", tc.host)
							continue
						}
						if f.ID != tc.id || !strings.HasPrefix(fmt.Sprint(f.Evidence["method"]), tc.method) || f.Evidence["status"] != tc.status || f.Evidence["via"] != via {
							t.Errorf("%s: %s %v, want %s via the proxy with method %s and status %v", tc.host, f.ID, f.Evidence, tc.id, tc.method, tc.status)
						}
					}
					if fix := byHost["gone.acme.test"].Fix; !strings.Contains(fix, "Allow outbound HTTP to gone.acme.test on the firewall and the proxy") {
						t.Errorf("fix = %q, want outbound HTTP allowed on the proxy", fix)
					}
				},
			}
		}(),
		{
			name: "fail/allowlist-proxy-wants-credentials",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				target := serve(t, []*testpki.Cert{e.leaf(t, func(lt *testpki.Template) { lt.CRL, lt.OCSP, lt.AIA = nil, nil, nil }), e.inter}, nil, time.Time{})
				p := testpki.NewProxy(t, testpki.ProxyConfig{Hosts: hosts{host: "127.0.0.1"}, User: proxyUser, Password: proxyPass})
				// The target is excluded by NO_PROXY; the CRL host of the
				// profile goes through HTTP_PROXY, which wants credentials.
				cfg.ProxyEnv = &httpproxy.Config{HTTPSProxy: p.URL.String(), HTTPProxy: p.URL.String(), NoProxy: host}
				prof, err := doctor.ParseProfile(fmt.Appendf(nil, "hosts:\n  - host: crl.acme.test\n    http: true\n    ports: [%s]\n", portOf(t, e.rev.URL)), false)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Profile = prof
				return target
			},
			want: []string{"allowlist.blocked/error", "allowlist.ok/info", "proxy.direct/info", "revocation.checked/info", "revocation.unavailable/warning"},
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.AllowlistBlocked)
				if f.Evidence["status"] != 407 || f.Evidence["source"] != "HTTP_PROXY" || f.Evidence["credentials"] != "none in the proxy URL" {
					t.Errorf("evidence = %v, want 407 from HTTP_PROXY without credentials", f.Evidence)
				}
				if !strings.Contains(f.Fix, "needs credentials") {
					t.Errorf("fix = %q, want it to say the proxy needs credentials", f.Fix)
				}
			},
		},
	}
}
