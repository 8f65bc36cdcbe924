package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// t0 is a fixed time with nanoseconds, in a zone other than UTC, to check
// that stores keep the instant exactly.
var t0 = time.Date(2026, 2, 3, 4, 5, 6, 789, time.FixedZone("CET", 3600))

func newDomain(id, org, name string) customdomain.Domain {
	return customdomain.Domain{
		ID: id, OrgID: org, Name: name,
		CertSource: customdomain.Managed, Status: customdomain.NotStarted,
		Token: "tok-" + id, Version: 1,
		Created: t0, Updated: t0, WindowStart: t0,
	}
}

// sameDomain compares domains with times compared as instants.
func sameDomain(t *testing.T, got, want customdomain.Domain) {
	t.Helper()
	for _, p := range []struct {
		name     string
		got, wnt time.Time
	}{
		{"Created", got.Created, want.Created}, {"Updated", got.Updated, want.Updated},
		{"WindowStart", got.WindowStart, want.WindowStart}, {"VerifiedAt", got.VerifiedAt, want.VerifiedAt},
		{"LastChecked", got.LastChecked, want.LastChecked}, {"NextCheck", got.NextCheck, want.NextCheck},
		{"Cert.NotBefore", got.Cert.NotBefore, want.Cert.NotBefore}, {"Cert.NotAfter", got.Cert.NotAfter, want.Cert.NotAfter},
		{"Cert.RenewAt", got.Cert.RenewAt, want.Cert.RenewAt}, {"IssueRetryAt", got.IssueRetryAt, want.IssueRetryAt},
		{"MovedSince", got.MovedSince, want.MovedSince}, {"ExpiryWarnedAt", got.ExpiryWarnedAt, want.ExpiryWarnedAt},
	} {
		if !p.got.Equal(p.wnt) || p.got.IsZero() != p.wnt.IsZero() {
			t.Errorf("domain %s %s: got %v, want %v", want.ID, p.name, p.got, p.wnt)
		}
	}
	g, w := got, want
	for _, d := range []*customdomain.Domain{&g, &w} {
		d.Created, d.Updated, d.WindowStart, d.VerifiedAt, d.LastChecked, d.NextCheck = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
		d.Cert.NotBefore, d.Cert.NotAfter, d.Cert.RenewAt, d.IssueRetryAt, d.MovedSince, d.ExpiryWarnedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	if len(g.Diagnosis) == 0 && len(w.Diagnosis) == 0 {
		g.Diagnosis, w.Diagnosis = nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("domain %s:\n got %+v\nwant %+v", want.ID, g, w)
	}
}

func ids(ds []customdomain.Domain) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func mustCreate(t *testing.T, s Backend, ds ...customdomain.Domain) {
	t.Helper()
	for _, d := range ds {
		if err := s.CreateDomain(t.Context(), d); err != nil {
			t.Fatalf("CreateDomain(%s): %v", d.ID, err)
		}
	}
}

// event is a domain event as the lifecycle prepares it.
func event(d customdomain.Domain, what string) systemlog.Event {
	return systemlog.Prepare(systemlog.Event{EventType: "system.custom_url_domain." + what, OrgID: d.OrgID,
		Outcome: systemlog.Outcome{Result: "SUCCESS"},
		Target:  []systemlog.Target{{ID: d.ID, Type: "CustomDomain", AlternateID: d.Name}}}, time.Now())
}

func countEvents(t *testing.T, s Backend, target string) int {
	t.Helper()
	f, err := systemlog.ParseFilter(`target.id eq "` + target + `"`)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.QueryEvents(t.Context(), systemlog.Query{All: true, Filter: f, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func runDomains(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("create-get-round-trip", func(t *testing.T) {
		s := open(t)
		d := newDomain("dom1", "org1", "login.acme.com")
		d.BrandID, d.Status, d.Attempts = "brand1", customdomain.InProgress, 3
		d.VerifiedAt, d.LastChecked, d.NextCheck = t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(time.Hour)
		d.IssueAttempts, d.IssueRetryAt = 2, t0.Add(time.Minute)
		d.MovedSince, d.ExpiryWarnedAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
		// JSON turns evidence numbers into float64 and lists into []any;
		// the want below is written that way.
		d.Diagnosis = []finding.Finding{{
			ID: finding.DNSRecordAtDoubledName, Severity: finding.Error,
			Summary: "the TXT record sits at a doubled name", Detail: "found at _x.login.acme.com.acme.com",
			Fix:      "remove the zone from the name",
			Evidence: map[string]any{"found": []any{"_x.login.acme.com.acme.com"}, "port": float64(53), "nested": map[string]any{"ok": true}},
		}, {ID: finding.DNSPropagationPartial, Severity: finding.Warning, Summary: "some servers"}}
		mustCreate(t, s, d)
		got, err := s.GetDomain(t.Context(), "dom1")
		if err != nil {
			t.Fatal(err)
		}
		sameDomain(t, got, d)
	})

	t.Run("certificate-derived-from-its-record", func(t *testing.T) {
		s := open(t)
		proven := newDomain("dom1", "org1", "login.acme.com")
		proven.Status = customdomain.Completed
		pending := newDomain("dom2", "org2", "login.acme.com")
		mustCreate(t, s, proven, pending)
		rec := sampleRecord("login.acme.com", "AB:CD")
		rec.Subject = "CN=login.acme.com"
		if _, err := s.ApplyDomain(t.Context(), "dom1", func(d customdomain.Domain) (customdomain.Change, error) {
			return customdomain.Change{Domain: d, Cert: &rec, Served: []string{d.Name}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetDomain(t.Context(), "dom1")
		if err != nil {
			t.Fatal(err)
		}
		want := customdomain.CertInfo{Subject: rec.Subject, Fingerprint: rec.Fingerprint, Issuer: rec.Issuer,
			NotBefore: rec.NotBefore, NotAfter: rec.NotAfter, RenewAt: rec.RenewAt}
		if got.Cert.Fingerprint != want.Fingerprint || got.Cert.Subject != want.Subject || got.Cert.Issuer != want.Issuer ||
			!got.Cert.NotAfter.Equal(want.NotAfter) || !got.Cert.RenewAt.Equal(want.RenewAt) ||
			got.Cert.Challenge != rec.Challenge || got.Cert.ChallengeReason != rec.ChallengeReason {
			t.Errorf("proven domain's certificate: got %+v, want %+v", got.Cert, want)
		}
		// Another org's unproven domain of the same name has none.
		if other, _ := s.GetDomain(t.Context(), "dom2"); other.Cert.Has() {
			t.Errorf("unproven domain of the same name shows %+v", other.Cert)
		}
		// Dropping the record clears what the domain says.
		if _, err := s.ApplyDomain(t.Context(), "dom1", func(d customdomain.Domain) (customdomain.Change, error) {
			return customdomain.Change{Domain: d, DropCert: true}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetDomain(t.Context(), "dom1"); got.Cert.Has() {
			t.Errorf("after the record is dropped: %+v", got.Cert)
		}
	})

	t.Run("get-not-found", func(t *testing.T) {
		s := open(t)
		if _, err := s.GetDomain(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("insert-invariants", func(t *testing.T) {
		s := open(t)
		ins := func(d customdomain.Domain, limit int) error {
			return s.InsertDomain(t.Context(), customdomain.Change{Domain: d, Events: []systemlog.Event{event(d, "initiate")}}, limit)
		}
		if err := ins(newDomain("dom1", "org1", "login.acme.com"), 0); err != nil {
			t.Fatal(err)
		}
		if err := ins(newDomain("dom2", "org1", "login.acme.com"), 0); !errors.Is(err, customdomain.ErrDuplicate) {
			t.Errorf("same org and name: got %v, want ErrDuplicate", err)
		}
		if err := ins(newDomain("dom3", "org2", "login.acme.com"), 0); err != nil {
			t.Errorf("same name in another org, not proven: got %v, want success", err)
		}
		proven := newDomain("dom4", "org3", "sso.acme.com")
		proven.Status = customdomain.Verified
		mustCreate(t, s, proven)
		if err := ins(newDomain("dom5", "org4", "sso.acme.com"), 0); !errors.Is(err, customdomain.ErrInUse) {
			t.Errorf("a name another org proved: got %v, want ErrInUse", err)
		}
		if err := ins(newDomain("dom6", "org1", "two.acme.com"), 1); !errors.Is(err, customdomain.ErrLimit) {
			t.Errorf("org1 at its limit of 1: got %v, want ErrLimit", err)
		}
		if err := ins(newDomain("dom7", "org2", "two.acme.com"), 2); err != nil {
			t.Errorf("org2 under its limit: got %v, want success", err)
		}
		// The refused ones left nothing, the others their event.
		for id, want := range map[string]int{"dom1": 1, "dom2": 0, "dom3": 1, "dom5": 0, "dom6": 0, "dom7": 1} {
			if n := countEvents(t, s, id); n != want {
				t.Errorf("%s: %d events, want %d", id, n, want)
			}
		}
		if err := s.CreateDomain(t.Context(), newDomain("dom1", "org9", "other.acme.com")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("same id: got %v, want ErrConflict", err)
		}
		ds, err := s.DomainsByName(t.Context(), "login.acme.com")
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(ds); !reflect.DeepEqual(got, []string{"dom1", "dom3"}) {
			t.Errorf("DomainsByName: got %v, want [dom1 dom3]", got)
		}
	})

	t.Run("insert-limit-concurrent", func(t *testing.T) {
		s := open(t)
		const limit = 10
		for i := range limit - 2 {
			mustCreate(t, s, newDomain(fmt.Sprintf("seed%02d", i), "org1", fmt.Sprintf("s%d.acme.com", i)))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for i := range 32 {
			wg.Go(func() {
				d := newDomain(fmt.Sprintf("dom%02d", i), "org1", fmt.Sprintf("d%d.acme.com", i))
				err := s.InsertDomain(t.Context(), customdomain.Change{Domain: d}, limit)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, customdomain.ErrLimit):
					lost++
				default:
					t.Errorf("insert %s: %v", d.ID, err)
				}
			})
		}
		wg.Wait()
		if n, _ := s.CountDomains(t.Context(), "org1"); n != limit || won != 2 || lost != 30 {
			t.Errorf("org1 has %d domains (%d created, %d refused), want exactly %d (2, 30)", n, won, lost, limit)
		}
	})

	t.Run("apply-commits-whole", func(t *testing.T) {
		s := open(t)
		d := newDomain("dom1", "org1", "login.acme.com")
		mustCreate(t, s, d, newDomain("dom2", "org1", "other.acme.com"))
		head0, err := s.OutboxHead(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		rec := sampleRecord("login.acme.com", "AA:01")
		got, err := s.ApplyDomain(t.Context(), "dom1", func(cur customdomain.Domain) (customdomain.Change, error) {
			sameDomain(t, cur, d)
			cur.Status, cur.VerifiedAt, cur.NextCheck = customdomain.Completed, t0.Add(time.Minute), time.Time{}
			cur.Diagnosis = []finding.Finding{{ID: finding.DNSValueQuoted, Severity: finding.Warning, Summary: "quoted"}}
			return customdomain.Change{Domain: cur, Cert: &rec, Served: []string{cur.Name},
				Events: []systemlog.Event{event(cur, "verify"), event(cur, "cert_provision")}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 {
			t.Errorf("version after the change: got %d, want 2", got.Version)
		}
		stored, _ := s.GetDomain(t.Context(), "dom1")
		if stored.Status != customdomain.Completed || stored.Version != 2 || stored.Cert.Fingerprint != "AA:01" || len(stored.Diagnosis) != 1 {
			t.Errorf("stored: %s v%d cert %q diag %v, want COMPLETED v2 AA:01 one finding", stored.Status, stored.Version, stored.Cert.Fingerprint, stored.Diagnosis)
		}
		if n := countEvents(t, s, "dom1"); n != 2 {
			t.Errorf("events: %d, want 2", n)
		}
		es, err := s.OutboxAfter(t.Context(), head0, 10)
		if err != nil || len(es) != 1 || es[0].Name != "login.acme.com" || es[0].Seq <= head0 {
			t.Errorf("outbox after the change: %+v, %v, want one entry for login.acme.com", es, err)
		}

		// A refused decision writes nothing.
		refuse := errors.New("refused")
		if _, err := s.ApplyDomain(t.Context(), "dom1", func(cur customdomain.Domain) (customdomain.Change, error) {
			return customdomain.Change{}, refuse
		}); !errors.Is(err, refuse) {
			t.Errorf("refused decision: got %v, want it back", err)
		}
		if _, err := s.ApplyDomain(t.Context(), "ghost", func(cur customdomain.Domain) (customdomain.Change, error) {
			t.Error("decide called for a missing domain")
			return customdomain.Change{Domain: cur}, nil
		}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing domain: got %v, want ErrNotFound", err)
		}
		// Renaming onto another domain of the org is refused.
		if _, err := s.ApplyDomain(t.Context(), "dom2", func(cur customdomain.Domain) (customdomain.Change, error) {
			cur.Name = "login.acme.com"
			return customdomain.Change{Domain: cur}, nil
		}); !errors.Is(err, customdomain.ErrDuplicate) {
			t.Errorf("rename onto a taken name: got %v, want ErrDuplicate", err)
		}
	})

	// A change that fails at any of its steps leaves none of it visible.
	t.Run("apply-fails-at-each-step", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			break_ func(c *customdomain.Change)
		}{
			{"domain", func(c *customdomain.Change) { c.Domain.Created = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
			{"certificate", func(c *customdomain.Change) { c.Cert.SealedKey = nil }},
			{"certificate-of-another-name", func(c *customdomain.Change) { c.Cert.Name = "other.acme.com" }},
			{"first-event", func(c *customdomain.Change) { c.Events[0].UUID = "" }},
			{"last-event", func(c *customdomain.Change) { c.Events[1].Published = time.Time{} }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				mustCreate(t, s, newDomain("dom1", "org1", "login.acme.com"))
				head0, _ := s.OutboxHead(t.Context())
				_, err := s.ApplyDomain(t.Context(), "dom1", func(cur customdomain.Domain) (customdomain.Change, error) {
					cur.Status = customdomain.Completed
					rec := sampleRecord("login.acme.com", "AA:01")
					c := customdomain.Change{Domain: cur, Cert: &rec, Served: []string{cur.Name},
						Events: []systemlog.Event{event(cur, "verify"), event(cur, "cert_provision")}}
					tc.break_(&c)
					return c, nil
				})
				if err == nil {
					t.Fatal("the broken change was committed")
				}
				d, _ := s.GetDomain(t.Context(), "dom1")
				if d.Status != customdomain.NotStarted || d.Version != 1 || d.Cert.Has() {
					t.Errorf("domain after the failed change: %s v%d cert %q, want it untouched", d.Status, d.Version, d.Cert.Fingerprint)
				}
				if _, err := s.Certificate(t.Context(), "login.acme.com"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("certificate after the failed change: %v, want none", err)
				}
				if n := countEvents(t, s, "dom1"); n != 0 {
					t.Errorf("%d events after the failed change, want none", n)
				}
				if head, _ := s.OutboxHead(t.Context()); head != head0 {
					t.Errorf("outbox head moved from %d to %d", head0, head)
				}
			})
		}
	})

	t.Run("proven-name-unique", func(t *testing.T) {
		s := open(t)
		mustCreate(t, s, newDomain("dom1", "org1", "login.acme.com"), newDomain("dom2", "org2", "login.acme.com"))
		prove := func(id string) error {
			_, err := s.ApplyDomain(t.Context(), id, func(cur customdomain.Domain) (customdomain.Change, error) {
				cur.Status = customdomain.Verified
				return customdomain.Change{Domain: cur, Events: []systemlog.Event{event(cur, "verify")}}, nil
			})
			return err
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{"dom1", "dom2"} {
			wg.Go(func() { errs[i] = prove(id) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, customdomain.ErrInUse):
				t.Errorf("loser: got %v, want ErrInUse", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d orgs proved the name, want exactly 1 (%v)", ok, errs)
		}
		if n := countEvents(t, s, "dom1") + countEvents(t, s, "dom2"); n != 1 {
			t.Errorf("%d verify events, want the winner's only", n)
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := open(t)
		d := newDomain("dom1", "org1", "login.acme.com")
		d.Status = customdomain.Completed
		mustCreate(t, s, d)
		if err := s.PutCertificate(t.Context(), sampleRecord("login.acme.com", "AA:01")); err != nil {
			t.Fatal(err)
		}
		del := func(cur customdomain.Domain) (customdomain.Change, error) {
			return customdomain.Change{Domain: cur, Delete: true, DropCert: true, Served: []string{cur.Name},
				Events: []systemlog.Event{event(cur, "delete")}}, nil
		}
		if _, err := s.ApplyDomain(t.Context(), "dom1", del); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetDomain(t.Context(), "dom1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get after delete: got %v, want ErrNotFound", err)
		}
		if _, err := s.Certificate(t.Context(), "login.acme.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("certificate after delete: got %v, want ErrNotFound", err)
		}
		if n := countEvents(t, s, "dom1"); n != 1 {
			t.Errorf("delete events: %d, want 1", n)
		}
		if _, err := s.ApplyDomain(t.Context(), "dom1", del); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: got %v, want ErrNotFound", err)
		}
		// The name is free again.
		mustCreate(t, s, newDomain("dom2", "org1", "login.acme.com"))
	})

	t.Run("list-keyset-and-count", func(t *testing.T) {
		s := open(t)
		var want1, wantAll []string
		for i := range 25 {
			org := "org1"
			if i%3 == 0 {
				org = "org2"
			}
			id := fmt.Sprintf("dom%02d", 24-i) // created out of id order
			mustCreate(t, s, newDomain(id, org, fmt.Sprintf("d%d.example.com", i)))
			if org == "org1" {
				want1 = append(want1, id)
			}
			wantAll = append(wantAll, id)
		}
		sort.Strings(want1)
		sort.Strings(wantAll)
		for _, tc := range []struct {
			org  string
			want []string
		}{{"org1", want1}, {"", wantAll}} {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > 30 {
					t.Fatal("paging does not end")
				}
				ds, err := s.ListDomains(t.Context(), tc.org, after, 4)
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) > 4 {
					t.Fatalf("page of %d, limit 4", len(ds))
				}
				if len(ds) == 0 {
					break
				}
				got = append(got, ids(ds)...)
				after = ds[len(ds)-1].ID
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("org %q: got %v, want %v", tc.org, got, tc.want)
			}
			n, err := s.CountDomains(t.Context(), tc.org)
			if err != nil || n != len(tc.want) {
				t.Errorf("CountDomains(%q): got %d, %v, want %d", tc.org, n, err, len(tc.want))
			}
		}
		if n, err := s.CountDomains(t.Context(), "org-none"); err != nil || n != 0 {
			t.Errorf("CountDomains(empty org): got %d, %v, want 0", n, err)
		}
		if ds, err := s.ListDomains(t.Context(), "org-none", "", 10); err != nil || len(ds) != 0 {
			t.Errorf("ListDomains(empty org): got %v, %v, want none", ids(ds), err)
		}
		// A page starts strictly after the given id, present or not.
		ds, err := s.ListDomains(t.Context(), "", "dom10", 2)
		if err != nil || !reflect.DeepEqual(ids(ds), []string{"dom11", "dom12"}) {
			t.Errorf("after dom10: got %v, %v, want [dom11 dom12]", ids(ds), err)
		}
		ds, err = s.ListDomains(t.Context(), "", "dom10x", 1)
		if err != nil || !reflect.DeepEqual(ids(ds), []string{"dom11"}) {
			t.Errorf("after dom10x: got %v, %v, want [dom11]", ids(ds), err)
		}
	})

	t.Run("list-views", func(t *testing.T) {
		s := open(t)
		var all []customdomain.Domain
		for i := range 7 {
			org := "org1"
			if i%3 == 0 {
				org = "org2"
			}
			d := newDomain(fmt.Sprintf("dom%02d", 6-i), org, fmt.Sprintf("d%d.example.com", i))
			d.BrandID, d.Attempts, d.IssueAttempts = "bnd1", i, i+1
			d.LastChecked, d.NextCheck, d.IssueRetryAt = t0.Add(time.Minute), t0.Add(time.Hour), t0.Add(2*time.Hour)
			d.MovedSince, d.ExpiryWarnedAt = t0.Add(3*time.Hour), t0.Add(4*time.Hour)
			d.Lease = customdomain.Lease{Owner: "node", Token: "lse", Until: t0.Add(time.Hour)}
			if i%2 == 0 {
				d.Status, d.VerifiedAt = customdomain.Completed, t0.Add(time.Second)
				d.Diagnosis = []finding.Finding{{ID: "dns.resolve_failed", Severity: "error", Summary: "s"}}
			}
			all = append(all, d)
			mustCreate(t, s, d)
		}
		for _, d := range all[:3] {
			if d.Status != customdomain.Completed {
				continue
			}
			rec := sampleRecord(d.Name, "AB:"+d.ID)
			rec.Subject, rec.Challenge, rec.ChallengeReason = "CN="+d.Name, "http-01", "why"
			if _, err := s.ApplyDomain(t.Context(), d.ID, func(d customdomain.Domain) (customdomain.Change, error) {
				return customdomain.Change{Domain: d, Cert: &rec, Served: []string{d.Name}}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		// The views are the domains ListDomains returns, with only the
		// fields ViewLister names, page by page.
		view := func(d customdomain.Domain) customdomain.Domain {
			return customdomain.Domain{ID: d.ID, Name: d.Name, CertSource: d.CertSource, Status: d.Status,
				Token: d.Token, BrandID: d.BrandID, WindowStart: d.WindowStart, VerifiedAt: d.VerifiedAt,
				LastChecked: d.LastChecked, NextCheck: d.NextCheck, Attempts: d.Attempts, Diagnosis: d.Diagnosis,
				Cert: customdomain.CertInfo{Subject: d.Cert.Subject, Fingerprint: d.Cert.Fingerprint, NotAfter: d.Cert.NotAfter,
					RenewAt: d.Cert.RenewAt, Challenge: d.Cert.Challenge, ChallengeReason: d.Cert.ChallengeReason},
				IssueAttempts: d.IssueAttempts, IssueRetryAt: d.IssueRetryAt, MovedSince: d.MovedSince}
		}
		certs := 0
		for _, org := range []string{"org1", "org2", "", "org-none"} {
			for _, after := range []string{"", "dom01", "dom03x"} {
				full, err := s.ListDomains(t.Context(), org, after, 3)
				if err != nil {
					t.Fatal(err)
				}
				views, err := s.ListDomainViews(t.Context(), org, after, 3)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ids(views), ids(full)) {
					t.Fatalf("org %q after %q: got %v, want %v", org, after, ids(views), ids(full))
				}
				for i := range full {
					sameDomain(t, views[i], view(full[i]))
					if full[i].Cert.Has() {
						certs++
					}
				}
			}
		}
		if certs == 0 {
			t.Error("no listed domain has a certificate; the test compares none")
		}
		if _, err := s.ListDomainViews(t.Context(), "", "", 0); err == nil {
			t.Error("ListDomainViews(limit 0): got no error, want one")
		}
	})

	t.Run("claim-due-leases", func(t *testing.T) {
		s := open(t)
		now := t0.Add(time.Hour)
		mk := func(id string, next time.Time) customdomain.Domain {
			d := newDomain(id, "org1", id+".example.com")
			d.NextCheck = next
			return d
		}
		mustCreate(t, s,
			mk("late", now.Add(-time.Minute)),
			mk("early", now.Add(-time.Hour)),
			mk("exact", now),
			mk("future", now.Add(time.Nanosecond)),
			mk("never", time.Time{}),
			mk("middle", now.Add(-30*time.Minute)),
		)
		until := now.Add(5 * time.Minute)
		got, err := s.ClaimDue(t.Context(), "node-a", now, until, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), []string{"early", "middle"}) {
			t.Fatalf("first claim: got %v, want [early middle]", ids(got))
		}
		tokens := map[string]string{}
		for _, d := range got {
			if d.Lease.Owner != "node-a" || d.Lease.Token == "" || !d.Lease.Until.Equal(until) || d.Version != 1 {
				t.Errorf("claimed %s: lease %+v version %d, want node-a, a token, %v, version 1", d.ID, d.Lease, d.Version, until)
			}
			if !d.Lease.Held(d.Lease.Token, now) || d.Lease.Held(d.Lease.Token, until) || d.Lease.Held("other", now) {
				t.Errorf("claimed %s: Held is wrong for %+v", d.ID, d.Lease)
			}
			tokens[d.ID] = d.Lease.Token
			stored, _ := s.GetDomain(t.Context(), d.ID)
			if stored.Lease != d.Lease {
				t.Errorf("stored lease of %s: %+v, want %+v", d.ID, stored.Lease, d.Lease)
			}
			// The claim never moves the schedule: nextCheckAt stays true.
			if !stored.NextCheck.Before(now) {
				t.Errorf("claimed %s: NextCheck moved to %v", d.ID, stored.NextCheck)
			}
		}
		got, err = s.ClaimDue(t.Context(), "node-b", now, until, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), []string{"late", "exact"}) {
			t.Fatalf("second claim: got %v, want [late exact]", ids(got))
		}
		if got, err := s.ClaimDue(t.Context(), "node-b", now, until, 10); err != nil || len(got) != 0 {
			t.Fatalf("third claim: got %v, %v, want none", ids(got), err)
		}
		// Releasing with the change ends the lease; the domain is due again
		// only when its NextCheck says so.
		if _, err := s.ApplyDomain(t.Context(), "early", func(cur customdomain.Domain) (customdomain.Change, error) {
			cur.NextCheck = now.Add(time.Hour)
			return customdomain.Change{Domain: cur, Release: true}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if d, _ := s.GetDomain(t.Context(), "early"); d.Lease != (customdomain.Lease{}) {
			t.Errorf("after release: lease %+v, want none", d.Lease)
		}
		// When the lease runs out the others are due again, with new tokens.
		got, err = s.ClaimDue(t.Context(), "node-c", until, until.Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), []string{"middle", "late", "exact", "future"}) {
			t.Errorf("after the lease: got %v, want [middle late exact future]", ids(got))
		}
		for _, d := range got {
			if tok, ok := tokens[d.ID]; ok && tok == d.Lease.Token {
				t.Errorf("%s reclaimed with the same token", d.ID)
			}
		}
	})

	t.Run("outbox", func(t *testing.T) {
		s := open(t)
		if head, err := s.OutboxHead(t.Context()); err != nil || head != 0 {
			t.Fatalf("empty outbox head: %d, %v, want 0", head, err)
		}
		for i := range 5 {
			d := newDomain(fmt.Sprintf("dom%d", i), "org1", fmt.Sprintf("d%d.acme.com", i))
			mustCreate(t, s, d)
			if _, err := s.ApplyDomain(t.Context(), d.ID, func(cur customdomain.Domain) (customdomain.Change, error) {
				return customdomain.Change{Domain: cur, Served: []string{cur.Name}}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		es, err := s.OutboxAfter(t.Context(), 0, 3)
		if err != nil || len(es) != 3 || es[0].Name != "d0.acme.com" || es[2].Name != "d2.acme.com" {
			t.Fatalf("first page: %+v, %v", es, err)
		}
		rest, err := s.OutboxAfter(t.Context(), es[2].Seq, 10)
		if err != nil || len(rest) != 2 || rest[1].Name != "d4.acme.com" {
			t.Fatalf("second page: %+v, %v", rest, err)
		}
		head, _ := s.OutboxHead(t.Context())
		if head != rest[1].Seq {
			t.Errorf("head %d, want %d", head, rest[1].Seq)
		}
		// Pruning keeps the newest entry, so the head never moves back.
		if _, err := s.PruneOutbox(t.Context(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if h, _ := s.OutboxHead(t.Context()); h != head {
			t.Errorf("head after pruning: %d, want %d", h, head)
		}
		if es, _ := s.OutboxAfter(t.Context(), 0, 10); len(es) != 1 {
			t.Errorf("after pruning: %d entries, want the newest only", len(es))
		}
	})

	t.Run("schedule-unissued", func(t *testing.T) {
		s := open(t)
		mk := func(id string, st customdomain.Status, src customdomain.CertSource, fp string, next time.Time) customdomain.Domain {
			d := newDomain(id, "org1", id+".example.com")
			d.Status, d.CertSource, d.NextCheck = st, src, next
			return d
		}
		mustCreate(t, s,
			mk("stranded", customdomain.Verified, customdomain.Managed, "", time.Time{}),
			mk("scheduled", customdomain.Verified, customdomain.Managed, "", t0.Add(time.Minute)),
			mk("manual", customdomain.Verified, customdomain.Manual, "", time.Time{}),
			mk("pending", customdomain.InProgress, customdomain.Managed, "", time.Time{}),
			mk("failed", customdomain.FailedToVerify, customdomain.Managed, "", time.Time{}),
			mk("has-cert", customdomain.Verified, customdomain.Managed, "AA:01", time.Time{}),
		)
		if err := s.PutCertificate(t.Context(), sampleRecord("has-cert.example.com", "AA:01")); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Hour)
		n, err := s.ScheduleUnissued(t.Context(), at)
		if err != nil || n != 1 {
			t.Fatalf("got %d, %v, want 1 (stranded)", n, err)
		}
		d, _ := s.GetDomain(t.Context(), "stranded")
		if !d.NextCheck.Equal(at) || d.Version != 2 {
			t.Errorf("stranded: NextCheck %v version %d, want %v and 2", d.NextCheck, d.Version, at)
		}
		for _, id := range []string{"scheduled", "manual", "pending", "failed", "has-cert"} {
			if d, _ := s.GetDomain(t.Context(), id); d.Version != 1 {
				t.Errorf("%s: version %d, want it untouched", id, d.Version)
			}
		}
		if n, err := s.ScheduleUnissued(t.Context(), at); err != nil || n != 0 {
			t.Errorf("again: got %d, %v, want 0", n, err)
		}
	})

	t.Run("claim-due-concurrent", func(t *testing.T) {
		s := open(t)
		const n = 60
		now := t0.Add(time.Hour)
		for i := range n {
			d := newDomain(fmt.Sprintf("dom%02d", i), "org1", fmt.Sprintf("d%d.example.com", i))
			d.NextCheck = now.Add(-time.Duration(i) * time.Second)
			mustCreate(t, s, d)
		}
		var (
			mu     sync.Mutex
			seen   = map[string]int{}
			wg     sync.WaitGroup
			errs   = make(chan error, 8)
			claims int
		)
		for range 8 {
			wg.Go(func() {
				for {
					ds, err := s.ClaimDue(t.Context(), "node", now, now.Add(time.Hour), 3)
					if err != nil {
						errs <- err
						return
					}
					if len(ds) == 0 {
						return
					}
					mu.Lock()
					claims++
					for _, d := range ds {
						seen[d.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("ClaimDue: %v", err)
		}
		if len(seen) != n {
			t.Errorf("claimed %d distinct domains, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("domain %s claimed %d times", id, c)
			}
		}
		if claims < n/3 {
			t.Errorf("%d claims for %d domains with limit 3", claims, n)
		}
	})
}
