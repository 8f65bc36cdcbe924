package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
		{"url-with-path", []string{"https://login.acme.com/app/sso"}, "has a path"},
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
	t.Run("fail/untrusted-with-system-roots", func(t *testing.T) {
		code, stdout, _ := runDoctor(t, "--json", addr)
		if code != 1 || !strings.Contains(stdout, `"chain.untrusted"`) {
			t.Fatalf("exit = %d, want 1 with chain.untrusted\n%s", code, stdout)
		}
	})
}
