package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

type brandResp struct {
	ID                     string         `json:"id"`
	Name                   string         `json:"name"`
	Embedded               map[string]any `json:"_embedded"`
	CustomPrivacyPolicyURL *string        `json:"customPrivacyPolicyUrl"`
}

func (e *env) createBrand(token, name string) brandResp {
	e.t.Helper()
	r := e.do("POST", "/api/v1/brands", token, map[string]string{"name": name})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create brand %q: %d %s", name, r.status, r.body)
	}
	var b brandResp
	r.decode(e.t, &b)
	return b
}

func TestBrands(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, tokA := e.newOrg("Acme")
	_, tokB := e.newOrg("Beta")
	a := e.createBrand(tokA, "Acme Login")
	d := e.createDomain(tokA, "login.acme.test")

	t.Run("ok/unset-fields-are-null", func(t *testing.T) {
		var raw map[string]any
		e.do("GET", "/api/v1/brands/"+a.ID, tokA, nil).decode(t, &raw)
		for _, k := range []string{"locale", "customPrivacyPolicyUrl"} {
			if v, ok := raw[k]; !ok || v != nil {
				t.Errorf("%s = %v (present %v), want null", k, v, ok)
			}
		}
		if app, ok := raw["defaultApp"].(map[string]any); !ok || len(app) != 0 {
			t.Errorf("defaultApp = %v, want {}", raw["defaultApp"])
		}
		if _, ok := raw["_embedded"]; ok {
			t.Errorf("_embedded present without expand: %v", raw["_embedded"])
		}
	})

	t.Run("ok/brand-domains-shape", func(t *testing.T) {
		r := e.do("GET", "/api/v1/brands/"+d.BrandID+"/domains", tokA, nil)
		var got struct{ Domains []domainResp }
		r.decode(t, &got)
		if r.status != 200 || len(got.Domains) != 1 || got.Domains[0].ID != d.ID || got.Domains[0].BrandID != d.BrandID {
			t.Fatalf("GET /brands/{id}/domains = %d %s, want {\"domains\":[%s]}", r.status, r.body, d.ID)
		}
		r = e.do("GET", "/api/v1/brands/"+a.ID+"/domains", tokA, nil)
		if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"domains":[]}` {
			t.Fatalf("domains of an unused brand = %d %s, want {\"domains\":[]}", r.status, r.body)
		}
	})

	t.Run("ok/expand-domains", func(t *testing.T) {
		var got brandResp
		e.do("GET", "/api/v1/brands/"+d.BrandID+"?expand=themes,domains", tokA, nil).decode(t, &got)
		ds, _ := got.Embedded["domains"].([]any)
		if len(ds) != 1 {
			t.Fatalf("_embedded = %v, want the brand's one domain", got.Embedded)
		}
		var unused brandResp
		e.do("GET", "/api/v1/brands/"+a.ID+"?expand=domains", tokA, nil).decode(t, &unused)
		if unused.Embedded != nil {
			t.Fatalf("_embedded of a brand without domains = %v, want absent as Okta answers", unused.Embedded)
		}
	})

	t.Run("ok/list-paged", func(t *testing.T) {
		var page []brandResp
		r := e.do("GET", "/api/v1/brands?limit=1", tokA, nil)
		r.decode(t, &page)
		if r.status != 200 || len(page) != 1 {
			t.Fatalf("first page = %d %s, want one brand", r.status, r.body)
		}
		next := ""
		for _, l := range r.header.Values("Link") {
			if strings.Contains(l, `rel="next"`) {
				next = l[strings.Index(l, "<")+1 : strings.Index(l, ">")]
			}
		}
		if next == "" {
			t.Fatalf("Link = %v, want a next link", r.header.Values("Link"))
		}
		var second []brandResp
		e.do("GET", strings.TrimPrefix(next, e.srv.URL), tokA, nil).decode(t, &second)
		if len(second) != 1 || second[0].ID == page[0].ID {
			t.Fatalf("second page = %+v, want the other brand", second)
		}
		got := []string{page[0].ID, second[0].ID}
		slices.Sort(got)
		want := []string{a.ID, d.BrandID}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("org A's brands = %v, want %v (its own, not org B's)", got, want)
		}
	})

	t.Run("ok/operator-sees-every-org", func(t *testing.T) {
		var all []brandResp
		e.do("GET", "/api/v1/brands?limit=200", e.operator, nil).decode(t, &all)
		var ids []string
		for _, b := range all {
			ids = append(ids, b.ID)
		}
		if !slices.Contains(ids, a.ID) {
			t.Fatalf("operator's list = %v, want org A's brand %s", ids, a.ID)
		}
	})

	t.Run("ok/brand-of-a-deleted-domain-stays", func(t *testing.T) {
		again := e.createDomain(tokA, "again.acme.test")
		if r := e.do("DELETE", "/api/v1/domains/"+again.ID, tokA, nil); r.status != 204 {
			t.Fatalf("delete domain: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/brands/"+again.BrandID, tokA, nil); r.status != 200 {
			t.Fatalf("the brand of a deleted domain = %d %s, want 200: it stays, as in Okta", r.status, r.body)
		}
		third := e.createDomain(tokA, "again.acme.test")
		var b brandResp
		e.do("GET", "/api/v1/brands/"+third.BrandID, tokA, nil).decode(t, &b)
		if third.BrandID == again.BrandID || b.Name != "again.acme.test ("+third.BrandID+")" {
			t.Fatalf("the new domain's brand = %+v, want a new brand named after the domain and its id", b)
		}
	})

	t.Run("ok/assigned-domain-gets-a-brand-of-its-new-org", func(t *testing.T) {
		od := e.createDomain(e.operator, "sso.acme.test")
		e.publish(od)
		e.do("POST", "/api/v1/domains/"+od.ID+"/verify", e.operator, nil)
		var org struct{ ID string }
		if r := e.do("POST", "/api/v1/orgs", e.operator, map[string]string{"name": "Gamma", "customDomain": "sso.acme.test"}); r.status != 201 {
			t.Fatalf("create org: %d %s", r.status, r.body)
		} else {
			r.decode(t, &org)
		}
		r := e.do("POST", "/api/v1/orgs/"+org.ID+"/tokens", e.operator, map[string]string{"name": "admin"})
		var tok struct{ Token string }
		r.decode(t, &tok)
		var got domainResp
		e.do("GET", "/api/v1/domains/"+od.ID, tok.Token, nil).decode(t, &got)
		if got.BrandID == od.BrandID {
			t.Fatalf("the assigned domain kept the operator's brand %s", od.BrandID)
		}
		if r := e.do("DELETE", "/api/v1/brands/"+got.BrandID, tok.Token, nil); r.status != 409 {
			t.Fatalf("the new org's token deleting its domain's brand = %d %s, want 409 (its own brand, in use)", r.status, r.body)
		}
		if r := e.do("DELETE", "/api/v1/brands/"+od.BrandID, e.operator, nil); r.status != 204 {
			t.Fatalf("the operator deleting the domain's former brand = %d %s, want 204", r.status, r.body)
		}
	})

	long := strings.Repeat("x", 321)
	for _, tc := range []struct {
		name         string
		method, path string
		token        string
		body         any
		status       int
		code         string
		cause        string
	}{
		{"fail/other-org-get", "GET", "/api/v1/brands/" + a.ID, tokB, nil, 404, "E0000007", "brand"},
		{"fail/other-org-put", "PUT", "/api/v1/brands/" + a.ID, tokB, map[string]string{"name": "mine"}, 404, "E0000007", ""},
		{"fail/other-org-delete", "DELETE", "/api/v1/brands/" + a.ID, tokB, nil, 404, "E0000007", ""},
		{"fail/other-org-domains", "GET", "/api/v1/brands/" + a.ID + "/domains", tokB, nil, 404, "E0000007", ""},
		{"fail/unknown", "GET", "/api/v1/brands/bndNoSuchBrand000000", tokA, nil, 404, "E0000007", ""},
		{"fail/domain-to-other-orgs-brand", "PUT", "/api/v1/domains/" + d.ID, "", map[string]string{"brandId": "B"}, 409, "E0000203", "brandId"},
		{"fail/domain-to-unknown-brand", "PUT", "/api/v1/domains/" + d.ID, tokA, map[string]string{"brandId": "bndNoSuchBrand000000"}, 409, "E0000203", "POST /api/v1/brands"},
		{"fail/delete-in-use", "DELETE", "/api/v1/brands/" + d.BrandID, tokA, nil, 409, "E0000201", d.ID},
		{"fail/duplicate-name", "POST", "/api/v1/brands", tokA, map[string]string{"name": "Acme Login"}, 409, "E0000202", "name"},
		{"fail/rename-to-duplicate", "PUT", "/api/v1/brands/" + d.BrandID, tokA, map[string]string{"name": "Acme Login"}, 409, "E0000202", ""},
		{"fail/no-name", "POST", "/api/v1/brands", tokA, map[string]string{}, 400, "E0000001", "name: required"},
		{"fail/blank-name", "PUT", "/api/v1/brands/" + a.ID, tokA, map[string]string{"name": "  "}, 400, "E0000001", "name"},
		{"fail/long-name", "POST", "/api/v1/brands", tokA, map[string]string{"name": long}, 400, "E0000001", "at most 320"},
		{"fail/control-name", "POST", "/api/v1/brands", tokA, map[string]string{"name": "a\x00b"}, 400, "E0000001", "control"},
		{"fail/reserved-name", "POST", "/api/v1/brands", tokA, map[string]string{"name": "DRAPP_DOMAIN_BRAND"}, 400, "E0000001", "reserved"},
		{"fail/bad-locale", "PUT", "/api/v1/brands/" + a.ID, tokA, map[string]any{"name": "Acme Login", "locale": "not a locale"}, 400, "E0000001", "locale"},
		{"fail/privacy-url-without-consent", "PUT", "/api/v1/brands/" + a.ID, tokA,
			map[string]any{"name": "Acme Login", "customPrivacyPolicyUrl": "https://acme.test/p", "agreeToCustomPrivacyPolicy": false}, 400, "E0000001", "agreeToCustomPrivacyPolicy"},
		{"fail/privacy-url-not-web", "PUT", "/api/v1/brands/" + a.ID, tokA,
			map[string]any{"name": "Acme Login", "customPrivacyPolicyUrl": "javascript:alert(1)", "agreeToCustomPrivacyPolicy": true}, 400, "E0000001", "customPrivacyPolicyUrl"},
		{"fail/bad-email-domain-id", "PUT", "/api/v1/brands/" + a.ID, tokA, map[string]any{"name": "Acme Login", "emailDomainId": "../x"}, 400, "E0000001", "emailDomainId"},
		{"fail/unknown-field", "POST", "/api/v1/brands", tokA, `{"name":"x","color":"red"}`, 400, "E0000001", `unknown field "color"`},
		{"fail/wrong-type", "PUT", "/api/v1/brands/" + a.ID, tokA, `{"name":"x","removePoweredByOkta":"yes"}`, 400, "E0000001", "removePoweredByOkta"},
		{"fail/bad-limit", "GET", "/api/v1/brands?limit=0", tokA, nil, 400, "E0000001", "limit"},
		{"fail/bad-expand", "GET", "/api/v1/brands/" + a.ID + "?expand=everything", tokA, nil, 400, "E0000001", "expand"},
		{"fail/no-token", "GET", "/api/v1/brands", "", nil, 401, "E0000011", ""},
		{"fail/method", "PATCH", "/api/v1/brands/" + a.ID, tokA, nil, 405, "E0000022", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if tc.name == "fail/domain-to-other-orgs-brand" {
				token = tokA
				tc.body = map[string]string{"brandId": e.createBrand(tokB, "Beta "+tc.name).ID}
			}
			got := e.do(tc.method, tc.path, token, tc.body).wantError(t, tc.status, tc.code)
			if !strings.Contains(got.causes(), tc.cause) {
				t.Fatalf("causes %q, want them to mention %q", got.causes(), tc.cause)
			}
		})
	}

	t.Run("ok/refused-domain-leaves-no-brand", func(t *testing.T) {
		count := func() int {
			var bs []brandResp
			e.do("GET", "/api/v1/brands?limit=200", tokA, nil).decode(t, &bs)
			return len(bs)
		}
		before := count()
		e.do("POST", "/api/v1/domains", tokA, map[string]string{"domain": "login.acme.test", "certificateSourceType": "MANUAL"}).
			wantError(t, 403, "E0000161")
		e.do("POST", "/api/v1/domains", tokA, map[string]string{"domain": "login.*.acme.test", "certificateSourceType": "MANUAL"}).
			wantError(t, 400, "E0000001")
		if after := count(); after != before {
			t.Fatalf("brands after refused domain creations: %d, want %d", after, before)
		}
	})

	t.Run("ok/nothing-changed-by-refusals", func(t *testing.T) {
		var got domainResp
		e.do("GET", "/api/v1/domains/"+d.ID, tokA, nil).decode(t, &got)
		if got.BrandID != d.BrandID {
			t.Fatalf("brand = %s, want unchanged %s", got.BrandID, d.BrandID)
		}
		var b brandResp
		e.do("GET", "/api/v1/brands/"+a.ID, tokA, nil).decode(t, &b)
		if b.Name != "Acme Login" || b.CustomPrivacyPolicyURL != nil {
			t.Fatalf("brand after refused changes = %+v, want unchanged", b)
		}
	})
}
