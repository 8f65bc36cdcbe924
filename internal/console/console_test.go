package console

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/servicetest"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

func TestSignInBadTokenRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ name, token string }{
		{"fail/unknown", "hm_not-a-real-token-at-all"},
		{"fail/empty", ""},
		{"fail/huge", strings.Repeat("x", 4000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.get("/signin")
			p := b.post("/signin", url.Values{"token": {tc.token}})
			wantStatus(t, p, http.StatusUnauthorized)
			wantContains(t, p, `role="alert"`)
			for _, ck := range b.c.Jar.Cookies(mustURL(t, e.srv.URL+"/")) {
				if ck.Name == sessionCookie {
					t.Errorf("a session cookie was set after a refused sign-in")
				}
			}
			p = b.get("/domains")
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin") {
				t.Errorf("GET /domains after refused sign-in: status %d Location %q, want 303 to /signin", p.status, p.header.Get("Location"))
			}
		})
	}
	if n := e.console.sessions.len(t.Context()); n != 0 {
		t.Errorf("sessions = %d after refused sign-ins, want 0", n)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tls        bool
		wantSecure bool
	}{{"http", false, false}, {"tls", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{tls: tc.tls})
			b := e.browser()
			b.get("/signin")
			p := b.post("/signin", url.Values{"token": {e.operator}})
			wantStatus(t, p, http.StatusSeeOther)
			var ck *http.Cookie
			for _, c := range (&http.Response{Header: p.header}).Cookies() {
				if c.Name == sessionCookie {
					ck = c
				}
			}
			if ck == nil {
				t.Fatalf("no %s cookie in %q", sessionCookie, p.header.Values("Set-Cookie"))
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != tc.wantSecure {
				t.Errorf("cookie = %q: want HttpOnly, SameSite=Strict, Path=/, Secure=%v", ck.String(), tc.wantSecure)
			}
			if len(ck.Value) < 40 || strings.Contains(ck.Value, e.operator) {
				t.Errorf("session id %q: want a long random id, not the token", ck.Value)
			}
			// Sign-out ends the session on the server, not only in the browser.
			b.get("/domains")
			p = b.post("/signout", nil)
			wantStatus(t, p, http.StatusSeeOther)
			if s, err := e.console.sessions.find(t.Context(), ck.Value, false); s != nil || err != nil {
				t.Errorf("session still live after sign-out (%v)", err)
			}
			b2 := e.browser()
			b2.c.Jar.SetCookies(mustURL(t, e.srv.URL+"/"), []*http.Cookie{{Name: sessionCookie, Value: ck.Value}})
			if p := b2.get("/domains"); p.status != http.StatusSeeOther {
				t.Errorf("old session id after sign-out: status %d, want 303 to sign-in", p.status)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn(e.operator)
	d := e.createDomain("", "login.acme.test")
	for _, path := range []string{"/signin", "/domains", "/domains/" + d.ID, "/logs", "/orgs", "/static/console.css", "/static/console.js", "/no/such/page"} {
		t.Run(path, func(t *testing.T) {
			p := b.get(path)
			if p.status >= 500 {
				t.Fatalf("status %d", p.status)
			}
			want := map[string]string{
				"Content-Security-Policy": csp,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "same-origin",
			}
			for k, v := range want {
				if got := p.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(p.header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("CSP lacks default-src 'self'")
			}
			if strings.HasPrefix(path, "/static/") {
				return
			}
			if cc := p.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			// No inline script or style anywhere: the CSP would block it.
			for _, bad := range []string{"<script>", "onclick=", "onload=", "style=", "<style"} {
				if strings.Contains(p.body, bad) {
					t.Errorf("page contains %q, which the CSP blocks", bad)
				}
			}
		})
	}
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	orgID, orgToken := e.newOrg("Acme")
	d := e.createDomain(orgID, "login.acme.test")
	toks, _ := e.tenants.ListTokens(t.Context(), orgID)

	b := e.browser()
	b.signIn(e.operator)
	b.get("/domains")
	other := e.browser()
	other.signIn(orgToken)
	other.get("/domains")

	for _, tc := range []struct {
		name string
		path string
		form url.Values
	}{
		{"create-domain", "/domains", url.Values{"domain": {"new.acme.test"}, "source": {"MANAGED"}}},
		{"verify", "/domains/" + d.ID + "/verify", url.Values{}},
		{"delete", "/domains/" + d.ID + "/delete", url.Values{"confirm": {d.Name}}},
		{"create-org", "/orgs", url.Values{"name": {"Evil"}}},
		{"create-token", "/orgs/" + orgID + "/tokens", url.Values{"name": {"evil"}}},
		{"revoke-token", "/orgs/" + orgID + "/tokens/" + toks[0].ID + "/revoke", url.Values{}},
		{"signout", "/signout", url.Values{}},
	} {
		for _, csrf := range []struct{ name, value string }{
			{"missing", ""},
			{"wrong", "bm90LXRoZS10b2tlbg"},
			{"other-session", other.csrf},
			{"truncated", b.csrf[:len(b.csrf)-1]},
		} {
			t.Run(tc.name+"/"+csrf.name, func(t *testing.T) {
				f := url.Values{}
				for k, v := range tc.form {
					f[k] = v
				}
				if csrf.value != "" {
					f.Set("csrf", csrf.value)
				} else {
					f.Set("csrf", "")
				}
				p := b.do("POST", tc.path, f)
				wantStatus(t, p, http.StatusForbidden)
				wantContains(t, p, "nothing was changed")
			})
		}
	}

	// Nothing changed.
	ds, _ := e.domains.List(t.Context(), customdomain.Actor{Operator: true}, "", 10)
	if len(ds) != 1 {
		t.Errorf("domains = %d, want 1", len(ds))
	}
	got, err := e.domains.Get(t.Context(), customdomain.Actor{Operator: true}, d.ID)
	if err != nil || !got.LastChecked.IsZero() {
		t.Errorf("domain after refused posts: %v, LastChecked %v; want it unchecked", err, got.LastChecked)
	}
	orgs, _ := e.tenants.ListOrgs(t.Context())
	if len(orgs) != 1 {
		t.Errorf("orgs = %d, want 1", len(orgs))
	}
	toks, _ = e.tenants.ListTokens(t.Context(), orgID)
	if len(toks) != 1 || !toks[0].Revoked.IsZero() {
		t.Errorf("tokens after refused posts: %+v, want the one unrevoked", toks)
	}
	if p := b.get("/domains"); p.status != http.StatusOK {
		t.Errorf("session ended by a refused sign-out: status %d", p.status)
	}

	// The sign-in form has its own double-submit token.
	s := e.browser()
	p := s.do("POST", "/signin", url.Values{"token": {e.operator}, "csrf": {"forged"}})
	wantStatus(t, p, http.StatusForbidden)
	s.get("/signin")
	p = s.do("POST", "/signin", url.Values{"token": {e.operator}, "csrf": {"forged"}})
	wantStatus(t, p, http.StatusForbidden)
}

func TestHostileInputEscaped(t *testing.T) {
	e := newEnv(t, envOptions{})
	const script = `<script>alert(1)</script>`
	orgID, orgToken := e.newOrg(`<img src=x onerror=alert(2)>"Acme"`)
	d := e.createDomain(orgID, "login.acme.test")
	e.publish(d, `"`+script+`"`)
	e.world.Set(`login.acme.test.acme.test. 300 IN TXT "` + script + `"`)

	b := e.browser()
	b.signIn(orgToken)
	p := b.get("/domains/" + d.ID)
	wantStatus(t, p, http.StatusOK)
	if strings.Contains(p.body, script) || strings.Contains(p.body, "<img src=x") {
		t.Fatalf("hostile input came back unescaped:\n%s", p.body)
	}
	// The value is shown, escaped, in the answers and in the finding.
	wantContains(t, p, "&lt;script&gt;alert(1)&lt;/script&gt;", "dns.value_mismatch", "&lt;img src=x onerror=alert(2)&gt;")

	p = b.post("/domains/"+d.ID+"/verify", nil)
	p = b.follow(p)
	if strings.Contains(p.body, script) {
		t.Fatalf("hostile TXT value unescaped after verify")
	}
	wantContains(t, p, "&lt;script&gt;alert(1)&lt;/script&gt;")

	// The system log shows the finding in debugData, escaped too.
	p = b.get("/logs")
	wantStatus(t, p, http.StatusOK)
	if strings.Contains(p.body, script) {
		t.Fatalf("hostile TXT value unescaped in the system log")
	}

	op := e.browser()
	op.signIn(e.operator)
	for _, path := range []string{"/orgs", "/orgs/" + orgID, "/domains"} {
		p := op.get(path)
		wantStatus(t, p, http.StatusOK)
		if strings.Contains(p.body, "<img src=x") {
			t.Errorf("%s: hostile org name unescaped", path)
		}
	}
	wantContains(t, op.get("/orgs"), "&lt;img src=x onerror=alert(2)&gt;&#34;Acme&#34;")
}

func TestOrgIsolationByURL(t *testing.T) {
	e := newEnv(t, envOptions{})
	aID, aToken := e.newOrg("Acme")
	bID, _ := e.newOrg("Bravo")
	da := e.createDomain(aID, "login.acme.test")
	db := e.createDomain(bID, "sso.acme.test")

	a := e.browser()
	a.signIn(aToken)
	p := a.get("/domains")
	wantContains(t, p, da.Name)
	if strings.Contains(p.body, db.Name) {
		t.Errorf("org A's list shows org B's domain")
	}
	if p := a.get("/domains/" + db.ID); p.status != http.StatusNotFound {
		t.Errorf("GET other org's domain: status %d, want 404", p.status)
	} else if strings.Contains(p.body, db.Name) {
		t.Errorf("404 page names the other org's domain")
	}
	a.get("/domains/" + da.ID)
	for _, path := range []string{"/domains/" + db.ID + "/verify", "/domains/" + db.ID + "/certificate", "/domains/" + db.ID + "/delete"} {
		p := a.post(path, url.Values{"confirm": {db.Name}})
		if p.status != http.StatusNotFound {
			t.Errorf("POST %s: status %d, want 404", path, p.status)
		}
	}
	if got, err := e.domains.Get(t.Context(), customdomain.Actor{Operator: true}, db.ID); err != nil || !got.LastChecked.IsZero() {
		t.Errorf("org B's domain touched by org A: %v %v", err, got.LastChecked)
	}
	for _, path := range []string{"/orgs", "/orgs/" + bID, "/orgs/" + aID} {
		if p := a.get(path); p.status != http.StatusNotFound {
			t.Errorf("org admin GET %s: status %d, want 404", path, p.status)
		}
	}
}

func TestAddDomain(t *testing.T) {
	e := newEnv(t, envOptions{})
	orgID, token := e.newOrg("Acme")
	e.createDomain(orgID, "taken.acme.test")
	b := e.browser()
	b.signIn(token)
	wantContains(t, b.get("/domains/new"), `<label for="domain">Domain name</label>`)

	for _, tc := range []struct {
		name   string
		domain string
		source string
		status int
		want   string
	}{
		{"fail/empty-label", "login..acme.test", "MANAGED", 400, "empty label"},
		{"fail/url", "https://login.acme.test/x", "MANAGED", 400, "without scheme"},
		{"fail/public-suffix", "co.uk", "MANAGED", 400, "public suffix"},
		{"fail/no-source", "new.acme.test", "", 400, "Choose how the certificate"},
		{"fail/duplicate", "TAKEN.acme.test.", "MANAGED", 409, "already has a domain with this name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/domains", url.Values{"domain": {tc.domain}, "source": {tc.source}})
			wantStatus(t, p, tc.status)
			wantContains(t, p, tc.want, `role="alert"`, `aria-invalid="true"`,
				`<a href="/domains/new" aria-current="page">Add a domain</a>`)
			if strings.Contains(p.body, `<a href="/domains" aria-current="page">`) {
				t.Errorf("a refused Add domain marks Domains as the current page")
			}
		})
	}

	p := b.follow(b.post("/domains", url.Values{"domain": {"Login.Acme.Test"}, "source": {"MANAGED"}}))
	wantStatus(t, p, http.StatusOK)
	ds, _ := e.domains.List(t.Context(), customdomain.Actor{OrgID: orgID}, "", 10)
	var d customdomain.Domain
	for _, x := range ds {
		if x.Name == "login.acme.test" {
			d = x
		}
	}
	if d.ID == "" {
		t.Fatalf("domain not created: %+v", ds)
	}
	wantContains(t, p,
		"login.acme.test was added",
		`<h1 class="name">login.acme.test</h1>`,
		`<p class="status-words" id="status">Waiting for DNS</p>`,
		"<th scope=\"col\">Type</th><th scope=\"col\">Name</th><th scope=\"col\">Value</th>",
		`data-copy="TXT"`,
		`data-copy="_hallmark-challenge.login.acme.test"`,
		`data-copy="_hallmark-challenge.login"`,
		`data-copy="`+d.Token+`"`,
		`data-copy="login"`,
		`data-copy="`+cnameTarget+`"`,
		"enter only the short name",
		"_hallmark-challenge.login.acme.test.acme.test",
		`id="mark-TXT"><div>not published yet</div>`,
		`id="mark-CNAME"><div>not published yet</div>`,
		"Checking stops",
	)
	// Before the first check, records not there yet are the next step,
	// not errors.
	if strings.Contains(p.body, `data-finding="dns.record_missing"`) {
		t.Errorf("a new domain's page reports its unpublished records as problems")
	}
	wantNoEnum(t, p)
}

func TestRelativeLabel(t *testing.T) {
	for _, tc := range []struct{ name, zone, want string }{
		{"_hallmark-challenge.login.acme.com", "acme.com", "_hallmark-challenge.login"},
		{"login.acme.com.", "acme.com", "login"},
		{"acme.com", "acme.com", "@"},
		{"login.acme.com", "other.com", "login.acme.com"},
	} {
		if got := relative(tc.name, tc.zone); got != tc.want {
			t.Errorf("relative(%q, %q) = %q, want %q", tc.name, tc.zone, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"login.acme.co.uk", "acme.co.uk"},
		{"a.b.example.com", "example.com"},
	} {
		if got, fromDNS := zoneOf(tc.name, nil); got != tc.want || fromDNS {
			t.Errorf("zoneOf(%q) = %q, %v; want %q from the public suffix list", tc.name, got, fromDNS, tc.want)
		}
	}
}

func TestVerifyExplainsQuotedValueThenVerifies(t *testing.T) {
	e := newEnv(t, envOptions{})
	orgID, token := e.newOrg("Acme")
	d := e.createDomain(orgID, "login.acme.test")
	b := e.browser()
	b.signIn(token)

	e.publish(d, `"\"`+d.Token+`\""`)
	b.get("/domains/" + d.ID)
	p := b.follow(b.post("/domains/"+d.ID+"/verify", nil))
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p,
		"Not verified yet",
		`data-finding="dns.value_quoted"`,
		"the value carries literal quotes or spaces",
		"with no quotes or spaces around it",
		`id="status">Action needed: the TXT value has extra quotes<`,
		`id="mark-TXT"><div><span class="sign">✗</span> value has extra quotes</div>`,
		`id="mark-CNAME"><div><span class="sign">✓</span> published</div>`,
		`data-copy="`+d.Token+`" data-label="Copy the value `+d.Token+`"`,
		"Checked by “Verify now”",
		"✗ wrong value",
		"ns1.acme.test",
		"300 s (5m0s)",
	)

	e.world.Remove("_hallmark-challenge.login", "TXT")
	e.publish(d, `"`+d.Token+`"`)
	p = b.follow(b.post("/domains/"+d.ID+"/verify", nil))
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "Verified: ownership of login.acme.test is proven.", `id="status">Verified<`, "Every record checks out", "✓ correct",
		`id="mark-TXT"><div><span class="sign">✓</span> published</div>`, `<h2 id="records-h">DNS records</h2>`)
	wantNoEnum(t, p)
	if strings.Contains(p.body, "dns.value_quoted") {
		t.Errorf("page still shows dns.value_quoted after the fix")
	}
	got, _ := e.domains.Get(t.Context(), customdomain.Actor{OrgID: orgID}, d.ID)
	if got.Status != customdomain.Verified {
		t.Errorf("status = %s, want VERIFIED", got.Status)
	}
	p = b.get("/domains")
	wantContains(t, p, `<span class="badge st-ok">Verified</span>`)
	wantNoEnum(t, p)
}

