package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/http/httpproxy"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
	"github.com/hallmark-dev/hallmark/trust"
)

// noProxyEnv keeps the environment's proxy settings out of a test.
func noProxyEnv(t *testing.T) {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
	}
}

func runDoctor(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), append([]string{"doctor"}, args...), &out, &errb)
	code = exitCode(err, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDoctorBadInput(t *testing.T) {
	noProxyEnv(t)
	notPEM := writeFile(t, "roots.pem", []byte("this is not a certificate\n"))
	badPEM := writeFile(t, "bad.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	badProfile := writeFile(t, "p.yaml", []byte("hosts: [\n"))
	wildProfile := writeFile(t, "p2.yaml", []byte("ports: [443]\nhosts:\n  - host: '*.cdn.net'\n"))
	badJSONProfile := writeFile(t, "p.json", []byte(`{"hosts": "x"}`))
	unreadable := filepath.Join(t.TempDir(), "missing.pem")

	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"no-target", nil, "want one TARGET"},
		{"two-targets", []string{"a.example", "b.example"}, "want one TARGET"},
		{"nonsense", []string{"not a host"}, "not a valid host name"},
		{"nonsense-symbols", []string{"%%%"}, "target"},
		{"http-url", []string{"http://login.acme.com"}, "https://"},
		{"url-with-path-and-bad-port", []string{"https://login.acme.com:99999/app/sso?x=1"}, "port"},
		{"url-with-userinfo", []string{"https://alice:secret@login.acme.com"}, "user information"},
		{"ipv6-without-brackets", []string{"2001:db8::1"}, "IPv6"},
		{"ipv6-with-zone", []string{"[fe80::1%eth0]:443"}, "IPv6"},
		{"ipv6-in-url-without-brackets", []string{"https://2001:db8::1:443/"}, "target"},
		{"bad-port", []string{"login.acme.com:99999"}, "port"},
		{"roots-unreadable", []string{"--roots", unreadable, "login.acme.com"}, "--roots"},
		{"roots-not-pem", []string{"login.acme.com", "--roots", notPEM}, "no PEM certificate"},
		{"roots-garbled-pem", []string{"login.acme.com", "--roots", badPEM}, "--roots"},
		{"public-roots-not-pem", []string{"login.acme.com", "--public-roots", notPEM}, "--public-roots"},
		{"pin-malformed", []string{"login.acme.com", "--pin", "sha256/nope"}, "pin"},
		{"pin-wrong-algorithm", []string{"--pin", "sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "login.acme.com"}, "sha256/BASE64"},
		{"profile-unreadable", []string{"login.acme.com", "--profile", unreadable}, "profile"},
		{"profile-bad-yaml", []string{"login.acme.com", "--profile", badProfile}, "invalid YAML"},
		{"profile-wildcard-without-probe", []string{"login.acme.com", "--profile", wildProfile}, "probe"},
		{"profile-bad-json", []string{"login.acme.com", "--profile", badJSONProfile}, "invalid JSON"},
		{"proxy-socks", []string{"login.acme.com", "--proxy", "socks5://127.0.0.1:1080"}, "only http://"},
		{"proxy-nonsense", []string{"login.acme.com", "--proxy", "http://"}, "--proxy"},
		{"timeout-zero", []string{"login.acme.com", "--timeout", "0s"}, "--timeout"},
		{"timeout-not-duration", []string{"login.acme.com", "--timeout", "soon"}, "timeout"},
		{"unknown-flag", []string{"login.acme.com", "--frobnicate"}, "unknown flag"},
		{"allowlist-no-target", []string{"allowlist"}, "at least one TARGET"},
		{"allowlist-bad-format", []string{"allowlist", "--format", "xml", "login.acme.com"}, "want one of text, csv, pac, squid"},
		{"allowlist-bad-target", []string{"allowlist", "login.acme.com", "http://b.acme.com"}, "https://"},
		{"allowlist-bad-profile", []string{"allowlist", "login.acme.com", "--profile", badProfile}, "invalid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runDoctor(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit = %d, want 2 (stdout %q, stderr %q)", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.wantMsg) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantMsg)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") || strings.Count(stderr, "\n") > 2 {
				t.Errorf("stderr = %q, want one clear line, no stack trace", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing on bad input", stdout)
			}
		})
	}
}

