package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func TestStrictInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	orgID, tok := e.newOrg("Acme")
	d := e.createDomain(tok, "login.acme.test")
	for _, tc := range []struct {
		name, method, path, ct, body string
		status                       int
		cause                        string
	}{
		{"fail/duplicate-key", "POST", "/api/v1/domains", "application/json",
			`{"domain":"a.acme.test","certificateSourceType":"MANUAL","domain":"b.acme.test"}`, 400, `field "domain" appears more than once`},
		{"fail/case-mismatch", "PUT", "/api/v1/domains/" + d.ID, "application/json",
			`{"BRANDID":"bnd1"}`, 400, `unknown field "BRANDID": field names are case-sensitive; did you mean "brandId"?`},
		{"fail/charset-utf16", "POST", "/api/v1/domains", "application/json; charset=utf-16",
			`{"domain":"a.acme.test","certificateSourceType":"MANUAL"}`, 415, `charset "utf-16"`},
		{"fail/invalid-utf8", "POST", "/api/v1/orgs", "application/json", "{\"name\":\"Ac\xffme\"}", 400, `field "name" holds invalid UTF-8`},
		{"fail/null-body", "POST", "/api/v1/orgs/" + orgID + "/tokens", "application/json", `null`, 400, "must be a JSON object, got JSON null"},
		{"fail/array-body", "POST", "/api/v1/orgs/" + orgID + "/tokens", "application/json", `[]`, 400, "must be a JSON object"},
		{"fail/empty-token-name", "POST", "/api/v1/orgs/" + orgID + "/tokens", "application/json", `{}`, 400, "name"},
		{"fail/nul-in-org-name", "POST", "/api/v1/orgs", "", `{"name":"Ac\u0000me"}`, 400, "control character"},
		{"fail/escape-in-token-name", "POST", "/api/v1/orgs/" + orgID + "/tokens", "", `{"name":"ci\u001b[31m"}`, 400, "control character"},
		{"fail/bidi-in-org-name", "POST", "/api/v1/orgs", "", `{"name":"Acme\u202egnp.exe"}`, 400, "control character"},
		{"fail/upstream-bad-ip", "POST", "/api/v1/orgs", "", `{"name":"B","upstream":"http://127.0.+.1:9"}`, 400, "upstream"},
		{"fail/upstream-port", "POST", "/api/v1/orgs", "", `{"name":"B","upstream":"http://app.internal:99999"}`, 400, "port"},
		{"fail/upstream-credentials", "POST", "/api/v1/orgs", "", `{"name":"B","upstream":"https://u:pw@app.internal"}`, 400, "credentials"},
		{"fail/wrong-type-names-field", "POST", "/api/v1/orgs", "", `{"name":7}`, 400, "name: expected string, got JSON number"},
		{"fail/trailing", "POST", "/api/v1/orgs", "", `{"name":"B"} {}`, 400, "nothing after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "SSWS "+e.operator)
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			got := response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}.wantError(t, tc.status, "E0000001")
			if !strings.Contains(got.causes(), tc.cause) {
				t.Errorf("causes = %q, want them to mention %q", got.causes(), tc.cause)
			}
			if strings.Contains(got.causes(), "pw@") {
				t.Errorf("causes echo the upstream's password: %q", got.causes())
			}
		})
	}
	// Nothing was created by the refused requests.
	r := e.do("GET", "/api/v1/orgs", e.operator, nil)
	if r.status != 200 || strings.Count(string(r.body), `"name"`) != 1 {
		t.Errorf("orgs after refused creations: %d %s, want only Acme", r.status, r.body)
	}
}

// FuzzDecode feeds any body to the API's decoder: it never panics, and
// what it accepts is one JSON object with exactly the fields it knows.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"a","upstream":"http://x"}`, `{"name":"a","name":"b"}`, `{"NAME":"a"}`,
		`null`, `[]`, `{}`, `{"name":"\u0000"}`, "{\"name\":\"\xff\"}", `{"name":1}`, `{"name":"a"} x`, ``} {
		f.Add(s, "application/json")
	}
	f.Add(`{"name":"a"}`, "application/json; charset=latin1")
	f.Fuzz(func(t *testing.T, body, ct string) {
		r := httptest.NewRequest("POST", "/api/v1/orgs", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		var v createOrgRequest
		err := decode(httptest.NewRecorder(), r, &v)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Status >= 500 || len(e.Causes) == 0 {
				t.Fatalf("decode(%q): %v, want a 4xx with a cause", body, err)
			}
			return
		}
		if c := strings.TrimLeft(body, " \t\r\n"); c == "" || c[0] != '{' {
			t.Fatalf("decode accepted %q, which is not an object", body)
		}
		// Read the object's member names independently of decode.
		dec := jsontext.NewDecoder(strings.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
		if _, err := dec.ReadToken(); err != nil {
			t.Fatalf("decode accepted %q: %v", body, err)
		}
		seen := map[string]bool{}
		for dec.PeekKind() == '"' {
			tok, _ := dec.ReadToken()
			name := tok.String()
			if seen[name] || name != "name" && name != "customDomain" && name != "upstream" {
				t.Fatalf("decode accepted %q with member %q (known: name, customDomain, upstream, each once)", body, name)
			}
			seen[name] = true
			dec.SkipValue()
		}
	})
}