func TestCertificate(t *testing.T) {
	e := newEnv(t, envOptions{})
	orgID, token := e.newOrg("Acme")
	d := e.createDomain(orgID, "login.acme.test")
	b := e.browser()
	b.signIn(token)
	p := b.get("/domains/" + d.ID)
	wantContains(t, p, `id="no-cert"`, "No certificate yet", "Managed by Hallmark: obtained and renewed automatically", `<label for="key-pem">`,
		"<summary>Use my own certificate</summary>", "Uploading ends automatic renewal.")
	if strings.Contains(p.body, `<details id="own-cert" open>`) {
		t.Errorf("the upload form of a managed domain is open before it is asked for")
	}

	bad := selfSigned(t, "login.acme.test")
	p = b.post("/domains/"+d.ID+"/certificate", url.Values{"certificate": {bad.cert}, "key": {bad.key}})
	wantStatus(t, p, http.StatusForbidden)
	wantContains(t, p, "Ownership of this domain is not proven yet")

	e.publish(d, `"`+d.Token+`"`)
	if _, _, err := e.domains.Verify(t.Context(), customdomain.Actor{OrgID: orgID}, d.ID); err != nil {
		t.Fatal(err)
	}
	p = b.post("/domains/"+d.ID+"/certificate", url.Values{"certificate": {bad.cert}, "key": {bad.key}})
	wantStatus(t, p, http.StatusBadRequest)
	wantContains(t, p, "The certificate was refused", "is self-signed; upload a certificate issued by a certificate authority")
	if strings.Contains(p.body, "PRIVATE KEY-----\n") || strings.Contains(p.body, strings.TrimSpace(bad.key)[40:80]) {
		t.Errorf("the private key was sent back in the page")
	}
	wantContains(t, p, "BEGIN CERTIFICATE") // the certificate is kept in the form

	p = b.post("/domains/"+d.ID+"/certificate", url.Values{"certificate": {"not pem"}, "key": {""}})
	wantStatus(t, p, http.StatusBadRequest)
	wantContains(t, p, "certificate is not PEM", "privateKey is empty")

	// A certificate from a CA the upload check trusts is accepted: the
	// domain becomes MANUAL and COMPLETED, and the page describes it.
	iss, err := e.ca.Issue(t.Context(), issuance.Request{Name: d.Name})
	if err != nil {
		t.Fatal(err)
	}
	good := pemOf(t, iss)
	p = b.post("/domains/"+d.ID+"/certificate", url.Values{"certificate": {good.cert}, "chain": {good.chain}, "key": {good.key}})
	p = b.follow(p)
	wantContains(t, p, "was uploaded", `id="cert-details"`, issuance.Fingerprint(iss.Leaf()), "CN=login.acme.test",
		"(manual)", fmtTime(iss.Leaf().NotAfter), "none: an uploaded certificate is not renewed", "Uploaded by you: renew it yourself",
		`id="status">Live over HTTPS<`)
	wantNoEnum(t, p)
	got, _ := e.domains.Get(t.Context(), customdomain.Actor{OrgID: orgID}, d.ID)
	if got.CertSource != customdomain.Manual || got.Status != customdomain.Completed {
		t.Errorf("after upload: %s %s, want MANUAL COMPLETED", got.CertSource, got.Status)
	}
	wantContains(t, b.get("/domains"), fmtTime(iss.Leaf().NotAfter))

	// Without an uploader the form says so.
	e2 := newEnv(t, envOptions{noUploader: true})
	oid2, tok2 := e2.newOrg("Acme")
	d2 := e2.createDomain(oid2, "login.acme.test")
	b2 := e2.browser()
	b2.signIn(tok2)
	p = b2.get("/domains/" + d2.ID)
	wantContains(t, p, `id="upload-unavailable"`)
	if strings.Contains(p.body, `<label for="key-pem">`) {
		t.Errorf("upload form shown without an uploader")
	}
	p = b2.post("/domains/"+d2.ID+"/certificate", url.Values{"certificate": {bad.cert}, "key": {bad.key}})
	wantStatus(t, p, http.StatusServiceUnavailable)
	wantContains(t, p, "not available on this server yet")
}

