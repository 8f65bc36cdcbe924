package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDomainLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, tok := e.newOrg("Acme")

	d := e.createDomain(tok, "Login.ACME.test.")
	if d.Domain != "login.acme.test" || d.ValidationStatus != "NOT_STARTED" || d.CertificateSourceType != "OKTA_MANAGED" {
		t.Fatalf("created %+v, want login.acme.test NOT_STARTED OKTA_MANAGED", d)
	}
	txtName, txt := d.record("TXT")
	if txtName != "_hallmark-challenge.login.acme.test" || len(txt) != 32 {
		t.Fatalf("TXT record %q = %q, want _hallmark-challenge.login.acme.test with a 32-char token", txtName, txt)
	}
	if fqdn, v := d.record("CNAME"); fqdn != "login.acme.test" || v != cnameTarget {
		t.Fatalf("CNAME record %q → %q, want login.acme.test → %s", fqdn, v, cnameTarget)
	}
	if d.Links["self"].Href == "" || d.Links["verify"].Href == "" {
		t.Fatalf("links = %+v, want self and verify", d.Links)
	}

	t.Run("fail/nothing-published", func(t *testing.T) {
		r := e.do("POST", "/api/v1/domains/"+d.ID+"/verify", tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("verify status = %d, want 200 (failure is in the body)", r.status)
		}
		var got domainResp
		r.decode(t, &got)
		if got.ValidationStatus != "IN_PROGRESS" || !slices.Contains(got.findingIDs(), "dns.record_missing") {
			t.Fatalf("verify = %s %v, want IN_PROGRESS with dns.record_missing", got.ValidationStatus, got.findingIDs())
		}
	})

	t.Run("fail/quoted-value", func(t *testing.T) {
		e.world.Set(txtName + `. 300 IN TXT "\"` + txt + `\""`)
		defer e.world.Remove(txtName+".", "TXT")
		var got domainResp
		e.do("POST", "/api/v1/domains/"+d.ID+"/verify", tok, nil).decode(t, &got)
		if !slices.Contains(got.findingIDs(), "dns.value_quoted") {
			t.Fatalf("findings = %v, want dns.value_quoted", got.findingIDs())
		}
		// The diagnosis stays readable afterwards.
		var again domainResp
		e.do("GET", "/api/v1/domains/"+d.ID, tok, nil).decode(t, &again)
		if !slices.Equal(again.findingIDs(), got.findingIDs()) {
			t.Fatalf("GET diagnosis = %v, want the verify's %v", again.findingIDs(), got.findingIDs())
		}
	})

	t.Run("ok/verified", func(t *testing.T) {
		e.publish(d)
		var got domainResp
		e.do("POST", "/api/v1/domains/"+d.ID+"/verify", tok, nil).decode(t, &got)
		if got.ValidationStatus != "VERIFIED" {
			t.Fatalf("status = %s, findings %+v; want VERIFIED", got.ValidationStatus, got.Diagnosis)
		}
		for _, f := range got.Diagnosis {
			if f.Severity != "info" {
				t.Fatalf("verified domain has finding %+v", f)
			}
		}
		if _, ok := got.Links["certificate"]; !ok {
			t.Fatalf("links of a verified domain = %v, want certificate", got.Links)
		}
	})

	t.Run("ok/events", func(t *testing.T) {
		filter := `eventType eq "system.custom_url_domain.verify" and target.id eq "` + d.ID + `"`
		r := e.do("GET", "/api/v1/logs?filter="+url.QueryEscape(filter), tok, nil)
		if r.status != 200 {
			t.Fatalf("logs: %d %s", r.status, r.body)
		}
		var evs []struct {
			EventType string `json:"eventType"`
			Outcome   struct{ Result, Reason string }
			Debug     struct {
				DebugData struct {
					Findings []struct{ ID string } `json:"findings"`
				} `json:"debugData"`
			} `json:"debugContext"`
		}
		r.decode(t, &evs)
		var results []string
		for _, ev := range evs {
			results = append(results, ev.Outcome.Result)
		}
		if !slices.Equal(results, []string{"FAILURE", "FAILURE", "SUCCESS"}) {
			t.Fatalf("verify outcomes = %v, want FAILURE FAILURE SUCCESS", results)
		}
		if len(evs[0].Debug.DebugData.Findings) == 0 || !strings.Contains(evs[0].Outcome.Reason, "dns.record_missing") {
			t.Fatalf("failure event %+v lacks the findings and reason", evs[0])
		}
	})

	t.Run("ok/brand-and-delete", func(t *testing.T) {
		e.do("PUT", "/api/v1/domains/"+d.ID, tok, map[string]string{"brandId": "bndCustom1"}).wantError(t, 409, "E0000203")
		var b struct{ ID string }
		if r := e.do("POST", "/api/v1/brands", tok, map[string]string{"name": "Custom"}); r.status != 201 {
			t.Fatalf("POST brand: %d %s", r.status, r.body)
		} else {
			r.decode(t, &b)
		}
		r := e.do("PUT", "/api/v1/domains/"+d.ID, tok, map[string]string{"brandId": b.ID})
		var got domainResp
		r.decode(t, &got)
		if r.status != 200 || got.BrandID != b.ID {
			t.Fatalf("PUT brand: %d %s, want 200 with brandId %s", r.status, r.body, b.ID)
		}
		if r := e.do("DELETE", "/api/v1/domains/"+d.ID, tok, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE = %d, want 204", r.status)
		}
		e.do("GET", "/api/v1/domains/"+d.ID, tok, nil).wantError(t, 404, "E0000163")
	})
}

