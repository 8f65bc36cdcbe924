package dnscheck_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
)

const (
	txtName = "_hallmark-challenge.login.acme.test"
	token   = "tok-3f9a1c"
	target  = "edge.hallmark.test"
)

// healthy are the records of a domain set up right.
var healthy = []string{
	`_hallmark-challenge.login.acme.test. 300 IN TXT "` + token + `"`,
	`login.acme.test. 300 IN CNAME edge.hallmark.test.`,
}

func expectation() dnscheck.Expectation {
	return dnscheck.Expectation{
		Name:        "login.acme.test",
		TXT:         []dnscheck.TXTRecord{{Name: txtName, Value: token}},
		CNAMETarget: target,
		CAAIdentity: "letsencrypt.org",
	}
}

// want is one expected finding: its id, severity and some evidence, each
// value compared in its fmt.Sprint form.
type want struct {
	id       string
	severity finding.Severity
	evidence map[string]any
}

func newChecker(tb testing.TB, w *dnstest.World) *dnscheck.Checker {
	tb.Helper()
	c, err := dnscheck.New(dnscheck.Config{
		Resolvers:      w.Resolvers(),
		NameserverPort: w.NameserverPort(),
		Timeout:        300 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestCheck(t *testing.T) {
	ns := func(i int, w *dnstest.World) string {
		return fmt.Sprintf("[%s (%s)]", strings.TrimSuffix(w.Nameservers()[i], "."), w.NameserverAddrs()[i])
	}
	tests := []struct {
		name string
		// source names the RFC section or DNS host behaviour a scenario
		// of the corpus of real faults reproduces.
		source  string
		records []string                    // Set on every server
		setup   func(w *dnstest.World)      // more: SetOn, faults
		expect  func(*dnscheck.Expectation) // changes to expectation()
		want    []want
		// evidence computed from the world (server labels)
		wantEvidence func(w *dnstest.World) map[string]any
	}{
		{name: "ok", records: healthy},
		{
			name:    "ok/caa-allows",
			records: plus(healthy, `acme.test. CAA 0 issue "digicert.com"`, `acme.test. CAA 0 issue "letsencrypt.org"`),
		},
		{
			name:    "ok/caa-issue-with-parameters",
			records: plus(healthy, `acme.test. CAA 0 issue "LetsEncrypt.org; validationmethods=dns-01"`),
		},
		{
			name:    "ok/caa-issuewild-only",
			records: plus(healthy, `acme.test. CAA 0 issuewild "digicert.com"`, `acme.test. CAA 0 iodef "mailto:sec@acme.test"`),
		},
		{
			name:    "ok/caa-closest-set-wins",
			records: plus(healthy, `acme.test. CAA 0 issue "digicert.com"`, `edge.hallmark.test. CAA 0 issue "letsencrypt.org"`),
		},
		{
			name:    "ok/caa-allows-another-identity-of-the-ca",
			records: plus(healthy, `acme.test. CAA 0 issue "digicert.com"`, `acme.test. CAA 0 issue "le.example"`),
			expect:  func(e *dnscheck.Expectation) { e.CAAIdentities = []string{"LE.example"} },
		},
		{
			name:    "ok/caa-identities-only",
			records: plus(healthy, `acme.test. CAA 0 issue "le.example; validationmethods=http-01"`),
			expect: func(e *dnscheck.Expectation) {
				e.CAAIdentity, e.CAAIdentities = "", []string{"letsencrypt.org", "le.example"}
			},
		},
		{
			name:    "fail/caa-forbids-every-identity",
			records: plus(healthy, `acme.test. CAA 0 issue "digicert.com"`),
			expect: func(e *dnscheck.Expectation) {
				e.CAAIdentity, e.CAAIdentities = "", []string{"letsencrypt.org", "le.example"}
			},
			want: []want{{finding.CAAForbidsIssuer, finding.Error, map[string]any{
				"caaName": "acme.test", "identity": "letsencrypt.org", "identities": "[letsencrypt.org le.example]"}}},
		},
		{
			name:    "fail/caa-forbids",
			records: plus(healthy, `acme.test. CAA 0 issue "digicert.com"`),
			want: []want{{finding.CAAForbidsIssuer, finding.Error, map[string]any{
				"caaName": "acme.test", "records": `[acme.test CAA 0 issue "digicert.com"]`, "identity": "letsencrypt.org"}}},
		},
		{
			name: "fail/caa-inherited-from-parent",
			records: []string{
				`_hallmark-challenge.app.login.acme.test. 300 IN TXT "` + token + `"`,
				`login.acme.test. CAA 0 issue "pki.goog"`,
			},
			expect: func(e *dnscheck.Expectation) {
				e.Name, e.CNAMETarget = "app.login.acme.test", ""
				e.TXT[0].Name = "_hallmark-challenge.app.login.acme.test"
			},
			want: []want{{finding.CAAForbidsIssuer, finding.Error, map[string]any{"caaName": "login.acme.test", "name": "app.login.acme.test"}}},
		},
		{
			name:    "fail/caa-issue-semicolon",
			records: plus(healthy, `acme.test. CAA 0 issue ";"`),
			want:    []want{{finding.CAAForbidsIssuer, finding.Error, map[string]any{"records": `[acme.test CAA 0 issue ";"]`}}},
		},
		{
			name:    "fail/caa-critical-unknown-tag",
			records: plus(healthy, `acme.test. CAA 0 issue "letsencrypt.org"`, `acme.test. CAA 128 tbs "unknown"`),
			want:    []want{{finding.CAAForbidsIssuer, finding.Error, map[string]any{"caaName": "acme.test"}}},
		},
		{
			name:    "fail/caa-via-cname",
			records: plus(healthy, `edge.hallmark.test. CAA 0 issue "digicert.com"`, `acme.test. CAA 0 issue "letsencrypt.org"`),
			want:    []want{{finding.CAAForbidsIssuer, finding.Error, map[string]any{"caaName": "edge.hallmark.test"}}},
		},
		{
			name:    "fail/txt-missing",
			records: healthy[1:],
			want: []want{{finding.DNSRecordMissing, finding.Error, map[string]any{
				"name": txtName, "type": "TXT", "expected": token}}},
		},
		{
			name:    "fail/txt-at-doubled-name",
			records: plus(healthy[1:], `_hallmark-challenge.login.acme.test 300 IN TXT "`+token+`"`),
			want: []want{{finding.DNSRecordAtDoubledName, finding.Error, map[string]any{
				"doubledName": txtName + ".acme.test", "found": "[" + token + "]"}}},
		},
		{
			// RFC 4592 section 3.3.1: the wildcard answers the doubled
			// name (whose closest encloser is the apex), but not the
			// real name (login exists, and has no wildcard below it).
			name:    "fail/txt-missing-wildcard-answers-doubled-name",
			source:  "RFC 4592 section 3.3.1 (closest encloser, source of synthesis); Let's Debug TXTDoubleLabel, which checks a random label for the same wildcard TXT",
			records: plus(healthy[1:], `*.acme.test. 300 IN TXT "v=spf1 include:_spf.registrar.test ~all"`),
			want: []want{
				{finding.DNSRecordMissing, finding.Error, map[string]any{"name": txtName}},
				{finding.DNSWildcardSynthesized, finding.Info, map[string]any{"doubledName": txtName + ".acme.test"}},
			},
		},
		{
			name:    "fail/txt-at-doubled-name-beside-wildcard",
			source:  "RFC 4592 section 2.2.2 (a record below the wildcard's parent makes its ancestors exist, so the wildcard no longer answers them)",
			records: plus(healthy[1:], `*.acme.test. 300 IN TXT "v=spf1 ~all"`, `_hallmark-challenge.login.acme.test 300 IN TXT "`+token+`"`),
			want: []want{{finding.DNSRecordAtDoubledName, finding.Error, map[string]any{
				"doubledName": txtName + ".acme.test", "found": "[" + token + "]"}}},
		},
		{
			name:    "fail/txt-quoted",
			records: plus(healthy[1:], `_hallmark-challenge.login 300 IN TXT "\"`+token+`\""`),
			want: []want{{finding.DNSValueQuoted, finding.Error, map[string]any{
				"found": `["` + token + `"]`, "expected": token}}},
		},
		{
			name:    "fail/txt-spaces",
			records: plus(healthy[1:], `_hallmark-challenge.login 300 IN TXT " `+token+`  "`),
			want:    []want{{finding.DNSValueQuoted, finding.Error, map[string]any{"found": "[ " + token + "  ]"}}},
		},
		{
			name:    "fail/txt-mismatch",
			records: plus(healthy[1:], `_hallmark-challenge.login 300 IN TXT "old-token"`, `_hallmark-challenge.login 300 IN TXT "v=spf1"`),
			want:    []want{{finding.DNSValueMismatch, finding.Error, map[string]any{"found": "[old-token v=spf1]"}}},
		},
		{
			name:    "warn/txt-propagation-partial",
			records: healthy[1:],
			setup:   func(w *dnstest.World) { w.SetOn(1, healthy[0]) },
			want:    []want{{id: finding.DNSPropagationPartial, severity: finding.Warning}},
			wantEvidence: func(w *dnstest.World) map[string]any {
				return map[string]any{"have": ns(1, w), "lacking": ns(0, w), "ttl": 300, "name": txtName}
			},
		},
		{
			name:    "ok/txt-long-value-over-tcp",
			records: plus(healthy[1:], `_hallmark-challenge.login 300 IN TXT `+longTXT(1500)),
			expect:  func(e *dnscheck.Expectation) { e.TXT[0].Value = strings.Repeat("x", 1500) },
		},
		{
			name:    "fail/cname-missing",
			records: healthy[:1],
			want: []want{{finding.DNSRecordMissing, finding.Error, map[string]any{
				"name": "login.acme.test", "type": "CNAME", "expected": target}}},
		},
		{
			name:    "fail/cname-wrong-target",
			records: plus(healthy[:1], `login 300 IN CNAME acme.herokuapp.test.`),
			want: []want{{finding.DNSCNAMEWrongTarget, finding.Error, map[string]any{
				"found": "[acme.herokuapp.test]", "expected": target}}},
		},
		{
			name:    "ok/cname-target-case-and-dot",
			records: plus(healthy[:1], `login 300 IN CNAME EDGE.Hallmark.TEST.`),
			expect:  func(e *dnscheck.Expectation) { e.CNAMETarget = "edge.hallmark.test." },
		},
		{
			name:    "fail/cname-blocked-by-a",
			records: plus(healthy[:1], `login 300 IN A 192.0.2.10`, `login 300 IN MX 10 mail.acme.test.`),
			want: []want{{finding.DNSCNAMEConflict, finding.Error, map[string]any{
				"found": "map[A:[192.0.2.10] MX:[10 mail.acme.test.]]"}}},
		},
		{
			name:    "fail/cname-beside-txt",
			records: plus(healthy[:1], `login 300 IN CNAME old.hallmark.test.`, `login 300 IN TXT "v=spf1 -all"`),
			want: []want{
				{finding.DNSCNAMEConflict, finding.Error, map[string]any{"found": "map[TXT:[v=spf1 -all]]"}},
				{finding.DNSCNAMEWrongTarget, finding.Error, nil},
			},
		},
		{
			// A registrar's parking wildcard answers A for every name; it
			// is not a record at login that blocks the CNAME.
			name:    "fail/cname-missing-parking-wildcard-a",
			source:  "registrars' parking zones (*.domain A to a parking page), RFC 4592 section 4.1",
			records: plus(healthy[:1], `*.acme.test. 300 IN A 192.0.2.80`),
			want:    []want{{finding.DNSRecordMissing, finding.Error, map[string]any{"name": "login.acme.test", "type": "CNAME"}}},
		},
		{
			name:    "fail/cname-blocked-by-txt-beside-wildcard-cname",
			source:  "RFC 1034 section 3.6.2 (no other data beside a CNAME); RFC 4592 section 4.2",
			records: plus(healthy[:1], `login 300 IN TXT "v=spf1 -all"`, `*.acme.test. 300 IN CNAME parking.registrar.test.`),
			want:    []want{{finding.DNSCNAMEConflict, finding.Error, map[string]any{"found": "map[TXT:[v=spf1 -all]]"}}},
		},
		{
			// The CNAME is right, but an A record stands beside it: a
			// resolver asking for A gets 192.0.2.10, not the edge.
			name:    "fail/cname-right-with-a-beside-it",
			source:  "RFC 1034 section 3.6.2 and RFC 2181 section 10.1 (a CNAME stands alone); DNS hosts' editors that accept a CNAME beside an A record",
			records: plus(healthy, `login 300 IN A 192.0.2.10`),
			want: []want{{finding.DNSCNAMEConflict, finding.Error, map[string]any{
				"found": "map[A:[192.0.2.10]]", "expected": target}}},
		},
		{
			name:    "ok/cname-chain-reaches-target",
			source:  "RFC 1034 section 3.6.2 and RFC 2181 section 10.1.1 (resolvers follow CNAME chains); CDNs and DNS hosts that put an alias of their own in between",
			records: plus(healthy[:1], `login 300 IN CNAME login.acme.cdn.test.`, `login.acme.cdn.test. 300 IN CNAME edge.hallmark.test.`),
			want: []want{{finding.DNSCNAMEChain, finding.Info, map[string]any{
				"chain": "[login.acme.cdn.test edge.hallmark.test]"}}},
		},
		{
			name:    "fail/cname-chain-ends-elsewhere",
			source:  "RFC 1034 section 3.6.2: a chain that ends at another host does not reach the service",
			records: plus(healthy[:1], `login 300 IN CNAME login.acme.cdn.test.`, `login.acme.cdn.test. 300 IN CNAME old-edge.example.test.`),
			want:    []want{{finding.DNSCNAMEWrongTarget, finding.Error, map[string]any{"found": "[login.acme.cdn.test]"}}},
		},
		{
			name:    "fail/cname-at-doubled-name",
			records: plus(healthy[:1], `login.acme.test 300 IN CNAME edge.hallmark.test.`),
			want: []want{{finding.DNSRecordAtDoubledName, finding.Error, map[string]any{
				"doubledName": "login.acme.test.acme.test", "type": "CNAME"}}},
		},
		{
			name:    "fail/apex-cname",
			records: []string{`_hallmark-challenge 300 IN TXT "` + token + `"`},
			expect: func(e *dnscheck.Expectation) {
				e.Name = "acme.test"
				e.TXT[0].Name = "_hallmark-challenge.acme.test"
			},
			want: []want{{finding.DNSApexCNAME, finding.Error, map[string]any{"name": "acme.test", "zone": "acme.test"}}},
		},
		{
			name:    "warn/cname-propagation-partial",
			records: healthy[:1],
			setup:   func(w *dnstest.World) { w.SetOn(0, healthy[1]) },
			want:    []want{{id: finding.DNSPropagationPartial, severity: finding.Warning}},
			wantEvidence: func(w *dnstest.World) map[string]any {
				return map[string]any{"have": ns(0, w), "lacking": ns(1, w), "type": "CNAME"}
			},
		},
		{
			name:    "warn/servfail-one-server",
			records: healthy,
			setup:   func(w *dnstest.World) { w.Fault(1, dnstest.FaultServfail) },
			want:    []want{{id: finding.DNSServfail, severity: finding.Warning}},
			wantEvidence: func(w *dnstest.World) map[string]any {
				return map[string]any{"servers": ns(1, w)}
			},
		},
		{
			name:    "fail/servfail-every-server",
			records: healthy,
			setup: func(w *dnstest.World) {
				w.Fault(0, dnstest.FaultServfail)
				w.Fault(1, dnstest.FaultServfail)
			},
			want: []want{{id: finding.DNSServfail, severity: finding.Error}, {id: finding.DNSServfail, severity: finding.Error}},
		},
		{
			name:    "warn/timeout-one-server",
			records: healthy,
			setup:   func(w *dnstest.World) { w.Fault(0, dnstest.FaultTimeout) },
			want:    []want{{id: finding.DNSTimeout, severity: finding.Warning}},
			wantEvidence: func(w *dnstest.World) map[string]any {
				return map[string]any{"servers": ns(0, w)}
			},
		},
		{
			name:    "fail/timeout-every-server",
			records: healthy,
			setup: func(w *dnstest.World) {
				w.Fault(0, dnstest.FaultTimeout)
				w.Fault(1, dnstest.FaultTimeout)
			},
			want: []want{{id: finding.DNSTimeout, severity: finding.Error}, {id: finding.DNSTimeout, severity: finding.Error}},
		},
		{
			name:    "warn/lame-not-authoritative",
			records: healthy,
			setup:   func(w *dnstest.World) { w.Fault(1, dnstest.FaultNotAuthoritative) },
			want:    []want{{id: finding.DNSLameDelegation, severity: finding.Warning}},
			wantEvidence: func(w *dnstest.World) map[string]any {
				return map[string]any{"servers": ns(1, w), "zone": "acme.test"}
			},
		},
		{
			name:    "warn/lame-refused",
			records: healthy,
			setup:   func(w *dnstest.World) { w.Fault(0, dnstest.FaultRefused) },
			want:    []want{{id: finding.DNSLameDelegation, severity: finding.Warning}},
		},
		{
			name:    "fail/lame-and-record-missing",
			records: healthy[1:],
			setup:   func(w *dnstest.World) { w.Fault(0, dnstest.FaultNotAuthoritative) },
			want: []want{
				{id: finding.DNSLameDelegation, severity: finding.Error},
				{id: finding.DNSRecordMissing, severity: finding.Error},
			},
		},
		{
			name:    "fail/zone-unresolvable",
			records: healthy,
			setup:   func(w *dnstest.World) { w.Fault(dnstest.Resolver, dnstest.FaultServfail) },
			want:    []want{{finding.DNSResolveFailed, finding.Error, map[string]any{"rcode": "SERVFAIL", "question": "SOA login.acme.test"}}},
		},
		{
			name:   "fail/domain-not-registered",
			expect: func(e *dnscheck.Expectation) { e.Name = "login.nowhere.example" },
			want:   []want{{finding.DNSResolveFailed, finding.Error, map[string]any{"name": "login.nowhere.example"}}},
		},
	}
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					w := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2, Records: tc.records})
					if transport == "tcp" {
						// Every UDP answer comes back truncated: the checker
						// must retry each query over TCP.
						w.Fault(0, dnstest.FaultTruncateUDP)
						w.Fault(1, dnstest.FaultTruncateUDP)
						w.Fault(dnstest.Resolver, dnstest.FaultTruncateUDP)
					}
					if tc.setup != nil {
						tc.setup(w)
					}
					e := expectation()
					if tc.expect != nil {
						tc.expect(&e)
					}
					r := newChecker(t, w).Check(t.Context(), e)
					checkFindings(t, r, tc.want)
					if tc.wantEvidence != nil {
						checkEvidence(t, r.Findings[0], tc.wantEvidence(w))
					}
					if r.Error != "" {
						t.Errorf("got Report.Error %q, want none", r.Error)
					}
					if tc.name == "ok/txt-long-value-over-tcp" || (transport == "tcp" && tc.name != "fail/zone-unresolvable") {
						var tcp int64
						for _, i := range []int{dnstest.Resolver, 0, 1} {
							_, n := w.Queries(i)
							tcp += n
						}
						if tcp == 0 {
							t.Errorf("got no TCP query, want the truncated answers retried over TCP")
						}
					}
				})
			}
		})
	}
}

