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

func runDomains(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("create-get-round-trip", func(t *testing.T) {
		s := open(t)
		d := newDomain("dom1", "org1", "login.acme.com")
		d.BrandID, d.Status, d.Attempts = "brand1", customdomain.InProgress, 3
		d.VerifiedAt, d.LastChecked, d.NextCheck = t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(time.Hour)
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

	t.Run("certificate-state-round-trip", func(t *testing.T) {
		s := open(t)
		d := newDomain("dom1", "org1", "login.acme.com")
		d.Status = customdomain.Completed
		d.Cert = customdomain.CertInfo{Subject: "CN=login.acme.com", Fingerprint: "AB:CD", Issuer: "acme",
			NotBefore: t0, NotAfter: t0.Add(90 * 24 * time.Hour), RenewAt: t0.Add(60 * 24 * time.Hour)}
		d.IssueAttempts, d.IssueRetryAt = 2, t0.Add(time.Minute)
		d.MovedSince, d.ExpiryWarnedAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
		mustCreate(t, s, d)
		got, err := s.GetDomain(t.Context(), "dom1")
		if err != nil {
			t.Fatal(err)
		}
		sameDomain(t, got, d)
		// Clearing goes back to the zero values.
		got.Cert, got.IssueAttempts, got.IssueRetryAt, got.MovedSince, got.ExpiryWarnedAt = customdomain.CertInfo{}, 0, time.Time{}, time.Time{}, time.Time{}
		v, err := s.UpdateDomain(t.Context(), got)
		if err != nil {
			t.Fatal(err)
		}
		got.Version = v
		again, err := s.GetDomain(t.Context(), "dom1")
		if err != nil {
			t.Fatal(err)
		}
		sameDomain(t, again, got)
	})

	t.Run("get-not-found", func(t *testing.T) {
		s := open(t)
		if _, err := s.GetDomain(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("create-conflicts", func(t *testing.T) {
		s := open(t)
		mustCreate(t, s, newDomain("dom1", "org1", "login.acme.com"))
		if err := s.CreateDomain(t.Context(), newDomain("dom2", "org1", "login.acme.com")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("same org and name: got %v, want ErrConflict", err)
		}
		if err := s.CreateDomain(t.Context(), newDomain("dom1", "org1", "other.acme.com")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("same id: got %v, want ErrConflict", err)
		}
		if err := s.CreateDomain(t.Context(), newDomain("dom3", "org2", "login.acme.com")); err != nil {
			t.Errorf("same name in another org: got %v, want success", err)
		}
		ds, err := s.DomainsByName(t.Context(), "login.acme.com")
		if err != nil {
			t.Fatal(err)
		}
		got := ids(ds)
		sort.Strings(got)
		if !reflect.DeepEqual(got, []string{"dom1", "dom3"}) {
			t.Errorf("DomainsByName: got %v, want [dom1 dom3]", got)
		}
		if ds, err := s.DomainsByName(t.Context(), "none.example"); err != nil || len(ds) != 0 {
			t.Errorf("DomainsByName(unknown): got %v, %v, want none", ids(ds), err)
		}
	})

	t.Run("update", func(t *testing.T) {
		s := open(t)
		d := newDomain("dom1", "org1", "login.acme.com")
		mustCreate(t, s, d, newDomain("dom2", "org1", "other.acme.com"))
		d.Status, d.VerifiedAt, d.NextCheck = customdomain.Verified, t0.Add(time.Minute), time.Time{}
		d.Diagnosis = []finding.Finding{{ID: finding.DNSValueQuoted, Severity: finding.Error, Summary: "quoted"}}
		v, err := s.UpdateDomain(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		if v != 2 {
			t.Errorf("new version: got %d, want 2", v)
		}
		got, err := s.GetDomain(t.Context(), "dom1")
		if err != nil {
			t.Fatal(err)
		}
		d.Version = 2
		sameDomain(t, got, d)

		// The stale version 1 loses.
		stale := d
		stale.Version = 1
		if _, err := s.UpdateDomain(t.Context(), stale); !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale version: got %v, want ErrConflict", err)
		}
		if got, _ := s.GetDomain(t.Context(), "dom1"); got.Version != 2 || got.Status != customdomain.Verified {
			t.Errorf("after the lost update: version %d status %s, want 2 VERIFIED", got.Version, got.Status)
		}
		// Renaming onto another domain of the org conflicts.
		clash := d
		clash.Name = "other.acme.com"
		if _, err := s.UpdateDomain(t.Context(), clash); !errors.Is(err, store.ErrConflict) {
			t.Errorf("rename onto a taken name: got %v, want ErrConflict", err)
		}
		gone := newDomain("ghost", "org1", "ghost.acme.com")
		if _, err := s.UpdateDomain(t.Context(), gone); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing domain: got %v, want ErrNotFound", err)
		}
		if v, err := s.UpdateDomain(t.Context(), d); err != nil || v != 3 {
			t.Errorf("second update: got %d, %v, want 3", v, err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := open(t)
		mustCreate(t, s, newDomain("dom1", "org1", "login.acme.com"))
		if err := s.DeleteDomain(t.Context(), "dom1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetDomain(t.Context(), "dom1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get after delete: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteDomain(t.Context(), "dom1"); !errors.Is(err, store.ErrNotFound) {
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

	t.Run("claim-due", func(t *testing.T) {
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
		lease := now.Add(5 * time.Minute)
		got, err := s.ClaimDue(t.Context(), now, lease, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), []string{"early", "middle"}) {
			t.Fatalf("first claim: got %v, want [early middle]", ids(got))
		}
		for _, d := range got {
			if !d.NextCheck.Equal(lease) || d.Version != 2 {
				t.Errorf("claimed %s: NextCheck %v version %d, want %v and 2", d.ID, d.NextCheck, d.Version, lease)
			}
			stored, _ := s.GetDomain(t.Context(), d.ID)
			sameDomain(t, stored, d)
		}
		got, err = s.ClaimDue(t.Context(), now, lease, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), []string{"late", "exact"}) {
			t.Fatalf("second claim: got %v, want [late exact]", ids(got))
		}
		if got, err := s.ClaimDue(t.Context(), now, lease, 10); err != nil || len(got) != 0 {
			t.Fatalf("third claim: got %v, %v, want none", ids(got), err)
		}
		// When the lease runs out they are due again; "never" never is.
		got, err = s.ClaimDue(t.Context(), lease, lease.Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Errorf("after the lease: got %v, want the 5 domains but never", ids(got))
		}
		// An update with the version read before the claim loses.
		before := mk("late", now.Add(-time.Minute))
		if _, err := s.UpdateDomain(t.Context(), before); !errors.Is(err, store.ErrConflict) {
			t.Errorf("update with a pre-claim version: got %v, want ErrConflict", err)
		}
	})

	t.Run("schedule-unissued", func(t *testing.T) {
		s := open(t)
		mk := func(id string, st customdomain.Status, src customdomain.CertSource, fp string, next time.Time) customdomain.Domain {
			d := newDomain(id, "org1", id+".example.com")
			d.Status, d.CertSource, d.Cert.Fingerprint, d.NextCheck = st, src, fp, next
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
					ds, err := s.ClaimDue(t.Context(), now, now.Add(time.Hour), 3)
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
