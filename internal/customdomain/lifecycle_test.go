package customdomain

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

// The lifecycle's rules, table-tested without I/O: each case is a domain
// as stored, an observation, and the whole change expected of it.

var (
	tNow   = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tActor = Actor{ID: "tok1", Name: "admin", OrgID: "org1"}
)

func testRules() Rules {
	return Rules{CNAMETarget: "edge.hallmark.test", VerifyWindow: 168 * time.Hour,
		BackoffFirst: time.Minute, BackoffMax: time.Hour, WatchInterval: 6 * time.Hour,
		MovedGrace: 7 * 24 * time.Hour, Managed: true}
}

func pending(status Status) Domain {
	return Domain{ID: "dom1", OrgID: "org1", Name: "login.acme.com", CertSource: Managed, Status: status,
		Token: "tok", BrandID: "bnd1", Version: 3, Created: tNow.Add(-time.Hour), WindowStart: tNow.Add(-time.Hour),
		NextCheck: tNow, Attempts: 2}
}

func record(fp string, notBefore time.Time, life time.Duration, issuer string) issuance.Record {
	r := issuance.Record{Name: "login.acme.com", Issuer: issuer, Fingerprint: fp, Subject: "CN=login.acme.com",
		ChainPEM: []byte("pem"), SealedKey: []byte("key"), NotBefore: notBefore, NotAfter: notBefore.Add(life)}
	if issuer != "manual" {
		r.RenewAt = notBefore.Add(life * 2 / 3)
	}
	return r
}

func active(rec issuance.Record) Domain {
	d := pending(Completed)
	d.VerifiedAt, d.LastChecked, d.Attempts = tNow.Add(-30*24*time.Hour), tNow.Add(-7*time.Hour), 0
	d.Cert = certInfo(rec)
	return d
}

var (
	okReport      = dnscheck.Report{}
	missingReport = dnscheck.Report{Findings: []finding.Finding{{ID: finding.DNSRecordMissing, Severity: finding.Error, Summary: "no TXT"}}}
	movedReport   = dnscheck.Report{Findings: []finding.Finding{{ID: finding.DNSCNAMEWrongTarget, Severity: finding.Error, Summary: "elsewhere"}}}
)

// want is what a case expects of a change.
type want struct {
	status   Status
	source   CertSource
	next     time.Time // zero: none
	events   []string  // "type/OUTCOME", in order
	served   bool
	cert     string // fingerprint of the record stored; "" none
	dropCert bool
	delete   bool
	findings []string // ids of the new diagnosis, in order (nil: not checked)
}

func eventKeys(c Change) []string {
	var out []string
	for _, e := range c.Events {
		if e.UUID == "" || e.Published.IsZero() || len(e.Target) != 1 || e.Target[0].ID != c.Domain.ID || e.OrgID != c.Domain.OrgID {
			out = append(out, "unprepared:"+e.EventType)
			continue
		}
		out = append(out, e.EventType[len("system.custom_url_domain."):]+"/"+e.Outcome.Result)
	}
	return out
}

func checkChange(t *testing.T, c Change, w want) {
	t.Helper()
	d := c.Domain
	if d.Status != w.status {
		t.Errorf("status: got %s, want %s", d.Status, w.status)
	}
	if w.source != "" && d.CertSource != w.source {
		t.Errorf("source: got %s, want %s", d.CertSource, w.source)
	}
	if !d.NextCheck.Equal(w.next) {
		t.Errorf("next check: got %v, want %v", d.NextCheck, w.next)
	}
	if got := eventKeys(c); !slices.Equal(got, w.events) {
		t.Errorf("events: got %v, want %v", got, w.events)
	}
	if served := slices.Equal(c.Served, []string{d.Name}); served != w.served || len(c.Served) > 1 {
		t.Errorf("served: got %v, want the name: %v", c.Served, w.served)
	}
	got := ""
	if c.Cert != nil {
		got = c.Cert.Fingerprint
	}
	if got != w.cert {
		t.Errorf("certificate stored: got %q, want %q", got, w.cert)
	}
	if c.DropCert != w.dropCert || c.Delete != w.delete {
		t.Errorf("drop cert %v delete %v, want %v %v", c.DropCert, c.Delete, w.dropCert, w.delete)
	}
	if w.findings != nil && !slices.Equal(finding.IDs(d.Diagnosis), w.findings) {
		t.Errorf("diagnosis: got %v, want %v", finding.IDs(d.Diagnosis), w.findings)
	}
}

func TestRulesCreated(t *testing.T) {
	c := testRules().Created(tActor, Domain{ID: "dom1", OrgID: "org1", Name: "login.acme.com", CertSource: Managed}, tNow)
	checkChange(t, c, want{status: NotStarted, next: tNow.Add(time.Minute), events: []string{"initiate/SUCCESS"}})
	if c.Domain.Version != 1 || !c.Domain.WindowStart.Equal(tNow) {
		t.Errorf("version %d window %v, want 1 and now", c.Domain.Version, c.Domain.WindowStart)
	}
}