func TestSystemLog(t *testing.T) {
	e := newEnv(t, envOptions{})
	aID, aToken := e.newOrg("Acme")
	bID, _ := e.newOrg("Bravo")
	e.createDomain(aID, "one.acme.test")
	e.createDomain(aID, "two.acme.test")
	e.createDomain(bID, "bravo.acme.test")

	b := e.browser()
	b.signIn(aToken)
	p := b.get("/logs")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "one.acme.test", "two.acme.test", "Custom domain setup initiated")
	if strings.Contains(p.body, "bravo.acme.test") {
		t.Errorf("org A's log shows org B's event")
	}

	// Newest first, one per page, with a next link to the older one.
	p = b.get("/logs?limit=1")
	wantContains(t, p, "two.acme.test", `rel="next"`)
	if strings.Contains(p.body, "one.acme.test") {
		t.Errorf("first page of one holds the older event")
	}
	next := between(p.body, `<p class="pager"><a href="`, `" rel="next"`)
	next = strings.ReplaceAll(next, "&amp;", "&")
	p = b.get(next)
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "one.acme.test")
	if strings.Contains(p.body, "two.acme.test") {
		t.Errorf("second page repeats the first")
	}

	for _, tc := range []struct{ name, query, want string }{
		{"fail/filter", "filter=" + url.QueryEscape(`eventType zz "x"`), "filter"},
		{"fail/since", "since=yesterday", "is not a date-time"},
		{"fail/limit", "limit=0", "limit"},
		{"fail/after", "after=garbage", "after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/logs?" + tc.query)
			wantStatus(t, p, http.StatusBadRequest)
			wantContains(t, p, `role="alert"`, tc.want)
		})
	}
	p = b.get("/logs?q=two&filter=" + url.QueryEscape(`eventType eq "`+systemlog.DomainInitiate+`"`))
	wantContains(t, p, "two.acme.test")
	if strings.Contains(p.body, "one.acme.test") {
		t.Errorf("keyword q=two matched one.acme.test")
	}
}

