package customdomain

import (
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

// TestRulesPrevalidation: a pending managed domain whose only errors are
// its CNAME's, with the persistent record in place, is proven and issued
// at once; its certificate is stored and served while it stays VERIFIED
// (ready); the check that sees the CNAME here makes it COMPLETED with no
// new certificate.
func TestRulesPrevalidation(t *testing.T) {
	r := testRules()
	ready := movedReport
	ready.PersistReady = true
	persistWrong := dnscheck.Report{Findings: append([]finding.Finding{{ID: finding.DNSPersistAccountMismatch, Severity: finding.Warning}}, movedReport.Findings...)}

	for _, tc := range []struct {
		name string
		c    Check
		d    Domain
		want want
	}{
		{"ok/proven-ahead-of-the-cname", Check{Report: ready, Persist: true}, pending(InProgress),
			want{status: Verified, next: tNow, events: []string{"verify/SUCCESS"}, findings: []string{finding.DNSCNAMEWrongTarget}}},
		{"wait/record-not-in-place", Check{Report: persistWrong, Persist: true}, pending(InProgress),
			want{status: InProgress, next: tNow.Add(r.backoff(3)), findings: []string{finding.DNSPersistAccountMismatch, finding.DNSCNAMEWrongTarget}}},
		{"wait/ca-not-used-with-dns-persist", Check{Report: ready}, pending(InProgress),
			want{status: InProgress, next: tNow.Add(r.backoff(3)), findings: []string{finding.DNSCNAMEWrongTarget}}},
		{"wait/other-errors-too", Check{Report: dnscheck.Report{PersistReady: true, Findings: append(movedReport.Findings, missingReport.Findings...)}, Persist: true}, pending(InProgress),
			want{status: InProgress, next: tNow.Add(r.backoff(3)), findings: []string{finding.DNSCNAMEWrongTarget, finding.DNSRecordMissing}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkChange(t, r.Checked(tActor, tc.d, tc.c, tNow), tc.want)
		})
	}

	// Issued ahead of the CNAME: stored and served, still VERIFIED.
	proven := r.Checked(tActor, pending(InProgress), Check{Report: ready, Persist: true}, tNow).Domain
	rec := record("AA", tNow, 90*24*time.Hour, "acme")
	rec.Challenge, rec.ChallengeReason = issuance.DNSPersist01, "the persistent record is in place"
	c, err := r.Obtained(proven, Issue{Rec: rec}, tNow)
	if err != nil {
		t.Fatal(err)
	}
	checkChange(t, c, want{status: Verified, next: tNow.Add(r.backoff(0)), events: []string{"cert_provision/SUCCESS"}, served: true, cert: "AA",
		findings: []string{finding.DNSCNAMEWrongTarget}})
	if !c.Domain.Ready() || c.Domain.Cert.Challenge != issuance.DNSPersist01 {
		t.Errorf("ready %v challenge %q, want ready through dns-persist-01", c.Domain.Ready(), c.Domain.Cert.Challenge)
	}
	if got := c.Events[0].DebugContext.DebugData["challenge"]; got != "dns-persist-01" {
		t.Errorf("cert_provision debug challenge %v, want dns-persist-01", got)
	}
	// A failed attempt keeps the CNAME's findings: the next success is
	// still ahead of the CNAME.
	failed, _ := r.Obtained(proven, Issue{Findings: []finding.Finding{{ID: finding.ACMEChallengeFailed, Severity: finding.Error}}}, tNow)
	if ids := finding.IDs(failed.Domain.Diagnosis); len(ids) != 2 || ids[1] != finding.DNSCNAMEWrongTarget {
		t.Errorf("diagnosis after a failure %v, want the failure then the CNAME's", ids)
	}

	readyDomain := c.Domain
	t.Run("wait/cname-still-elsewhere", func(t *testing.T) {
		checkChange(t, r.Checked(System, readyDomain, Check{Report: ready, Persist: true}, tNow),
			want{status: Verified, next: tNow.Add(r.backoff(1)), findings: []string{finding.DNSCNAMEWrongTarget}})
	})
	t.Run("ok/cname-flipped", func(t *testing.T) {
		c := r.Checked(System, readyDomain, Check{Report: dnscheck.Report{PersistReady: true}, Persist: true}, tNow)
		checkChange(t, c, want{status: Completed, next: tNow.Add(r.WatchInterval), events: []string{"verify/SUCCESS"}, served: true, findings: []string{}})
		if c.Domain.Cert.Fingerprint != "AA" {
			t.Errorf("certificate %s after the flip, want the one served before (AA)", c.Domain.Cert.Fingerprint)
		}
	})
	t.Run("ok/renewed-while-waiting", func(t *testing.T) {
		due := readyDomain
		due.Cert.RenewAt = tNow.Add(-time.Minute)
		if !r.renewsAhead(due, tNow) || r.renewsAhead(readyDomain, tNow) {
			t.Fatalf("renewsAhead: due %v, fresh %v; want true, false", r.renewsAhead(due, tNow), r.renewsAhead(readyDomain, tNow))
		}
		renewed := record("BB", tNow, 90*24*time.Hour, "acme")
		c, err := r.Obtained(due, Issue{Rec: renewed}, tNow)
		if err != nil {
			t.Fatal(err)
		}
		checkChange(t, c, want{status: Verified, next: tNow.Add(r.backoff(0)), events: []string{"cert_provision/SUCCESS"}, served: true, cert: "BB",
			findings: []string{finding.DNSCNAMEWrongTarget}})
		soon := readyDomain
		soon.Cert.RenewAt = tNow.Add(10 * time.Second)
		if got := r.Checked(System, soon, Check{Report: ready, Persist: true}, tNow).Domain.NextCheck; !got.Equal(soon.Cert.RenewAt) {
			t.Errorf("next check %v while waiting, want the renewal %v", got, soon.Cert.RenewAt)
		}
	})
	t.Run("ok/deleted-names-the-record-to-remove", func(t *testing.T) {
		rm := Record{Type: "TXT", FQDN: "_validation-persist.login.acme.com", Values: []string{"ca.test; accounturi=https://ca.test/1"}}
		c := r.Deleted(tActor, readyDomain, tNow, rm)
		if got := c.Events[0].DisplayMessage; got != "Custom domain deleted; remove the record TXT _validation-persist.login.acme.com from DNS" {
			t.Errorf("delete message %q", got)
		}
	})
}

// TestRulesRenewThroughPersist: a name moved away (a CDN in front) longer
// than the grace period stops renewing, unless the persistent record is
// in place: then the renewal goes on and the diagnosis says so.
func TestRulesRenewThroughPersist(t *testing.T) {
	r := testRules()
	rec := record("AA", tNow.Add(-80*24*time.Hour), 90*24*time.Hour, "acme")
	d := active(rec)
	d.MovedSince = tNow.Add(-8 * 24 * time.Hour)
	plan := r.PlanMaintenance(d, tNow)
	m := Maintenance{Of: "AA", Watched: true, Checked: true, Moves: movedReport.Findings}
	if r.RenewNow(d, plan, m, tNow) {
		t.Fatal("renewal attempted for a name moved away past the grace period without the persistent record")
	}
	m.PersistReady = true
	if !r.RenewNow(d, plan, m, tNow) {
		t.Fatal("renewal not attempted with the persistent record in place")
	}
	m.Attempted, m.Issue = true, Issue{Rec: record("BB", tNow, 90*24*time.Hour, "acme")}
	c, err := r.Maintained(d, m, tNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cert == nil || c.Cert.Fingerprint != "BB" {
		t.Fatalf("stored %v, want the renewal BB", c.Cert)
	}
	for _, f := range c.Domain.Diagnosis {
		if f.ID == FindingRenewStopped {
			t.Errorf("diagnosis says %s while renewing through the persistent record", f.ID)
		}
	}
}