func TestErrorCodes(t *testing.T) {
	e := newEnv(t, envOptions{domainLimit: 2})
	orgA, tokA := e.newOrg("A")
	_, tokB := e.newOrg("B")
	d := e.createDomain(tokA, "login.acme.test")

	tests := []struct {
		name         string
		method, path string
		token        string
		body         any
		status       int
		code         string
		cause        string
	}{
		{"fail/no-token", "GET", "/api/v1/domains", "", nil, 401, "E0000011", ""},
		{"fail/bad-token", "GET", "/api/v1/domains", "hm_nope", nil, 401, "E0000011", ""},
		{"fail/org-token-creates-org", "POST", "/api/v1/orgs", "B", map[string]string{"name": "x"}, 403, "E0000006", "operator"},
		{"fail/unknown-route", "GET", "/api/v1/nothing", "A", nil, 404, "E0000007", ""},
		{"fail/unknown-domain", "GET", "/api/v1/domains/domAAAAAAAAAAAAAAAAA", "A", nil, 404, "E0000163", ""},
		{"fail/bad-domain-id", "GET", "/api/v1/domains/..%2f", "A", nil, 404, "E0000163", ""},
		{"fail/other-orgs-domain", "GET", "/api/v1/domains/" + d.ID, "B", nil, 404, "E0000163", ""},
		{"fail/other-orgs-verify", "POST", "/api/v1/domains/" + d.ID + "/verify", "B", nil, 404, "E0000163", ""},
		{"fail/other-orgs-delete", "DELETE", "/api/v1/domains/" + d.ID, "B", nil, 404, "E0000163", ""},
		{"fail/duplicate", "POST", "/api/v1/domains", "A", map[string]string{"domain": "LOGIN.acme.test.", "certificateSourceType": "MANUAL"}, 403, "E0000161", ""},
		{"fail/org-unverified-domain", "POST", "/api/v1/orgs", "op", map[string]string{"name": "C", "customDomain": "login.acme.test"}, 403, "E0000165", ""},
		{"fail/malformed-json", "POST", "/api/v1/domains", "A", `{"domain": "x.acme.test",`, 400, "E0000001", "truncated"},
		{"fail/syntax", "POST", "/api/v1/domains", "A", `{"domain" "x"}`, 400, "E0000001", "malformed JSON"},
		{"fail/unknown-field", "POST", "/api/v1/domains", "A", `{"domain":"x.acme.test","certificateSourceType":"MANUAL","color":"red"}`, 400, "E0000001", `unknown field "color"`},
		{"fail/trailing-data", "POST", "/api/v1/domains", "A", `{"domain":"x.acme.test","certificateSourceType":"MANUAL"} {}`, 400, "E0000001", "nothing after"},
		{"fail/wrong-type", "POST", "/api/v1/domains", "A", `{"domain":42,"certificateSourceType":"MANUAL"}`, 400, "E0000001", "domain"},
		{"fail/empty-body", "POST", "/api/v1/domains", "A", ``, 400, "E0000001", "empty"},
		{"fail/huge-body", "POST", "/api/v1/domains", "A", `{"domain":"` + strings.Repeat("a", 2<<20) + `"}`, 400, "E0000001", "larger than"},
		{"fail/bad-source", "POST", "/api/v1/domains", "A", map[string]string{"domain": "y.acme.test", "certificateSourceType": "SELF"}, 400, "E0000001", "certificateSourceType"},
		{"fail/missing-fields", "POST", "/api/v1/domains", "A", map[string]string{}, 400, "E0000001", "domain: required"},
		{"fail/wildcard-inside", "POST", "/api/v1/domains", "A", map[string]string{"domain": "login.*.acme.test", "certificateSourceType": "MANUAL"}, 400, "E0000001", "wildcard"},
		{"fail/public-suffix", "POST", "/api/v1/domains", "A", map[string]string{"domain": "co.uk", "certificateSourceType": "MANUAL"}, 400, "E0000001", "public suffix"},
		{"fail/ip", "POST", "/api/v1/domains", "A", map[string]string{"domain": "192.0.2.7", "certificateSourceType": "MANUAL"}, 400, "E0000001", "IP address"},
		{"fail/bad-brand", "PUT", "/api/v1/domains/" + d.ID, "A", map[string]string{"brandId": "<script>"}, 400, "E0000001", "brandId"},
		{"fail/bad-limit", "GET", "/api/v1/logs?limit=1000000", "A", nil, 400, "E0000001", "limit"},
		{"fail/bad-since", "GET", "/api/v1/logs?since=yesterday", "A", nil, 400, "E0000001", "since"},
		{"fail/bad-filter", "GET", "/api/v1/logs?filter=" + url.QueryEscape(`eventType eq`), "A", nil, 400, "E0000001", "filter"},
		{"fail/bad-after", "GET", "/api/v1/logs?after=%21%21", "A", nil, 400, "E0000001", "after"},
		{"fail/bad-domain-limit", "GET", "/api/v1/domains?limit=0", "A", nil, 400, "E0000001", "limit"},
		{"fail/bad-upstream", "POST", "/api/v1/orgs", "op", map[string]string{"name": "C", "upstream": "ftp://x"}, 400, "E0000001", "upstream"},
		{"fail/method", "PATCH", "/api/v1/domains/" + d.ID, "A", nil, 405, "E0000022", ""},
	}
	tokens := map[string]string{"A": tokA, "B": tokB, "op": e.operator}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := tokens[tc.token]
			if tok == "" {
				tok = tc.token
			}
			got := e.do(tc.method, tc.path, tok, tc.body).wantError(t, tc.status, tc.code)
			if !strings.Contains(got.causes(), tc.cause) {
				t.Fatalf("causes = %q, want them to mention %q", got.causes(), tc.cause)
			}
		})
	}

	t.Run("fail/content-type", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/domains", strings.NewReader(`domain=x`))
		req.Header.Set("Authorization", "SSWS "+tokA)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("status = %d, want 415", resp.StatusCode)
		}
	})

	t.Run("fail/limit", func(t *testing.T) {
		e.createDomain(tokA, "two.acme.test")
		e.do("POST", "/api/v1/domains", tokA, map[string]string{"domain": "three.acme.test", "certificateSourceType": "MANUAL"}).
			wantError(t, 403, "E0000162")
	})

	t.Run("fail/in-use-by-another-org", func(t *testing.T) {
		e.publish(d)
		var got domainResp
		e.do("POST", "/api/v1/domains/"+d.ID+"/verify", tokA, nil).decode(t, &got)
		if got.ValidationStatus != "VERIFIED" {
			t.Fatalf("status %s %v, want VERIFIED", got.ValidationStatus, got.findingIDs())
		}
		e.do("POST", "/api/v1/domains", tokB, map[string]string{"domain": "login.acme.test", "certificateSourceType": "MANUAL"}).
			wantError(t, 400, "E0000120")
		e.do("POST", "/api/v1/orgs", e.operator, map[string]string{"name": "C", "customDomain": "login.acme.test"}).
			wantError(t, 400, "E0000120")
	})

	t.Run("ok/org-with-verified-domain", func(t *testing.T) {
		od := e.createDomain(e.operator, "sso.acme.test")
		e.publish(od)
		e.do("POST", "/api/v1/domains/"+od.ID+"/verify", e.operator, nil)
		r := e.do("POST", "/api/v1/orgs", e.operator, map[string]string{"name": "D", "customDomain": "sso.acme.test", "upstream": "http://127.0.0.1:9"})
		if r.status != 201 {
			t.Fatalf("create org with verified domain: %d %s", r.status, r.body)
		}
	})

	t.Run("ok/nothing-changed-by-bad-input", func(t *testing.T) {
		var list struct{ Domains []domainResp }
		e.do("GET", "/api/v1/domains", tokA, nil).decode(t, &list)
		var names []string
		for _, x := range list.Domains {
			names = append(names, x.Domain)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"login.acme.test", "two.acme.test"}) {
			t.Fatalf("org A's domains = %v, want login.acme.test two.acme.test", names)
		}
		var got domainResp
		e.do("GET", "/api/v1/domains/"+d.ID, tokA, nil).decode(t, &got)
		if got.BrandID != d.BrandID {
			t.Fatalf("brand = %s, want unchanged %s", got.BrandID, d.BrandID)
		}
	})

	t.Run("fail/revoked-token", func(t *testing.T) {
		r := e.do("POST", "/api/v1/orgs/"+orgA+"/tokens", e.operator, map[string]string{"name": "temp"})
		var tok struct{ ID, Token string }
		r.decode(t, &tok)
		if r := e.do("GET", "/api/v1/domains", tok.Token, nil); r.status != 200 {
			t.Fatalf("new token: %d", r.status)
		}
		if r := e.do("DELETE", "/api/v1/orgs/"+orgA+"/tokens/"+tok.ID, e.operator, nil); r.status != 204 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		e.do("GET", "/api/v1/domains", tok.Token, nil).wantError(t, 401, "E0000011")
		// The list never shows secrets.
		lr := e.do("GET", "/api/v1/orgs/"+orgA+"/tokens", e.operator, nil)
		if strings.Contains(string(lr.body), tok.Token) || strings.Contains(string(lr.body), tokA) {
			t.Fatalf("token list leaks a secret: %s", lr.body)
		}
	})
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, envOptions{rateLimit: 3})
	for i := range 3 {
		r := e.do("GET", "/api/v1/domains", e.operator, nil)
		if r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
		if got := r.header.Get("X-Rate-Limit-Remaining"); got != string(rune('2'-i)) {
			t.Fatalf("X-Rate-Limit-Remaining = %q on request %d, want %d", got, i, 2-i)
		}
	}
	r := e.do("GET", "/api/v1/domains", e.operator, nil)
	r.wantError(t, 429, "E0000047")
	if r.header.Get("X-Rate-Limit-Limit") != "3" || r.header.Get("X-Rate-Limit-Reset") == "" {
		t.Fatalf("rate limit headers = %v", r.header)
	}
}