func TestRulesChecked(t *testing.T) {
	unmanaged := testRules()
	unmanaged.Managed = false
	failed := pending(FailedToVerify)
	failed.WindowStart, failed.NextCheck = tNow.Add(-200*time.Hour), time.Time{}
	closing := pending(InProgress)
	closing.WindowStart = tNow.Add(-168 * time.Hour)
	nearEnd := pending(InProgress)
	nearEnd.WindowStart = tNow.Add(-168*time.Hour + 30*time.Second)
	rec := record("AA", tNow.Add(-30*24*time.Hour), 90*24*time.Hour, "acme")
	live := active(rec)
	moved := active(rec)
	moved.MovedSince = tNow.Add(-time.Hour)
	limited := pending(Verified)
	limited.Diagnosis = []finding.Finding{{ID: finding.ACMERateLimited, Severity: finding.Error}}
	limited.NextCheck = tNow.Add(time.Hour)

	for _, tc := range []struct {
		name  string
		rules Rules
		d     Domain
		c     Check
		want  want
	}{
		{"ok/pending-proves-and-issues-at-once", testRules(), pending(InProgress), Check{Report: okReport},
			want{status: Verified, next: tNow, events: []string{"verify/SUCCESS"}, findings: []string{}}},
		{"ok/without-issuer-stops-at-verified", unmanaged, pending(NotStarted), Check{Report: okReport, Manual: true},
			want{status: Verified, events: []string{"verify/SUCCESS"}}},
		{"fail/background-backs-off", testRules(), pending(NotStarted), Check{Report: missingReport},
			want{status: InProgress, next: tNow.Add(time.Duration(float64(time.Minute) * 1.5 * 1.5 * 1.5)), findings: []string{finding.DNSRecordMissing}}},
		{"fail/last-check-at-window-end", testRules(), nearEnd, Check{Report: missingReport},
			want{status: InProgress, next: nearEnd.WindowStart.Add(168 * time.Hour)}},
		{"fail/window-closed", testRules(), closing, Check{Report: missingReport},
			want{status: FailedToVerify, events: []string{"verify/FAILURE"}}},
		{"fail/manual-resets-backoff", testRules(), pending(InProgress), Check{Report: missingReport, Manual: true},
			want{status: InProgress, next: tNow.Add(time.Minute), events: []string{"verify/FAILURE"}}},
		{"fail/manual-reopens-failed-window", testRules(), failed, Check{Report: missingReport, Manual: true},
			want{status: InProgress, next: tNow.Add(time.Minute), events: []string{"verify/FAILURE"}}},
		{"fail/name-taken-by-another-org", testRules(), pending(InProgress), Check{Report: okReport, Manual: true, Taken: true},
			want{status: InProgress, next: tNow.Add(time.Minute), events: []string{"verify/FAILURE"}, findings: []string{"domain.in_use"}}},
		{"proven/background-check-changes-nothing-but-diagnosis", testRules(), live, Check{Report: missingReport},
			want{status: Completed, next: live.NextCheck, findings: []string{finding.DNSRecordMissing}}},
		{"proven/manual-verify-asks-the-scheduler-now", testRules(), live, Check{Report: okReport, Manual: true},
			want{status: Completed, next: tNow, events: []string{"verify/SUCCESS"}}},
		{"proven/rate-limited-waits", testRules(), limited, Check{Report: dnscheck.Report{Findings: limited.Diagnosis}, Manual: true},
			want{status: Verified, next: limited.NextCheck, events: []string{"verify/FAILURE"}}},
		{"moved/cname-elsewhere", testRules(), live, Check{Report: movedReport, Manual: true},
			want{status: Completed, next: tNow, events: []string{"verify/FAILURE", "moved/FAILURE"}, findings: []string{FindingMoved, finding.DNSCNAMEWrongTarget}}},
		{"moved/and-back", testRules(), moved, Check{Report: okReport, Manual: true},
			want{status: Completed, next: tNow, events: []string{"verify/SUCCESS", "moved/SUCCESS"}, findings: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.rules.Checked(tActor, tc.d, tc.c, tNow)
			checkChange(t, c, tc.want)
			if !c.Domain.LastChecked.Equal(tNow) {
				t.Errorf("last checked: got %v, want now", c.Domain.LastChecked)
			}
		})
	}
	// The window reopened by a manual verify starts now.
	if c := testRules().Checked(tActor, failed, Check{Report: missingReport, Manual: true}, tNow); !c.Domain.WindowStart.Equal(tNow) {
		t.Errorf("reopened window starts %v, want now", c.Domain.WindowStart)
	}
}

