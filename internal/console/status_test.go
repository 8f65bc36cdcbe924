package console

import (
	"testing"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
)

func TestBreakDots(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ok/labels-whole", "_hallmark-challenge.login.acme.test", `<span class="nb">_hallmark-challenge.</span><wbr>login.<wbr>acme.<wbr>test`},
		{"ok/one-label", "localhost", "localhost"},
		{"ok/long-label-may-wrap", "a-very-long-label-of-thirty-chars.example", "a-very-long-label-of-thirty-chars.<wbr>example"},
		{"ok/escaped", `<b>.x"y`, `&lt;b&gt;.<wbr>x&#34;y`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(breakDots(tc.in)); got != tc.want {
				t.Errorf("breakDots(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	if got, want := string(prose(`Asked ns1.acme.test for <TXT>.`)), `Asked ns1.<wbr>acme.<wbr>test for &lt;TXT&gt;.`; got != want {
		t.Errorf("prose = %s, want %s", got, want)
	}
}

func TestStatusWords(t *testing.T) {
	txt := customdomain.Record{Type: "TXT", FQDN: "_hallmark-challenge.login.acme.test"}
	missing := finding.Finding{ID: finding.DNSRecordMissing, Severity: finding.Error, Evidence: map[string]any{"name": txt.FQDN, "type": "TXT"}}
	doubled := finding.Finding{ID: finding.DNSRecordAtDoubledName, Severity: finding.Error, Evidence: map[string]any{"name": txt.FQDN, "type": "TXT"}}
	for _, tc := range []struct {
		name    string
		d       customdomain.Domain
		fs      []finding.Finding
		checked bool
		want    string
	}{
		{"wait/never-checked", customdomain.Domain{Status: customdomain.NotStarted}, nil, false, "Waiting for DNS"},
		{"wait/missing", customdomain.Domain{Status: customdomain.InProgress}, []finding.Finding{missing}, true, "Waiting for DNS"},
		{"action/doubled", customdomain.Domain{Status: customdomain.InProgress}, []finding.Finding{doubled}, true, "Action needed: the TXT record is at the wrong name"},
		{"wait/found", customdomain.Domain{Status: customdomain.InProgress}, nil, true, "Records found"},
		{"ok/verified", customdomain.Domain{Status: customdomain.Verified}, nil, true, "Verified"},
		{"ok/live", customdomain.Domain{Status: customdomain.Completed}, nil, true, "Live over HTTPS"},
		{"action/certificate-ready-ahead-of-the-cname", customdomain.Domain{Status: customdomain.Verified, Cert: customdomain.CertInfo{Fingerprint: "AA:01"}}, nil, true, "Certificate ready"},
		{"bad/failed", customdomain.Domain{Status: customdomain.FailedToVerify}, []finding.Finding{missing}, true, "Failed: checks stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusOf(tc.d, tc.fs, tc.checked).Words; got != tc.want {
				t.Errorf("status = %q, want %q", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name         string
		fs           []finding.Finding
		checked, was bool
		want         string
	}{
		{"neutral/no-check", nil, false, false, "not published yet"},
		{"neutral/missing-before-first-check", []finding.Finding{missing}, true, false, "not published yet"},
		{"bad/missing-after-a-check", []finding.Finding{missing}, true, true, "✗ not found"},
		{"bad/doubled", []finding.Finding{doubled}, true, true, "✗ at the wrong name"},
		{"ok/no-finding-about-it", []finding.Finding{{ID: finding.DNSRecordMissing, Severity: finding.Error, Evidence: map[string]any{"name": "login.acme.test", "type": "CNAME"}}}, true, true, "✓ published"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := markOf(txt, tc.fs, tc.checked, tc.was)
			got := m.Note
			if m.Sign != "" {
				got = m.Sign + " " + m.Note
			}
			if got != tc.want {
				t.Errorf("mark = %q, want %q", got, tc.want)
			}
		})
	}
}