func TestOrgIsolation(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, tokA := e.newOrg("A")
	_, tokB := e.newOrg("B")
	da := e.createDomain(tokA, "a.acme.test")
	e.createDomain(tokB, "b.acme.test")

	var list struct{ Domains []domainResp }
	e.do("GET", "/api/v1/domains", tokB, nil).decode(t, &list)
	if len(list.Domains) != 1 || list.Domains[0].Domain != "b.acme.test" {
		t.Fatalf("org B sees %+v, want only b.acme.test", list.Domains)
	}
	r := e.do("GET", "/api/v1/logs?filter="+url.QueryEscape(`target.id eq "`+da.ID+`"`), tokB, nil)
	if r.status != 200 || strings.Contains(string(r.body), "a.acme.test") {
		t.Fatalf("org B's log shows org A's events: %d %s", r.status, r.body)
	}
	// The operator sees everything.
	e.do("GET", "/api/v1/domains", e.operator, nil).decode(t, &list)
	if len(list.Domains) != 2 {
		t.Fatalf("operator sees %d domains, want 2", len(list.Domains))
	}
}

func TestLogPaging(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5"} {
		e.createDomain(e.operator, n+".acme.test")
	}
	filter := url.QueryEscape(`eventType eq "system.custom_url_domain.initiate"`)
	next := "/api/v1/logs?limit=2&since=2000-01-01T00:00:00Z&filter=" + filter
	var names []string
	for range 10 {
		r := e.do("GET", next, e.operator, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", next, r.status, r.body)
		}
		var evs []struct {
			Target []struct{ AlternateID string } `json:"target"`
		}
		r.decode(t, &evs)
		for _, ev := range evs {
			names = append(names, ev.Target[0].AlternateID)
		}
		links := r.header.Values("Link")
		if len(links) < 1 || !strings.Contains(links[0], `rel="self"`) {
			t.Fatalf("Link lines = %q, want self first, each on its own line", links)
		}
		next = ""
		for _, l := range links {
			if strings.HasSuffix(l, `rel="next"`) {
				u, _ := url.Parse(strings.TrimSuffix(strings.TrimPrefix(strings.Split(l, ";")[0], "<"), ">"))
				next = u.RequestURI()
			}
		}
		if len(evs) == 0 {
			break
		}
	}
	if !slices.Equal(names, []string{"p1.acme.test", "p2.acme.test", "p3.acme.test", "p4.acme.test", "p5.acme.test"}) {
		t.Fatalf("paged events = %v, want p1..p5 in order", names)
	}
}