func TestRulesObtained(t *testing.T) {
	rec := record("AA", tNow, 90*24*time.Hour, "acme")
	verified := pending(Verified)
	verified.Attempts, verified.IssueAttempts = 0, 1
	c, err := testRules().Obtained(verified, Issue{Rec: rec}, tNow)
	if err != nil {
		t.Fatal(err)
	}
	checkChange(t, c, want{status: Completed, next: tNow.Add(6 * time.Hour), events: []string{"cert_provision/SUCCESS"}, served: true, cert: "AA", findings: []string{}})
	if c.Domain.Cert.Fingerprint != "AA" || c.Domain.IssueAttempts != 0 {
		t.Errorf("cert %q attempts %d, want AA and 0", c.Domain.Cert.Fingerprint, c.Domain.IssueAttempts)
	}

	caa := []finding.Finding{{ID: finding.CAAForbidsIssuer, Severity: finding.Error, Summary: "CAA"}}
	c, err = testRules().Obtained(verified, Issue{Findings: caa}, tNow)
	if err != nil {
		t.Fatal(err)
	}
	checkChange(t, c, want{status: Verified, next: c.Domain.IssueRetryAt, events: []string{"cert_provision/FAILURE"}, findings: []string{finding.CAAForbidsIssuer}})
	if c.Domain.IssueAttempts != 2 || !c.Domain.IssueRetryAt.After(tNow) {
		t.Errorf("attempts %d retry %v, want 2 and later", c.Domain.IssueAttempts, c.Domain.IssueRetryAt)
	}

	uploaded := active(record("UP", tNow, 30*24*time.Hour, "manual"))
	uploaded.CertSource = Manual
	if _, err := testRules().Obtained(uploaded, Issue{Rec: rec}, tNow); !errors.Is(err, errNoChange) {
		t.Errorf("an order finishing after an upload: got %v, want errNoChange (the upload wins)", err)
	}
}

