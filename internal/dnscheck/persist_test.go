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
	persistName = "_validation-persist.login.acme.test"
	account     = "https://ca.test/acme/acct/42"
	issuer      = "ca.test"
)

func persistExpectation(wildcard bool) dnscheck.Expectation {
	e := expectation()
	e.CAAIdentity = ""
	name := persistName
	if wildcard {
		e.Name = "*.acme.test"
		e.TXT = []dnscheck.TXTRecord{{Name: "_hallmark-challenge.acme.test", Value: token}}
		e.CNAMETarget = ""
		name = "_validation-persist.acme.test"
	}
	e.Persist = &dnscheck.PersistRecord{Name: name, IssuerDomain: issuer, IssuerDomains: []string{issuer, "ca2.test"}, AccountURI: account, Wildcard: wildcard}
	return e
}

// TestCheckPersist: the persistent record (dns-persist-01) in place makes
// the report PersistReady; each mistake gives its finding, naming the
// record and what to enter, and leaves it not ready.
func TestCheckPersist(t *testing.T) {
	good := persistName + `. 300 IN TXT "` + issuer + `; accounturi=` + account + `"`
	soon := time.Now().Add(10 * 24 * time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name      string
		records   []string
		wildcard  bool
		wantID    string
		wantSev   finding.Severity
		wantReady bool
	}{
		{name: "ok", records: []string{good}, wantReady: true},
		{name: "ok/other-issuer-of-the-ca", records: []string{persistName + `. 300 IN TXT "ca2.test; accounturi=` + account + `"`}, wantReady: true},
		{name: "ok/split-strings-of-one-record", records: []string{persistName + `. 300 IN TXT "` + issuer + `;" " accounturi=` + account + `"`}, wantReady: true},
		{name: "ok/beside-another-ca", records: []string{good, persistName + `. 300 IN TXT "other.example; accounturi=https://other.example/1"`}, wantReady: true},
		{name: "ok/wildcard", wildcard: true, records: []string{`_validation-persist.acme.test. 300 IN TXT "` + issuer + `; accounturi=` + account + `; policy=wildcard"`}, wantReady: true},
		{name: "fail/missing", wantID: finding.DNSPersistMissing, wantSev: finding.Info},
		{name: "fail/doubled-name", records: []string{persistName + `.acme.test. 300 IN TXT "` + issuer + `; accounturi=` + account + `"`}, wantID: finding.DNSPersistAtDoubledName, wantSev: finding.Warning},
		{name: "fail/quoted", records: []string{persistName + `. 300 IN TXT "\"` + issuer + `; accounturi=` + account + `\""`}, wantID: finding.DNSPersistQuoted, wantSev: finding.Warning},
		{name: "fail/split-into-records", records: []string{persistName + `. 300 IN TXT "` + issuer + `;"`, persistName + `. 300 IN TXT "accounturi=` + account + `"`}, wantID: finding.DNSPersistQuoted, wantSev: finding.Warning},
		{name: "fail/malformed", records: []string{persistName + `. 300 IN TXT "` + issuer + `; accounturi=` + account + `;"`}, wantID: finding.DNSPersistMalformed, wantSev: finding.Warning},
		{name: "fail/issuer-not-the-cas", records: []string{persistName + `. 300 IN TXT "letsencrypt.org; accounturi=` + account + `"`}, wantID: finding.DNSPersistIssuerMismatch, wantSev: finding.Warning},
		{name: "fail/staging-account", records: []string{persistName + `. 300 IN TXT "` + issuer + `; accounturi=https://staging.ca.test/acme/acct/42"`}, wantID: finding.DNSPersistAccountMismatch, wantSev: finding.Warning},
		{name: "fail/wildcard-without-policy", wildcard: true, records: []string{`_validation-persist.acme.test. 300 IN TXT "` + issuer + `; accounturi=` + account + `"`}, wantID: finding.DNSPersistPolicyMissing, wantSev: finding.Warning},
		{name: "fail/persist-until-past", records: []string{persistName + fmt.Sprintf(`. 300 IN TXT "%s; accounturi=%s; persistUntil=%d"`, issuer, account, past)}, wantID: finding.DNSPersistExpired, wantSev: finding.Warning},
		{name: "fail/persist-until-close", records: []string{persistName + fmt.Sprintf(`. 300 IN TXT "%s; accounturi=%s; persistUntil=%d"`, issuer, account, soon)}, wantID: finding.DNSPersistExpiring, wantSev: finding.Warning, wantReady: true},
		{name: "fail/caa-accounturi", records: []string{good, `acme.test. CAA 0 issue "` + issuer + `; accounturi=https://ca.test/acme/acct/7"`}, wantID: finding.CAAForbidsAccount, wantSev: finding.Warning},
		{name: "fail/caa-validationmethods", records: []string{good, `acme.test. CAA 0 issue "` + issuer + `; validationmethods=http-01,tls-alpn-01"`}, wantID: finding.CAAForbidsMethod, wantSev: finding.Warning},
		{name: "ok/caa-allows-persist", records: []string{good, `acme.test. CAA 0 issue "` + issuer + `; accounturi=` + account + `; validationmethods=dns-persist-01"`}, wantReady: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2})
			w.Set(healthy...)
			w.Set(`_hallmark-challenge.acme.test. 300 IN TXT "` + token + `"`)
			if len(tc.records) > 0 {
				w.Set(tc.records...)
			}
			rep := newChecker(t, w).Check(t.Context(), persistExpectation(tc.wildcard))
			if rep.PersistReady != tc.wantReady {
				t.Errorf("PersistReady %v, want %v; findings %v", rep.PersistReady, tc.wantReady, finding.IDs(rep.Findings))
			}
			var persist []finding.Finding
			for _, f := range rep.Findings {
				if strings.Contains(f.ID, "persist") || f.ID == finding.CAAForbidsAccount || f.ID == finding.CAAForbidsMethod {
					persist = append(persist, f)
				}
			}
			if tc.wantID == "" {
				if len(persist) > 0 {
					t.Fatalf("findings %v, want none about the persistent record", finding.IDs(persist))
				}
				return
			}
			if len(persist) != 1 || persist[0].ID != tc.wantID || persist[0].Severity != tc.wantSev {
				t.Fatalf("findings %+v, want one %s (%s)", persist, tc.wantID, tc.wantSev)
			}
			f := persist[0]
			if f.Fix == "" || f.Evidence["name"] == nil {
				t.Errorf("finding %+v: want a fix and the name in the evidence", f)
			}
			if !slices.Contains([]string{finding.CAAForbidsAccount, finding.CAAForbidsMethod, finding.DNSPersistAtDoubledName}, f.ID) && !strings.Contains(f.Fix, account) && !strings.Contains(f.Fix, "persistUntil") {
				t.Errorf("fix %q does not give the value to enter", f.Fix)
			}
			if !rep.OK() && tc.wantSev != finding.Error {
				t.Errorf("a persistent record mistake made the check fail: %v", finding.IDs(rep.Findings))
			}
		})
	}
}
