package api

import (
	"net/http"

	"github.com/hallmark-dev/hallmark/internal/tenant"
)

type createOrgRequest struct {
	Name         string `json:"name"`
	CustomDomain string `json:"customDomain"`
	Upstream     string `json:"upstream"`
}

// createOrg creates a child org (tenant.Service.CreateOrg has the rules).
func (s *Server) createOrg(w http.ResponseWriter, r *http.Request) error {
	var req createOrgRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	o, err := s.tenants.CreateOrg(r.Context(), actorFrom(r.Context()),
		tenant.Org{Name: req.Name, CustomDomain: req.CustomDomain, Upstream: req.Upstream})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, o)
	return nil
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request) error {
	orgs, err := s.tenants.ListOrgs(r.Context())
	if err != nil {
		return err
	}
	if orgs == nil {
		orgs = []tenant.Org{}
	}
	writeJSON(w, http.StatusOK, orgs)
	return nil
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) error {
	a := actorFrom(r.Context())
	id := r.PathValue("id")
	if !a.Operator && a.OrgID != id {
		return errNotFound("no org with id " + id)
	}
	o, err := s.tenants.GetOrg(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

type tokenJSON struct {
	ID      string `json:"id"`
	OrgID   string `json:"orgId"`
	Name    string `json:"name"`
	Prefix  string `json:"tokenPrefix,omitempty"`
	Token   string `json:"token,omitempty"` // only in the create response
	Created string `json:"created"`
	Revoked string `json:"revoked,omitempty"`
}

func toTokenJSON(t tenant.Token) tokenJSON {
	return tokenJSON{ID: t.ID, OrgID: t.OrgID, Name: t.Name, Prefix: t.Prefix, Created: oktaTime(t.Created), Revoked: oktaTime(t.Revoked)}
}

type createTokenRequest struct {
	Name string `json:"name"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, secret, err := s.tenants.CreateToken(r.Context(), actorFrom(r.Context()), r.PathValue("id"), req.Name)
	if err != nil {
		return err
	}
	out := toTokenJSON(t)
	out.Token = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.tenants.ListTokens(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, toTokenJSON(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	org, id := r.PathValue("id"), r.PathValue("tokenId")
	if err := s.tenants.RevokeToken(r.Context(), actorFrom(r.Context()), org, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
