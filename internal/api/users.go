package api

import (
	"errors"
	"net/http"

	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// userJSON is Okta's User as GET /api/v1/users/me answers it. Hallmark has
// no users: an API token acts as a principal of its own, so the user is
// derived from the token (its id, name, org and creation time) and is the
// same on every call and every node. Token-validating clients (the Okta
// Terraform provider's configure step) only need the call to succeed and
// the body to decode; the timestamps are RFC 3339 or null, never "".
type userJSON struct {
	ID              string              `json:"id"`
	Status          string              `json:"status"`
	Created         string              `json:"created"`
	Activated       string              `json:"activated"`
	StatusChanged   string              `json:"statusChanged"`
	LastLogin       *string             `json:"lastLogin"`
	LastUpdated     string              `json:"lastUpdated"`
	PasswordChanged *string             `json:"passwordChanged"`
	Profile         userProfileJSON     `json:"profile"`
	Credentials     userCredentialsJSON `json:"credentials"`
	Links           map[string]linkJSON `json:"_links"`
}

type userProfileJSON struct {
	Login       string `json:"login"`
	Email       string `json:"email"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	DisplayName string `json:"displayName"`
}

type userCredentialsJSON struct {
	Provider struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"provider"`
}

// userID is the stable id of the user a token acts as.
func userID(t tenant.Token) string { return oktaid.Derive("00u", "hallmark user of token "+t.ID) }

// getUser answers GET /api/v1/users/{id} for "me" and for the caller's own
// id (the self link); every other user is unknown here.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	tok, _ := tokenFrom(r.Context())
	id := userID(tok)
	if want := r.PathValue("id"); want != "me" && want != id {
		return errNotFound("no user with id " + want + "; Hallmark knows only the caller, as /api/v1/users/me")
	}
	org := "Operator"
	domain := "operator"
	if !tok.Operator() {
		domain = tok.OrgID
		org = tok.OrgID
		o, err := s.tenants.GetOrg(r.Context(), tok.OrgID)
		switch {
		case err == nil:
			org = o.Name
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	first := tok.Name
	if first == "" {
		first = "API token"
	}
	login := tok.ID + "@" + domain + ".hallmark.invalid" // RFC 2606: never a real mailbox
	created := oktaTime(tok.Created)
	u := userJSON{
		ID: id, Status: "ACTIVE",
		Created: created, Activated: created, StatusChanged: created, LastUpdated: created,
		Profile: userProfileJSON{
			Login: login, Email: login,
			// Okta bounds first and last names to 50 characters.
			FirstName: clip(first, 50), LastName: clip(org, 50),
			DisplayName: first + " (" + org + ")",
		},
		Links: map[string]linkJSON{
			"self": {Href: baseURL(r) + "/api/v1/users/" + id, Hints: hintsJSON{Allow: []string{"GET"}}},
		},
	}
	u.Credentials.Provider.Type, u.Credentials.Provider.Name = "OKTA", "OKTA"
	writeJSON(w, http.StatusOK, u)
	return nil
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