func TestBackgroundVerification(t *testing.T) {
	t.Run("ok/verified-without-a-call", func(t *testing.T) {
		e := newEnv(t, envOptions{background: true, window: time.Minute})
		d := e.createDomain(e.operator, "bg.acme.test")
		e.publish(d)
		waitStatus(t, e, d.ID, "VERIFIED")
	})
	t.Run("ok/resumes-after-restart", func(t *testing.T) {
		// The first process creates the domain and stops before any
		// background check; the schedule is in the store, so a new
		// process picks it up without anyone pressing verify.
		e := newEnv(t, envOptions{window: time.Minute})
		d := e.createDomain(e.operator, "resume.acme.test")
		e.publish(d)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.restart().Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		waitStatus(t, e, d.ID, "VERIFIED")
	})
	t.Run("fail/window-closes", func(t *testing.T) {
		e := newEnv(t, envOptions{background: true, window: 600 * time.Millisecond})
		d := e.createDomain(e.operator, "late.acme.test")
		got := waitStatus(t, e, d.ID, "FAILED_TO_VERIFY")
		if !slices.Contains(got.findingIDs(), "dns.record_missing") {
			t.Fatalf("diagnosis = %v, want the last findings (dns.record_missing)", got.findingIDs())
		}
		// The event is appended right after the status is stored (not in
		// the same transaction): poll for it briefly.
		var evs []struct {
			Outcome      struct{ Reason string }
			DebugContext struct {
				DebugData map[string]json.RawMessage `json:"debugData"`
			} `json:"debugContext"`
		}
		var r response
		for deadline := time.Now().Add(5 * time.Second); len(evs) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			r = e.do("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.custom_url_domain.verify" and outcome.result eq "FAILURE"`), e.operator, nil)
			r.decode(t, &evs)
		}
		if len(evs) != 1 || evs[0].Outcome.Reason != "DNS verification timeout" || evs[0].DebugContext.DebugData["findings"] == nil {
			t.Fatalf("timeout events = %s, want one FAILURE with reason \"DNS verification timeout\" and the findings", r.body)
		}
		// Verify reopens the window; with the records published it succeeds.
		e.publish(d)
		var v domainResp
		e.do("POST", "/api/v1/domains/"+d.ID+"/verify", e.operator, nil).decode(t, &v)
		if v.ValidationStatus != "VERIFIED" {
			t.Fatalf("verify after timeout = %s %v, want VERIFIED", v.ValidationStatus, v.findingIDs())
		}
	})
}

func waitStatus(t *testing.T, e *env, id, want string) domainResp {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got domainResp
		e.do("GET", "/api/v1/domains/"+id, e.operator, nil).decode(t, &got)
		if got.ValidationStatus == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("status = %s (%v) after 15s, want %s", got.ValidationStatus, got.findingIDs(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOperations(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := e.do("GET", p, "", nil); r.status != 200 {
			t.Fatalf("GET %s = %d", p, r.status)
		}
	}
	e.do("GET", "/api/v1/domains", e.operator, nil)
	r := e.do("GET", "/metrics", "", nil)
	if !strings.Contains(string(r.body), `hallmark_http_requests_total{code="200",route="GET /api/v1/domains"}`) {
		t.Fatalf("metrics lack the request counter:\n%s", r.body)
	}
}

func TestFailedAuthenticationThrottledPerAddress(t *testing.T) {
	e := newEnv(t, envOptions{authFailures: 5})
	guesser, victim := e.clientAt("127.0.0.2"), e.clientAt("127.0.0.3")
	for i := range 5 {
		r := e.doFrom(guesser, "GET", "/api/v1/domains", fmt.Sprintf("hm_guess%d", i), nil)
		r.wantError(t, http.StatusUnauthorized, "E0000011")
		if got, want := r.header.Get("X-Rate-Limit-Remaining"), strconv.Itoa(4-i); got != want {
			t.Fatalf("guess %d: X-Rate-Limit-Remaining = %q, want %s", i, got, want)
		}
	}
	// Beyond the limit the address is refused before its token is looked
	// at: a right guess is not told apart from a wrong one.
	for _, tok := range []string{"hm_guess-next", e.operator, ""} {
		r := e.doFrom(guesser, "GET", "/api/v1/domains", tok, nil)
		r.wantError(t, http.StatusTooManyRequests, "E0000047")
		if r.header.Get("X-Rate-Limit-Limit") != "5" || r.header.Get("X-Rate-Limit-Remaining") != "0" ||
			r.header.Get("X-Rate-Limit-Reset") == "" || r.header.Get("Retry-After") == "" {
			t.Fatalf("429 headers = %v, want X-Rate-Limit-Limit 5, Remaining 0, Reset and Retry-After", r.header)
		}
	}
	// Another address keeps using its valid token, even the operator's
	// that the guesser tried, and may still fail on its own account.
	for range 10 {
		if r := e.doFrom(victim, "GET", "/api/v1/domains", e.operator, nil); r.status != http.StatusOK {
			t.Fatalf("valid token from another address: %d %s", r.status, r.body)
		}
	}
	e.doFrom(victim, "GET", "/api/v1/domains", "hm_typo", nil).wantError(t, http.StatusUnauthorized, "E0000011")
}

// TestEveryAPIAnswerIsJSON sends paths that a ServeMux would clean with a
// redirect, and wrong methods on the operational endpoints: each answer
// is Okta's error object, never a redirect.
func TestEveryAPIAnswerIsJSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDomain(e.operator, "login.acme.test")
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"DELETE", "/api/v1/domains/" + d.ID + "/..", 400, "E0000001"},
		{"GET", "/api/v1/domains/..", 400, "E0000001"},
		{"DELETE", "//api/v1/domains/" + d.ID, 400, "E0000001"},
		{"GET", "/api/v1//domains", 400, "E0000001"},
		{"GET", "/api/v1/./domains", 400, "E0000001"},
		// Escaped, these are one segment each: an id that is not found.
		{"GET", "/api/v1/domains/%2e%2e", 404, "E0000163"},
		{"DELETE", "/api/v1/domains/x%2F..%2F" + d.ID, 404, "E0000163"},
		{"GET", "/api/../api/v1/domains", 400, "E0000001"},
		{"GET", "/api/../domains", 400, "E0000001"},
		{"GET", "/api", 404, "E0000007"},
		{"GET", "/api/", 404, "E0000007"},
		{"GET", "/api/v1/domains/", 404, "E0000007"},
		{"GET", "/api/v2", 404, "E0000007"},
		{"POST", "/healthz", 405, "E0000022"},
		{"DELETE", "/readyz", 405, "E0000022"},
		{"PUT", "/metrics", 405, "E0000022"},
		{"GET", "//healthz", 400, "E0000001"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, e.operator, nil)
			if loc := r.header.Get("Location"); loc != "" {
				t.Fatalf("answered %d with Location %q, want no redirect", r.status, loc)
			}
			r.wantError(t, tc.status, tc.code)
			if tc.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want \"GET, HEAD\"", r.header.Get("Allow"))
			}
		})
	}
	// Nothing was deleted by the unclean DELETEs.
	if r := e.do("GET", "/api/v1/domains/"+d.ID, e.operator, nil); r.status != 200 {
		t.Errorf("domain after unclean DELETEs: %d %s", r.status, r.body)
	}
	// The console still gets its own paths.
	if r := e.do("GET", "/domains", "", nil); r.status != 200 || string(r.body) != "console page" {
		t.Errorf("GET /domains beside the API = %d %q, want the console's page", r.status, r.body)
	}
}
