package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/hallmark-dev/hallmark/internal/oktaid"
)

// TestUsersMe is the Okta Terraform provider's configure step
// (UserAPI.GetUser(ctx, "me")) through the published Go SDK, for the
// operator token and org tokens, and a bad token's 401.
func TestUsersMe(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, tokA := e.newOrg("Acme Corp")
	_, tokB := e.newOrg("Beta")
	ctx := t.Context()

	me := func(t *testing.T, token string) *okta.UserGetSingleton {
		t.Helper()
		u, resp, err := e.oktaClient(token).UserAPI.GetUser(ctx, "me").Execute()
		if err != nil {
			t.Fatalf("GetUser(me): %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GetUser(me) status = %d, want 200", resp.StatusCode)
		}
		return u
	}

	ids := map[string]string{}
	for _, tc := range []struct {
		name, token, lastName string
	}{
		{"ok/operator", e.operator, "Operator"},
		{"ok/org-token", tokA, "Acme Corp"},
		{"ok/other-org-token", tokB, "Beta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := me(t, tc.token)
			if !oktaid.Valid("00u", u.GetId()) || u.GetStatus() != "ACTIVE" {
				t.Fatalf("user id %q status %q, want an 00u… id and ACTIVE", u.GetId(), u.GetStatus())
			}
			if u.Created == nil || u.Created.IsZero() || time.Since(*u.Created) > time.Hour {
				t.Fatalf("created = %v, want the token's creation time", u.Created)
			}
			p := u.Profile
			if p == nil || p.GetLogin() == "" || p.GetEmail() != p.GetLogin() || p.GetFirstName() == "" || p.GetLastName() != tc.lastName {
				t.Fatalf("profile = %+v, want login = email, a first name and last name %q", p, tc.lastName)
			}
			if u.Links == nil || u.Links.Self == nil || !strings.HasSuffix(u.Links.Self.Href, "/api/v1/users/"+u.GetId()) {
				t.Fatalf("_links = %+v, want self at /api/v1/users/%s", u.Links, u.GetId())
			}
			if again := me(t, tc.token); again.GetId() != u.GetId() || again.Profile.GetLogin() != p.GetLogin() {
				t.Fatalf("second call: id %s login %s, want the same %s %s", again.GetId(), again.Profile.GetLogin(), u.GetId(), p.GetLogin())
			}
			for other, id := range ids {
				if id == u.GetId() {
					t.Fatalf("token %s has the same user id %s as %s, want one per token", tc.name, id, other)
				}
			}
			ids[tc.name] = u.GetId()

			// The self link answers for the caller, and for no one else.
			self, _, err := e.oktaClient(tc.token).UserAPI.GetUser(ctx, u.GetId()).Execute()
			if err != nil || self.GetId() != u.GetId() {
				t.Fatalf("GetUser(own id) = %v, %v, want the same user", self, err)
			}
		})
	}

	t.Run("ok/no-empty-timestamps", func(t *testing.T) {
		r := e.do("GET", "/api/v1/users/me", tokA, nil)
		var raw map[string]any
		r.decode(t, &raw)
		for _, k := range []string{"created", "activated", "statusChanged", "lastUpdated", "lastLogin", "passwordChanged"} {
			v, ok := raw[k]
			if !ok {
				t.Errorf("%s absent, want an RFC 3339 time or null", k)
				continue
			}
			if v == nil {
				continue
			}
			if _, err := time.Parse(time.RFC3339, v.(string)); err != nil {
				t.Errorf("%s = %q, want an RFC 3339 time or null", k, v)
			}
		}
	})

	t.Run("fail/another-user", func(t *testing.T) {
		e.do("GET", "/api/v1/users/"+ids["ok/operator"], tokA, nil).wantError(t, 404, "E0000007")
		e.do("GET", "/api/v1/users/00uNoSuchUser0000000", e.operator, nil).wantError(t, 404, "E0000007")
	})

	t.Run("fail/bad-token", func(t *testing.T) {
		_, resp, err := e.oktaClient("hm_not-a-token-at-all").UserAPI.GetUser(ctx, "me").Execute()
		var oe *okta.GenericOpenAPIError
		if !errors.As(err, &oe) || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GetUser(me) with a bad token = %v (%T), want a 401 GenericOpenAPIError", err, err)
		}
		var body apiErrorJSON
		if err := json.Unmarshal(oe.Body(), &body); err != nil || body.ErrorCode != "E0000011" {
			t.Fatalf("401 body %s, want errorCode E0000011", oe.Body())
		}
	})

	t.Run("fail/method", func(t *testing.T) {
		e.do("DELETE", "/api/v1/users/me", tokA, nil).wantError(t, 405, "E0000022")
	})
}
