package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestKeyRolloverRefusals: the key rollover is the operator's; an org
// token gets 403, and a server without an ACME account (the built-in CA)
// says so with 400, never a 500.
func TestKeyRolloverRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, token := e.newOrg("Acme")
	e.do("POST", "/api/v1/acme/account/keyRollover", token, nil).wantError(t, http.StatusForbidden, "E0000006")
	got := e.do("POST", "/api/v1/acme/account/keyRollover", e.operator, nil).wantError(t, http.StatusBadRequest, "E0000001")
	if !strings.Contains(got.causes(), "built-in CA") {
		t.Errorf("causes %q, want to say that the built-in CA has no ACME account", got.causes())
	}
	if r := e.do("GET", "/api/v1/acme/account/keyRollover", e.operator, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", r.status)
	}
}