// checkFindings compares the findings' ids and severities, in order, and
// the evidence each want names.
func checkFindings(t *testing.T, r dnscheck.Report, wants []want) {
	t.Helper()
	var got, exp []string
	for _, f := range r.Findings {
		got = append(got, f.ID+"/"+string(f.Severity))
	}
	for _, w := range wants {
		exp = append(exp, w.id+"/"+string(w.severity))
	}
	if strings.Join(got, " ") != strings.Join(exp, " ") {
		var b strings.Builder
		dnscheck.WriteText(&b, r)
		t.Fatalf("got findings %v, want %v\n%s", got, exp, b.String())
	}
	for i, w := range wants {
		f := r.Findings[i]
		checkEvidence(t, f, w.evidence)
		if f.Summary == "" || f.Detail == "" || f.Fix == "" {
			t.Errorf("finding %s: got summary %q, detail %q, fix %q, want all three", f.ID, f.Summary, f.Detail, f.Fix)
		}
	}
}

func checkEvidence(t *testing.T, f finding.Finding, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got := fmt.Sprint(f.Evidence[k]); got != fmt.Sprint(v) {
			t.Errorf("finding %s: got evidence %s = %s, want %s", f.ID, k, got, fmt.Sprint(v))
		}
	}
}

// longTXT is a TXT record's data of n 'x' characters split into strings of
// at most 255.
func longTXT(n int) string {
	var parts []string
	for n > 0 {
		k := min(n, 255)
		parts = append(parts, `"`+strings.Repeat("x", k)+`"`)
		n -= k
	}
	return strings.Join(parts, " ")
}

// plus returns base followed by more, never sharing base's array.
func plus(base []string, more ...string) []string {
	return append(slices.Clip(base), more...)
}

// TestCAAFixNamesPrimaryIdentity: when every identity of the CA is
// forbidden, the fix asks for the record naming the primary one.
func TestCAAFixNamesPrimaryIdentity(t *testing.T) {
	w := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2,
		Records: plus(healthy, `acme.test. CAA 0 issue "digicert.com"`)})
	e := expectation()
	e.CAAIdentity, e.CAAIdentities = "", []string{"le.example", "letsencrypt.org"}
	r := newChecker(t, w).Check(t.Context(), e)
	if len(r.Findings) != 1 || r.Findings[0].ID != finding.CAAForbidsIssuer {
		t.Fatalf("got %v, want one %s", finding.IDs(r.Findings), finding.CAAForbidsIssuer)
	}
	if want := `acme.test CAA 0 issue "le.example"`; !strings.Contains(r.Findings[0].Fix, want) {
		t.Errorf("fix %q, want it to name %s", r.Findings[0].Fix, want)
	}
}