// TestSystemLogControls: the controls a person uses become clauses of the
// filter, and-ed with the advanced expression; a bad value marks its field.
func TestSystemLogControls(t *testing.T) {
	e := newEnv(t, envOptions{})
	aID, aToken := e.newOrg("Acme")
	d := e.createDomain(aID, "one.acme.test")
	e.createDomain(aID, "two.acme.test")
	if _, _, err := e.domains.Verify(t.Context(), customdomain.Actor{OrgID: aID}, d.ID); err != nil {
		t.Fatal(err) // fails: nothing is published
	}
	b := e.browser()
	b.signIn(aToken)

	for _, tc := range []struct {
		name          string
		query         string
		want, notWant []string
	}{
		{"ok/type", "type=" + systemlog.DomainVerify, []string{"Custom domain verification failed", `<option value="` + systemlog.DomainVerify + `" selected>Ownership check</option>`}, []string{"Custom domain setup initiated"}},
		{"ok/outcome", "outcome=FAILURE", []string{"Custom domain verification failed", "Failed"}, []string{"Custom domain setup initiated"}},
		{"ok/severity", "severity=INFO", []string{"Custom domain setup initiated", "Information"}, []string{"Custom domain verification failed"}},
		{"ok/range", "range=1h", []string{"Custom domain setup initiated"}, nil},
		{"ok/with-advanced", "type=" + systemlog.DomainInitiate + "&filter=" + url.QueryEscape(`target.id eq "`+d.ID+`"`), []string{"one.acme.test", `<details id="advanced" class="wide" open>`}, []string{"two.acme.test"}},
		{"ok/controls-leave-advanced-closed", "type=" + systemlog.DomainInitiate, []string{`<details id="advanced" class="wide">`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/logs?" + tc.query)
			wantStatus(t, p, http.StatusOK)
			wantContains(t, p, tc.want...)
			for _, s := range tc.notWant {
				if strings.Contains(p.body, s) {
					t.Errorf("page shows %q", s)
				}
			}
			wantNoEnum(t, p)
		})
	}
	for _, tc := range []struct{ name, query, field string }{
		{"fail/type", "type=nonsense", `<select id="type" name="type" aria-invalid="true"`},
		{"fail/range", "range=5y", `<select id="range" name="range" aria-invalid="true"`},
		{"fail/expression", "filter=" + url.QueryEscape(`eventType zz "x"`), `aria-describedby="filter-hint log-error" aria-invalid="true"`},
		{"fail/since", "since=yesterday", `<input id="since" name="since" type="text" value="yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/logs?" + tc.query)
			wantStatus(t, p, http.StatusBadRequest)
			wantContains(t, p, `role="alert" id="log-error"`, tc.field)
		})
	}
	// The error's position is in what was typed, not in the combined
	// expression.
	p := b.get("/logs?type=" + systemlog.DomainVerify + "&filter=" + url.QueryEscape(`eventType zz "x"`))
	wantContains(t, p, "at position 10")
}

func TestFavicon(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	p := b.get("/favicon.ico")
	wantStatus(t, p, http.StatusOK)
	if ct := p.header.Get("Content-Type"); ct != "image/svg+xml" || !strings.Contains(p.body, "<svg") {
		t.Errorf("favicon: %q %.40q", ct, p.body)
	}
	wantContains(t, b.get("/signin"), `<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">`)
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	j := strings.Index(s, b)
	if j < 0 {
		return ""
	}
	return s[:j]
}

func TestOperatorOrgsAndTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.browser()
	op.signIn(e.operator)
	op.get("/orgs")

	p := op.post("/orgs", url.Values{"name": {"  "}})
	wantStatus(t, p, http.StatusBadRequest)
	wantContains(t, p, "give the org a name")

	p = op.follow(op.post("/orgs", url.Values{"name": {"Acme"}}))
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "The organization Acme was created", "No tokens yet")
	orgs, _ := e.tenants.ListOrgs(t.Context())
	if len(orgs) != 1 {
		t.Fatalf("orgs = %d, want 1", len(orgs))
	}
	org := orgs[0]

	p = op.post("/orgs/"+org.ID+"/tokens", url.Values{"name": {""}})
	wantStatus(t, p, http.StatusBadRequest)

	p = op.follow(op.post("/orgs/"+org.ID+"/tokens", url.Values{"name": {"Acme admin"}}))
	secret := between(p.body, `<code class="value wrap" id="token-secret">`, `</code>`)
	if !strings.HasPrefix(secret, "hm_") {
		t.Fatalf("token secret not shown after creation:\n%s", p.body)
	}
	if p := op.get("/orgs/" + org.ID); strings.Contains(p.body, secret) {
		t.Errorf("token secret shown a second time")
	}

	admin := e.browser()
	wantContains(t, admin.signIn(secret), "Acme")
	wantStatus(t, admin.get("/domains"), http.StatusOK)

	toks, _ := e.tenants.ListTokens(t.Context(), org.ID)
	op.get("/orgs/" + org.ID)
	p = op.follow(op.post("/orgs/"+org.ID+"/tokens/"+toks[0].ID+"/revoke", nil))
	wantContains(t, p, "The token was revoked", "revoked ")

	// Revoking the token ends the sessions it opened.
	if p := admin.get("/domains"); p.status != http.StatusSeeOther {
		t.Errorf("session of a revoked token: status %d, want 303 to sign-in", p.status)
	}
	s := e.browser()
	s.get("/signin")
	wantStatus(t, s.post("/signin", url.Values{"token": {secret}}), http.StatusUnauthorized)

	// Every change is in the system log.
	p = op.get("/logs?filter=" + url.QueryEscape(`eventType sw "system."`))
	wantContains(t, p, systemlog.OrgCreate, systemlog.TokenCreate, systemlog.TokenRevoke)

	if p := op.get("/orgs/org_nonexistent"); p.status != http.StatusNotFound {
		t.Errorf("unknown org: status %d, want 404", p.status)
	}

	// An org with a custom domain: refused until the name is proven, then
	// the domain moves to the new org (the same rule as the API's).
	d := e.createDomain("", "sso.acme.test")
	op.get("/orgs")
	p = op.post("/orgs", url.Values{"name": {"Beta"}, "customDomain": {"sso.acme.test"}, "upstream": {"https://beta.internal"}})
	wantStatus(t, p, http.StatusForbidden)
	wantContains(t, p, "is not verified yet", `value="sso.acme.test"`)
	p = op.post("/orgs", url.Values{"name": {"Beta"}, "upstream": {"ftp://beta.internal"}})
	wantStatus(t, p, http.StatusBadRequest)
	wantContains(t, p, "Upstream: give an absolute http:// or https:// URL")
	e.publish(d, `"`+d.Token+`"`)
	if _, _, err := e.domains.Verify(t.Context(), customdomain.Actor{Operator: true, ID: "test"}, d.ID); err != nil {
		t.Fatal(err)
	}
	p = op.follow(op.post("/orgs", url.Values{"name": {"Beta"}, "customDomain": {"SSO.acme.test"}, "upstream": {"https://beta.internal"}}))
	wantContains(t, p, "The organization Beta was created")
	got, err := e.domains.Get(t.Context(), customdomain.Actor{Operator: true}, d.ID)
	if err != nil || got.OrgID == "" || got.Status != customdomain.Verified {
		t.Fatalf("domain after org creation = %+v, %v; want VERIFIED and owned by the new org", got, err)
	}
}

