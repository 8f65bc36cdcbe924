package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// TestConcurrentChanges sends requests that race for one invariant at the
// same moment, through the API over a real SQLite database: the store, not
// luck, decides who wins, and every loser gets Okta's error for it.
func TestConcurrentChanges(t *testing.T) {
	t.Run("two-orgs-prove-one-name", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		_, tokA := e.newOrg("A")
		_, tokB := e.newOrg("B")
		const rounds = 30
		wins := map[string]int{}
		for i := range rounds {
			name := fmt.Sprintf("race%d.acme.test", i)
			a, b := e.createDomain(tokA, name), e.createDomain(tokB, name)
			// Both TXT values are published: each org's check passes.
			e.publish(a)
			e.publish(b)
			rs := race(t, e, []request{
				{"POST", "/api/v1/domains/" + a.ID + "/verify", tokA, nil},
				{"POST", "/api/v1/domains/" + b.ID + "/verify", tokB, nil},
			})
			var got [2]domainResp
			for j, r := range rs {
				if r.status != http.StatusOK {
					t.Fatalf("round %d: verify %d answered %d %s, want 200 (verify always answers 200)", i, j, r.status, r.body)
				}
				r.decode(t, &got[j])
			}
			winner, loser, loserTok := -1, -1, ""
			for j, d := range got {
				switch {
				case d.ValidationStatus == "VERIFIED":
					winner = j
				case d.ValidationStatus == "IN_PROGRESS" && slices.Contains(d.findingIDs(), "domain.in_use"):
					loser, loserTok = j, []string{tokA, tokB}[j]
				}
			}
			if winner < 0 || loser < 0 {
				t.Fatalf("round %d: verify answered %s %v and %s %v, want one VERIFIED and one IN_PROGRESS with domain.in_use",
					i, got[0].ValidationStatus, got[0].findingIDs(), got[1].ValidationStatus, got[1].findingIDs())
			}
			wins[[]string{"A", "B"}[winner]]++
			ds, err := e.store.DomainsByName(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			proven := 0
			for _, d := range ds {
				if d.Status.Proven() {
					proven++
					if d.ID != got[winner].ID {
						t.Errorf("round %d: the store says %s proved %s, verify said %s", i, d.ID, name, got[winner].ID)
					}
				}
			}
			if proven != 1 {
				t.Errorf("round %d: %d domains have proven %s, want exactly 1", i, proven, name)
			}
			// The loser starts over: the name is taken.
			if r := e.do("DELETE", "/api/v1/domains/"+got[loser].ID, loserTok, nil); r.status != http.StatusNoContent {
				t.Fatalf("round %d: delete the loser: %d %s", i, r.status, r.body)
			}
			e.do("POST", "/api/v1/domains", loserTok, map[string]string{"domain": name, "certificateSourceType": "OKTA_MANAGED"}).
				wantError(t, http.StatusBadRequest, "E0000120")
		}
		t.Logf("%d rounds: A won %d, B won %d", rounds, wins["A"], wins["B"])
	})

	t.Run("creates-at-the-domain-limit", func(t *testing.T) {
		const limit, have, racers = 200, 192, 64
		e := newEnv(t, envOptions{domainLimit: limit})
		org, tok := e.newOrg("A")
		for i := range have {
			e.createDomain(tok, fmt.Sprintf("have%d.acme.test", i))
		}
		reqs := make([]request, racers)
		for i := range reqs {
			reqs[i] = request{"POST", "/api/v1/domains", tok, map[string]string{"domain": fmt.Sprintf("new%d.acme.test", i), "certificateSourceType": "MANUAL"}}
		}
		created := 0
		for i, r := range race(t, e, reqs) {
			switch r.status {
			case http.StatusOK: // Okta's createCustomDomain answers 200
				created++
			default:
				var ae apiErrorJSON
				if json.Unmarshal(r.body, &ae) != nil || r.status != http.StatusForbidden || ae.ErrorCode != "E0000162" {
					t.Errorf("create %d: %d %s, want 200 or 403 E0000162", i, r.status, r.body)
				}
			}
		}
		if created != limit-have {
			t.Errorf("%d of %d creates succeeded, want %d (the limit is %d, the org had %d)", created, racers, limit-have, limit, have)
		}
		ds, err := e.store.ListDomains(t.Context(), org, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != limit {
			t.Errorf("the org has %d domains, want exactly %d", len(ds), limit)
		}
	})

	t.Run("clients-rebrand-one-domain", func(t *testing.T) {
		const clients = 32
		e := newEnv(t, envOptions{})
		_, tok := e.newOrg("A")
		d := e.createDomain(tok, "login.acme.test")
		brandIDs := make([]string, clients)
		for i := range brandIDs {
			r := e.do("POST", "/api/v1/brands", tok, map[string]string{"name": fmt.Sprintf("Brand %02d", i)})
			var b struct {
				ID string `json:"id"`
			}
			r.decode(t, &b)
			if r.status != http.StatusCreated || b.ID == "" {
				t.Fatalf("creating brand %d: %d %s", i, r.status, r.body)
			}
			brandIDs[i] = b.ID
		}
		reqs := make([]request, clients)
		for i := range reqs {
			reqs[i] = request{"PUT", "/api/v1/domains/" + d.ID, tok, map[string]string{"brandId": brandIDs[i]}}
		}
		var brands []string
		for i, r := range race(t, e, reqs) {
			if r.status != http.StatusOK {
				t.Errorf("client %d: %d %s, want 200", i, r.status, r.body)
				continue
			}
			var got domainResp
			r.decode(t, &got)
			if got.BrandID != brandIDs[i] {
				t.Errorf("client %d: answered brand %q, want its own %s", i, got.BrandID, brandIDs[i])
			}
			brands = append(brands, got.BrandID)
		}
		var evs []struct {
			DebugContext struct {
				DebugData struct {
					BrandIDFrom string `json:"brandIdFrom"`
					BrandIDTo   string `json:"brandIdTo"`
				} `json:"debugData"`
			} `json:"debugContext"`
		}
		q := fmt.Sprintf(`eventType eq "system.custom_url_domain.update" and target.id eq %q`, d.ID)
		r := e.do("GET", "/api/v1/logs?limit=100&sortOrder=ASCENDING&filter="+url.QueryEscape(q), tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("logs: %d %s", r.status, r.body)
		}
		r.decode(t, &evs)
		if len(evs) != clients {
			t.Fatalf("%d update events, want %d (one per change)", len(evs), clients)
		}
		// The changes applied one after the other: each event starts
		// from the brand the previous one set, and every client's brand
		// was set once.
		from := d.BrandID
		var set []string
		for i, ev := range evs {
			if ev.DebugContext.DebugData.BrandIDFrom != from {
				t.Errorf("event %d: brand from %q, want %q (the previous change's)", i, ev.DebugContext.DebugData.BrandIDFrom, from)
			}
			from = ev.DebugContext.DebugData.BrandIDTo
			set = append(set, from)
		}
		slices.Sort(set)
		slices.Sort(brands)
		if !slices.Equal(set, brands) {
			t.Errorf("brands set by the events %v, want every client's %v", set, brands)
		}
		var final domainResp
		e.do("GET", "/api/v1/domains/"+d.ID, tok, nil).decode(t, &final)
		if final.BrandID != from {
			t.Errorf("domain's brand %q, want the last change's %q", final.BrandID, from)
		}
	})
}

type request struct {
	method, path, token string
	body                any
}

// race sends every request at once (each from its own goroutine, released
// together) and returns the answers in the order of reqs.
func race(t *testing.T, e *env, reqs []request) []response {
	t.Helper()
	out := make([]response, len(reqs))
	errs := make([]error, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, rq := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rd io.Reader
			if rq.body != nil {
				b, _ := json.Marshal(rq.body)
				rd = bytes.NewReader(b)
			}
			req, err := http.NewRequestWithContext(t.Context(), rq.method, e.srv.URL+rq.path, rd)
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Authorization", "SSWS "+rq.token)
			if rq.body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			<-start
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			out[i], errs[i] = response{status: resp.StatusCode, header: resp.Header, body: b}, err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s %s: %v", reqs[i].method, reqs[i].path, err)
		}
	}
	return out
}