// TestDoctorCommand runs the command end to end against a loopback server
// whose certificate is for 127.0.0.1, with real-time dates (the command uses
// the real clock).
func TestDoctorCommand(t *testing.T) {
	noProxyEnv(t)
	now := time.Now()
	root := testpki.Issue(t, testpki.Template{CN: "Cmd Test Root", CA: true, Key: "root", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, nil)
	leaf := testpki.Issue(t, testpki.Template{CN: "127.0.0.1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Key: "leaf", Serial: 10, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, root)
	addr := testpki.TLSServer(t, testpki.Certs(leaf), leaf.Key, nil, now)
	roots := writeFile(t, "roots.pem", root.PEM())

	t.Run("ok/json-flags-after-target", func(t *testing.T) {
		code, stdout, stderr := runDoctor(t, "https://"+addr, "--json", "--roots", roots, "--public-roots", roots, "--pin", trust.Pin(root.Cert))
		if code != 0 {
			t.Fatalf("exit = %d, want 0\n%s%s", code, stdout, stderr)
		}
		var rep struct {
			Target   string            `json:"target"`
			Findings []finding.Finding `json:"findings"`
			Chain    []map[string]any  `json:"chain"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
		}
		if rep.Target != "https://"+addr || len(rep.Chain) != 2 || rep.Chain[0]["pin"] != trust.Pin(leaf.Cert) {
			t.Errorf("report = %+v, want the target and a two-certificate chain led by the leaf's pin", rep)
		}
		// The leaf names no revocation source: a warning, not an error.
		if got := finding.IDs(rep.Findings); !slices.Equal(got, []string{finding.RevocationUnavailable}) {
			t.Errorf("findings = %v, want [revocation.unavailable]", got)
		}
	})
	t.Run("fail/pin-mismatch-flags-before-target", func(t *testing.T) {
		spare := testpki.Issue(t, testpki.Template{CN: "spare", Key: "spare"}, nil)
		code, stdout, stderr := runDoctor(t, "--roots", roots, "--public-roots", roots, "--pin", trust.Pin(spare.Cert), addr)
		if code != 1 {
			t.Fatalf("exit = %d, want 1\n%s%s", code, stdout, stderr)
		}
		if stderr != "" {
			t.Errorf("stderr = %q, want nothing: the report says it all", stderr)
		}
		if !strings.Contains(stdout, "[pin.mismatch]") || !strings.Contains(stdout, "FAIL") || strings.Contains(stdout, "\x1b[") {
			t.Errorf("stdout = %q, want an uncoloured report naming pin.mismatch", stdout)
		}
	})
	t.Run("ok/allowlist-squid-pinned-host-exempt", func(t *testing.T) {
		code, stdout, stderr := runDoctor(t, "allowlist", "https://"+addr+"/app/sso?x=1", "--roots", roots, "--pin", trust.Pin(root.Cert), "--format", "squid")
		if code != 0 {
			t.Fatalf("exit = %d, want 0\n%s%s", code, stdout, stderr)
		}
		_, port, _ := net.SplitHostPort(addr)
		for _, want := range []string{
			"acl hallmark_https_" + port + "_dst dstdomain 127.0.0.1\n",
			"http_access allow CONNECT hallmark_https_" + port + "_dst hallmark_https_" + port + "_port\n",
			"acl hallmark_no_inspect ssl::server_name 127.0.0.1\n",
			"ssl_bump splice hallmark_no_inspect\n",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("ok/allowlist-csv", func(t *testing.T) {
		code, stdout, stderr := runDoctor(t, "allowlist", addr, "--roots", roots, "--public-roots", roots, "--format", "csv")
		if code != 0 {
			t.Fatalf("exit = %d, want 0\n%s%s", code, stdout, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		_, port, _ := net.SplitHostPort(addr)
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "127.0.0.1,"+port+",https,false,,reachable,") {
			t.Errorf("csv = %q, want the header and the reachable service", stdout)
		}
	})
	t.Run("fail/untrusted-with-system-roots", func(t *testing.T) {
		code, stdout, _ := runDoctor(t, "--json", addr)
		if code != 1 || !strings.Contains(stdout, `"chain.untrusted"`) {
			t.Fatalf("exit = %d, want 1 with chain.untrusted\n%s", code, stdout)
		}
	})
}

// fakeEnv is an environment for newDoctorCmdEnv: tests that use it never
// read or change the process's, so they run in parallel.
type fakeEnv map[string]string

func (e fakeEnv) get(k string) string { return e[k] }

// runDoctorEnv runs the doctor command as run does, with env as the
// environment.
func runDoctorEnv(t *testing.T, env fakeEnv, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := &cobra.Command{Use: "hallmark", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &exitError{Code: 2, Err: err} })
	root.AddCommand(newDoctorCmdEnv(&out, &errb, env.get))
	root.SetArgs(append([]string{"doctor"}, args...))
	code = exitCode(root.ExecuteContext(t.Context()), &errb)
	return code, out.String(), errb.String()
}

// TestDoctorProxyEnvironment checks how the command reads HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY (as httpproxy.FromEnvironment does) and that the
// doctor then follows Go's rules: the proxy for https URLs, NO_PROXY and
// loopback direct; --proxy wins and is used for every host.
func TestDoctorProxyEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     fakeEnv
		flag    string
		want    *httpproxy.Config // nil: no environment proxy
		proxied map[string]string // URL → proxy chosen ("" for direct)
	}{
		{
			name: "https-proxy",
			env:  fakeEnv{"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": ".internal.corp,10.0.0.0/8"},
			want: &httpproxy.Config{HTTPSProxy: "http://proxy.corp:3128", NoProxy: ".internal.corp,10.0.0.0/8"},
			proxied: map[string]string{
				"https://login.acme.com":       "http://proxy.corp:3128",
				"https://sso.internal.corp":    "",
				"https://10.1.2.3:443":         "",
				"https://127.0.0.1:8443":       "",
				"https://localhost:8443":       "",
				"https://[::1]:8443":           "",
				"http://crl.acme-ca.com/r.crl": "", // no HTTP_PROXY: http URLs go direct
			},
		},
		{
			name: "lower-case-and-http-proxy",
			env:  fakeEnv{"https_proxy": "proxy.corp:3128", "http_proxy": "http://web.corp:8080", "no_proxy": "acme.com"},
			want: &httpproxy.Config{HTTPSProxy: "proxy.corp:3128", HTTPProxy: "http://web.corp:8080", NoProxy: "acme.com"},
			proxied: map[string]string{
				"https://login.acme.com":       "",
				"https://login.other.com":      "http://proxy.corp:3128",
				"http://crl.acme-ca.com/r.crl": "http://web.corp:8080",
			},
		},
		{
			name: "upper-case-wins",
			env:  fakeEnv{"HTTPS_PROXY": "http://upper.corp:1", "https_proxy": "http://lower.corp:2"},
			want: &httpproxy.Config{HTTPSProxy: "http://upper.corp:1"},
		},
		{
			name: "cgi",
			env:  fakeEnv{"HTTP_PROXY": "http://web.corp:8080", "REQUEST_METHOD": "GET"},
			want: &httpproxy.Config{HTTPProxy: "http://web.corp:8080", CGI: true},
		},
		{
			name: "none",
			env:  fakeEnv{"NO_PROXY": "acme.com"},
		},
		{
			name: "flag-wins",
			env:  fakeEnv{"HTTPS_PROXY": "http://proxy.corp:3128"},
			flag: "http://explicit.corp:3128",
			proxied: map[string]string{
				"https://login.acme.com": "http://explicit.corp:3128",
				"https://127.0.0.1:8443": "http://explicit.corp:3128",
				"http://localhost/r.crl": "http://explicit.corp:3128",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := doctorOptions{timeout: time.Second, proxy: tc.flag}
			cfg, err := o.config(tc.env.get)
			if err != nil {
				t.Fatal(err)
			}
			if (cfg.ProxyEnv == nil) != (tc.want == nil) || (tc.want != nil && *cfg.ProxyEnv != *tc.want) {
				t.Fatalf("ProxyEnv = %+v, want %+v", cfg.ProxyEnv, tc.want)
			}
			if tc.flag != "" && (cfg.Proxy == nil || cfg.ProxySource != "--proxy") {
				t.Fatalf("Proxy set = %v from %q, want --proxy", cfg.Proxy != nil, cfg.ProxySource)
			}
			choose := cfg.Proxy
			if choose == nil && cfg.ProxyEnv != nil {
				choose = cfg.ProxyEnv.ProxyFunc()
			}
			for raw, want := range tc.proxied {
				u, _ := url.Parse(raw)
				pu, err := choose(u)
				if err != nil {
					t.Fatalf("%s: %v", raw, err)
				}
				got := ""
				if pu != nil {
					got = pu.String()
				}
				if got != want {
					t.Errorf("proxy for %s = %q, want %q", raw, got, want)
				}
			}
		})
	}

	t.Run("fail/not-a-url-not-echoed", func(t *testing.T) {
		o := doctorOptions{timeout: time.Second}
		_, err := o.config(fakeEnv{"https_proxy": "http://bob:hunter2@proxy corp:3128"}.get)
		if err == nil || !strings.Contains(err.Error(), "https_proxy is not a proxy URL") || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("err = %v, want https_proxy named and its value not shown", err)
		}
	})
}

// TestDoctorCommandProxy runs the command against a loopback server with a
// proxy that wants credentials, from the environment and from --proxy.
func TestDoctorCommandProxy(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root := testpki.Issue(t, testpki.Template{CN: "Cmd Proxy Root", CA: true, Key: "root", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, nil)
	leaf := testpki.Issue(t, testpki.Template{CN: "127.0.0.1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Key: "leaf", Serial: 10, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, root)
	addr := testpki.TLSServer(t, testpki.Certs(leaf), leaf.Key, nil, now)
	roots := writeFile(t, "roots.pem", root.PEM())
	const user, pass = "carol", "pr0xy-Secret"
	proxy := testpki.NewProxy(t, testpki.ProxyConfig{User: user, Password: pass})
	withCreds := func(u, p string) string { return "http://" + u + ":" + p + "@" + proxy.URL.Host }
	secrets := []string{pass, "wrong-" + pass, user}

	report := func(t *testing.T, stdout string) map[string]finding.Finding {
		t.Helper()
		var rep struct{ Findings []finding.Finding }
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
		}
		m := map[string]finding.Finding{}
		for _, f := range rep.Findings {
			m[f.ID] = f
		}
		return m
	}
	tests := []struct {
		name     string
		env      fakeEnv
		args     []string
		wantCode int
		check    func(t *testing.T, fs map[string]finding.Finding)
	}{
		{
			name:     "ok/env-loopback-target-goes-direct",
			env:      fakeEnv{"HTTPS_PROXY": withCreds(user, pass)},
			wantCode: 0,
			check: func(t *testing.T, fs map[string]finding.Finding) {
				f, ok := fs[finding.ProxyDirect]
				if !ok || f.Evidence["reason"] != "loopback" || f.Evidence["proxy"] != "http://xxxxx@"+proxy.URL.Host {
					t.Errorf("proxy.direct = %+v, want reason loopback and the proxy with credentials hidden", f)
				}
			},
		},
		{
			name:     "ok/flag-credentials-accepted",
			env:      fakeEnv{"HTTPS_PROXY": "http://unused.invalid:1"},
			args:     []string{"--proxy", withCreds(user, pass)},
			wantCode: 0,
			check: func(t *testing.T, fs map[string]finding.Finding) {
				if f, ok := fs[finding.ProxyUsed]; !ok || f.Evidence["source"] != "--proxy" {
					t.Errorf("proxy.used = %+v, want the CONNECT through --proxy", f)
				}
			},
		},
		{
			name:     "fail/flag-credentials-wrong",
			args:     []string{"--proxy", withCreds(user, "wrong-"+pass)},
			wantCode: 1,
			check: func(t *testing.T, fs map[string]finding.Finding) {
				f := fs[finding.ProxyConnectFailed]
				if f.Severity != finding.Error || f.Evidence["status"] != float64(407) || !strings.Contains(f.Fix, "refused the credentials") {
					t.Errorf("proxy.connect_failed = %+v, want an error with status 407 and a fix about the credentials", f)
				}
			},
		},
		{
			name:     "fail/flag-credentials-missing",
			args:     []string{"--proxy", proxy.URL.String()},
			wantCode: 1,
			check: func(t *testing.T, fs map[string]finding.Finding) {
				if f := fs[finding.ProxyConnectFailed]; f.Evidence["status"] != float64(407) || !strings.Contains(f.Fix, "needs credentials") {
					t.Errorf("proxy.connect_failed = %+v, want 407 and a fix saying credentials are needed", f)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runDoctorEnv(t, tc.env, append([]string{"--json", "--roots", roots, "--public-roots", roots, addr}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit = %d, want %d\n%s%s", code, tc.wantCode, stdout, stderr)
			}
			for _, s := range secrets {
				if strings.Contains(stdout, s) || strings.Contains(stderr, s) {
					t.Errorf("the output shows the proxy credential %q:\n%s%s", s, stdout, stderr)
				}
			}
			tc.check(t, report(t, stdout))
		})
	}

	t.Run("fail/bad-proxy-flag-not-echoed", func(t *testing.T) {
		code, stdout, stderr := runDoctorEnv(t, nil, "--proxy", "socks5://"+user+":"+pass+"@127.0.0.1:1080", addr)
		if code != 2 || !strings.Contains(stderr, "only http://") || strings.Contains(stderr, pass) || strings.Contains(stderr, user) || stdout != "" {
			t.Errorf("exit %d, stderr %q: want 2, a clear message and no credentials", code, stderr)
		}
	})
}