func TestBadInputNeverServerError(t *testing.T) {
	e := newEnv(t, envOptions{})
	orgID, token := e.newOrg("Acme")
	d := e.createDomain(orgID, "login.acme.test")
	b := e.browser()
	b.signIn(token)
	b.get("/domains")
	huge := strings.Repeat("a", 2<<20)
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/domains?after=%00%ff", nil},
		{"GET", "/domains?after=dom" + strings.Repeat("z", 300), nil},
		{"GET", "/domains/%00", nil},
		{"GET", "/domains/" + strings.Repeat("x", 5000), nil},
		{"GET", "/logs?since=2026-13-45&until=x", nil},
		{"GET", "/logs?limit=1&limit=2", nil},
		{"GET", "/logs?sortOrder=sideways", nil},
		{"GET", "/static/", nil},
		{"GET", "/static/../console.go", nil},
		{"GET", "/api/v1/domains", nil},
		{"GET", "/signin?next=//evil.example", nil},
		{"DELETE", "/domains/" + d.ID, nil},
		{"POST", "/domains", url.Values{"domain": {"\xff\xfe"}, "source": {"MANAGED"}}},
		{"POST", "/domains", url.Values{"domain": {strings.Repeat("a.", 600) + "com"}, "source": {"MANUAL"}}},
		{"POST", "/domains", url.Values{"domain": {huge}, "source": {"MANUAL"}}},
		{"POST", "/domains", url.Values{"domain": {"x.acme.test"}, "source": {"SOMETHING"}}},
		{"POST", "/domains/" + d.ID + "/certificate", url.Values{"certificate": {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "key": {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}}},
		{"POST", "/domains/" + d.ID + "/delete", url.Values{"confirm": {"wrong"}}},
	} {
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 40)], func(t *testing.T) {
			var p page
			if tc.method == "POST" {
				p = b.post(tc.path, tc.form)
			} else {
				p = b.do(tc.method, tc.path, nil)
			}
			if p.status >= 500 {
				t.Errorf("status %d; body:\n%.2000s", p.status, p.body)
			}
		})
	}
	if _, err := e.domains.Get(t.Context(), customdomain.Actor{OrgID: orgID}, d.ID); err != nil {
		t.Errorf("domain deleted by a wrong confirmation: %v", err)
	}
	// The sign-in redirect stays on this site.
	if got := safeNext("//evil.example/x"); got != "/domains" {
		t.Errorf("safeNext(//evil.example/x) = %q, want /domains", got)
	}
}

func TestSessionsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := servicetest.New(t, servicetest.Options{}).Store
	ss := newSessions(30*time.Minute, 12*time.Hour, 2, func() time.Time { return now }, st, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	create := func(name string) *session {
		t.Helper()
		s, err := ss.create(ctx, tenant.Token{Hash: tenant.Hash(name)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	live := func(s *session) bool {
		t.Helper()
		got, err := ss.find(ctx, s.id, true)
		if err != nil {
			t.Fatal(err)
		}
		return got != nil
	}
	a := create("a")
	now = now.Add(time.Minute)
	b := create("b")
	now = now.Add(time.Minute)
	if !live(a) { // a is now the most recently used
		t.Fatal("session a missing")
	}
	c := create("c")
	if live(b) {
		t.Errorf("least recently used session b survived the bound")
	}
	if n := ss.len(ctx); n != 2 {
		t.Errorf("sessions = %d, want 2", n)
	}
	now = now.Add(31 * time.Minute)
	if live(c) {
		t.Errorf("idle session c still live after 31m")
	}
	d := create("d")
	for range 40 {
		now = now.Add(20 * time.Minute)
		if !live(d) && now.Sub(d.created) <= 12*time.Hour {
			t.Fatalf("session d ended early at %v", now.Sub(d.created))
		}
	}
	if live(d) {
		t.Errorf("session d live after %v, want at most 12h", now.Sub(d.created))
	}
	if a.csrf == b.csrf || a.id == b.id || len(a.csrf) < 40 {
		t.Errorf("session ids and CSRF tokens must be random and distinct")
	}
}

// The store holds neither the session id nor the token, and the state a
// session carries to its next page (here a token secret shown once) is
// sealed: a copy of the database alone reveals no secret.
func TestSessionStoredWithoutSecrets(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn(e.operator)
	id := b.cookie(sessionCookie)
	s, err := e.console.sessions.find(t.Context(), id, false)
	if err != nil || s == nil {
		t.Fatalf("find: %v %v", s, err)
	}
	const secret = "00ssws-secret-shown-once"
	s.putToken(shownToken{OrgID: "org1", Name: "ci", Secret: secret})
	stored, err := e.store.SessionByHash(t.Context(), s.hash)
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]string{"session id": id, "API token": e.operator, "shown secret": secret} {
		for _, field := range [][]byte{[]byte(stored.Hash), stored.TokenHash, stored.State} {
			if strings.Contains(string(field), v) {
				t.Errorf("the stored session holds the %s", what)
			}
		}
	}
	// Another request (another node) opens the state with the id.
	again, err := e.console.sessions.find(t.Context(), id, false)
	if err != nil || again == nil {
		t.Fatal(err)
	}
	if got := again.takeToken("org1"); got == nil || got.Secret != secret {
		t.Errorf("takeToken after a reload = %+v, want the secret put", got)
	}
	if got := again.takeToken("org1"); got != nil {
		t.Errorf("the secret was shown twice")
	}
}

func TestNewRequiresServices(t *testing.T) {
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Errorf("New with no services: want an error")
	}
}

// Two nodes (two consoles on one store): a session signed in on one works
// on the other, its next-page notice crosses with it, and signing out on
// the other ends it on both.
func TestSessionAcrossNodes(t *testing.T) {
	e := newEnv(t, envOptions{})
	other, err := New(e.console.cfg, e.console.deps)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(other)
	t.Cleanup(srv2.Close)
	e2 := *e
	e2.srv = srv2

	a := e.browser()
	a.get("/signin")
	p := a.post("/signin", url.Values{"token": {e.operator}})
	wantStatus(t, p, http.StatusSeeOther)
	// The redirect after sign-in lands on the other node, with its notice.
	b := &browser{e: &e2, c: a.c}
	p = b.get(p.header.Get("Location"))
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "Signed in as")
	wantStatus(t, a.get("/domains"), http.StatusOK)

	p = b.post("/signout", nil)
	wantStatus(t, p, http.StatusSeeOther)
	// The browser forgot the cookie; a copy of it must not work anywhere.
	id := p.header.Get("Set-Cookie")
	if !strings.Contains(id, sessionCookie+"=;") {
		t.Fatalf("sign-out did not clear the cookie: %q", id)
	}
	for _, n := range []*browser{a, b} {
		if n.cookie(sessionCookie) != "" {
			t.Fatal("the session cookie survived sign-out")
		}
	}
	if n := e.console.sessions.len(t.Context()); n != 0 {
		t.Errorf("%d sessions stored after signing out of the only one", n)
	}
}