func TestRulesMaintenance(t *testing.T) {
	r := testRules()
	old := record("OLD", tNow.Add(-61*24*time.Hour), 90*24*time.Hour, "acme") // renewal due 60 days in
	due := active(old)
	plan := r.PlanMaintenance(due, tNow)
	if !plan.Watch || !plan.Renew || !plan.CheckCNAME {
		t.Fatalf("plan of a due domain: %+v, want watch, renew and the CNAME", plan)
	}
	fresh := record("NEW", tNow, 90*24*time.Hour, "acme")

	t.Run("renewed", func(t *testing.T) {
		m := Maintenance{Of: "OLD", Watched: true, Checked: true, Attempted: true, Issue: Issue{Rec: fresh}}
		c, err := r.Maintained(due, m, tNow)
		if err != nil {
			t.Fatal(err)
		}
		checkChange(t, c, want{status: Completed, next: tNow.Add(6 * time.Hour), events: []string{"cert_renew/SUCCESS"}, served: true, cert: "NEW", findings: []string{}})
	})
	t.Run("renewal-failed", func(t *testing.T) {
		fail := []finding.Finding{{ID: finding.ACMEChallengeFailed, Severity: finding.Error, Summary: "challenge"}}
		m := Maintenance{Of: "OLD", Watched: true, Checked: true, Attempted: true, Issue: Issue{Findings: fail}}
		c, err := r.Maintained(due, m, tNow)
		if err != nil {
			t.Fatal(err)
		}
		checkChange(t, c, want{status: Completed, next: c.Domain.IssueRetryAt, events: []string{"cert_renew/FAILURE"}, findings: []string{finding.ACMEChallengeFailed}})
	})
	t.Run("expiring", func(t *testing.T) {
		nearly := record("OLD", tNow.Add(-80*24*time.Hour), 90*24*time.Hour, "manual")
		d := active(nearly)
		d.CertSource = Manual
		if p := r.PlanMaintenance(d, tNow); p.Renew {
			t.Errorf("a manual certificate planned for renewal: %+v", p)
		}
		c, err := r.Maintained(d, Maintenance{Of: "OLD", Watched: true, Checked: true}, tNow)
		if err != nil {
			t.Fatal(err)
		}
		checkChange(t, c, want{status: Completed, next: tNow.Add(6 * time.Hour), events: []string{"cert_expiring/FAILURE"}, findings: []string{FindingExpiring}})
		// Warned once per certificate.
		c2, _ := r.Maintained(c.Domain, Maintenance{Of: "OLD", Watched: true, Checked: true}, tNow.Add(6*time.Hour))
		if len(c2.Events) != 0 {
			t.Errorf("second look: events %v, want none", eventKeys(c2))
		}
	})
	t.Run("moved-then-renewals-stop", func(t *testing.T) {
		c, err := r.Maintained(due, Maintenance{Of: "OLD", Watched: true, Checked: true, Moves: movedReport.Findings}, tNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := eventKeys(c); !slices.Equal(got, []string{"moved/FAILURE"}) {
			t.Errorf("events: %v, want moved/FAILURE", got)
		}
		later := tNow.Add(8 * 24 * time.Hour)
		m := Maintenance{Of: "OLD", Watched: true, Checked: true, Moves: movedReport.Findings}
		if r.RenewNow(c.Domain, r.PlanMaintenance(c.Domain, later), m, later) {
			t.Error("renewal attempted more than the grace period after the name moved away")
		}
		if !r.RenewNow(c.Domain, r.PlanMaintenance(c.Domain, tNow.Add(time.Hour)), m, tNow.Add(time.Hour)) {
			t.Error("renewal not attempted within the grace period")
		}
	})
	t.Run("ca-moves-the-window", func(t *testing.T) {
		notDue := active(record("CUR", tNow.Add(-10*24*time.Hour), 90*24*time.Hour, "acme"))
		cur := record("CUR", tNow.Add(-10*24*time.Hour), 90*24*time.Hour, "acme")
		p := r.PlanMaintenance(notDue, tNow)
		m := Maintenance{Of: "CUR", Watched: true, Checked: true, Current: cur, RenewAt: tNow.Add(-time.Minute)}
		if p.Renew || !r.RenewNow(notDue, p, m, tNow) {
			t.Errorf("ARI moved the window to now: plan %+v, RenewNow false", p)
		}
		m.RenewAt = tNow.Add(24 * time.Hour)
		c, err := r.Maintained(notDue, m, tNow)
		if err != nil {
			t.Fatal(err)
		}
		if c.Cert == nil || !c.Cert.RenewAt.Equal(m.RenewAt) || len(c.Served) != 0 {
			t.Errorf("new plan: cert %+v served %v, want the record with RenewAt %v and nothing served anew", c.Cert, c.Served, m.RenewAt)
		}
	})
	t.Run("changed-meanwhile", func(t *testing.T) {
		if _, err := r.Maintained(active(fresh), Maintenance{Of: "OLD", Attempted: true, Issue: Issue{Rec: fresh}}, tNow); !errors.Is(err, errNoChange) {
			t.Errorf("work planned for another certificate: got %v, want errNoChange", err)
		}
	})
}

func TestRulesUploadDeleteBrandAssign(t *testing.T) {
	r := testRules()
	up := record("UP", tNow, 30*24*time.Hour, "manual")
	c, err := r.Uploaded(tActor, pending(Verified), up, nil, tNow)
	if err != nil {
		t.Fatal(err)
	}
	checkChange(t, c, want{status: Completed, source: Manual, next: tNow.Add(6 * time.Hour), events: []string{"cert_upload/SUCCESS"}, served: true, cert: "UP"})
	if _, err := r.Uploaded(tActor, pending(InProgress), up, nil, tNow); !errors.Is(err, ErrNotVerified) {
		t.Errorf("upload before proof: got %v, want ErrNotVerified", err)
	}

	proven := active(record("AA", tNow, 90*24*time.Hour, "acme"))
	checkChange(t, r.Deleted(tActor, proven, tNow), want{status: Completed, next: proven.NextCheck,
		events: []string{"delete/SUCCESS"}, served: true, dropCert: true, delete: true})
	// An unproven domain owns no certificate: another org's may be served.
	p := pending(InProgress)
	checkChange(t, r.Deleted(tActor, p, tNow), want{status: InProgress, next: p.NextCheck, events: []string{"delete/SUCCESS"}, delete: true})

	c = r.Rebranded(tActor, p, "bnd2", tNow)
	checkChange(t, c, want{status: InProgress, next: p.NextCheck, events: []string{"update/SUCCESS"}})
	if c.Domain.BrandID != "bnd2" || c.Events[0].DebugContext.DebugData["brandIdFrom"] != "bnd1" {
		t.Errorf("brand %q, debug %v", c.Domain.BrandID, c.Events[0].DebugContext.DebugData)
	}

	op := proven
	op.OrgID = ""
	if c, err := r.Assigned(op, "org9", tNow); err != nil || c.Domain.OrgID != "org9" {
		t.Errorf("assign an operator's proven domain: %v %q", err, c.Domain.OrgID)
	}
	if _, err := r.Assigned(proven, "org9", tNow); !errors.Is(err, ErrInUse) {
		t.Errorf("assign another org's domain: got %v, want ErrInUse", err)
	}
	if _, err := r.Assigned(p, "org1", tNow); !errors.Is(err, ErrNotVerified) {
		t.Errorf("assign an unproven domain: got %v, want ErrNotVerified", err)
	}
}