// TestPersistentRecord: with a CA used with dns-persist-01, a managed
// domain's page shows the persistent record with the same copy buttons
// and zone-relative name as the others, its check mark apart from the
// ownership TXT's; deleting it says to remove the record.
func TestPersistentRecord(t *testing.T) {
	e := newEnv(t, envOptions{persist: true})
	orgID, token := e.newOrg("Acme")
	d := e.createDomain(orgID, "login.acme.test")
	b := e.browser()
	b.signIn(token)
	p := b.get("/domains/" + d.ID)
	value := persistIdentity.IssuerDomain + "; accounturi=" + persistIdentity.AccountURI
	wantContains(t, p,
		`data-copy="_validation-persist.login.acme.test"`,
		`data-copy="_validation-persist.login"`,
		`data-copy="`+value+`"`,
		`id="mark-TXT"`, `id="mark-TXT-2"`, `id="label-TXT-2"`,
	)
	if n := strings.Count(p.body, `id="mark-TXT"`); n != 1 {
		t.Errorf("%d elements with id mark-TXT, want 1", n)
	}
	p = b.follow(b.post("/domains/"+d.ID+"/delete", url.Values{"confirm": {d.Name}}))
	wantContains(t, p, "Remove the TXT record _validation-persist.login.acme.test ("+value+")")
}
