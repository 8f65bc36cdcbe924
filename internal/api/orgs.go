package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

type createOrgRequest struct {
	Name         string `json:"name"`
	CustomDomain string `json:"customDomain"`
	Upstream     string `json:"upstream"`
}

// createOrg creates a child org. A customDomain must already be proven
// (E0000165 otherwise) and not serve another org (E0000120); it then moves
// to the new org.
func (s *Server) createOrg(w http.ResponseWriter, r *http.Request) error {
	var req createOrgRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Upstream != "" {
		if err := checkUpstream(req.Upstream); err != nil {
			return err
		}
	}
	ctx := r.Context()
	o := tenant.Org{Name: req.Name, Upstream: req.Upstream}
	if req.CustomDomain != "" {
		name, err := customdomain.NormalizeName(req.CustomDomain)
		if err != nil {
			return errValidation("customDomain: " + err.(*customdomain.NameError).Reason)
		}
		o.CustomDomain = name
		if err := s.domains.AssignToOrg(ctx, name, "", true); err != nil {
			return err
		}
	}
	o, err := s.tenants.CreateOrg(ctx, o)
	if err != nil {
		return err
	}
	if o.CustomDomain != "" {
		if err := s.domains.AssignToOrg(ctx, o.CustomDomain, o.ID, false); err != nil {
			return err
		}
	}
	s.orgEvent(r, systemlog.OrgCreate, o.ID, o.ID, "Org created")
	writeJSON(w, http.StatusCreated, o)
	return nil
}

func checkUpstream(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errValidation("upstream: give an absolute http:// or https:// URL without credentials, such as https://app.internal:8443")
	}
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
	t, secret, err := s.tenants.CreateToken(r.Context(), r.PathValue("id"), req.Name)
	if err != nil {
		return err
	}
	out := toTokenJSON(t)
	out.Token = secret
	s.orgEvent(r, systemlog.TokenCreate, t.OrgID, t.ID, "API token created")
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
	if err := s.tenants.RevokeToken(r.Context(), org, id); err != nil {
		return err
	}
	s.orgEvent(r, systemlog.TokenRevoke, org, id, "API token revoked")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) orgEvent(r *http.Request, typ, orgID, targetID, msg string) {
	a := actorFrom(r.Context())
	targetType := "Org"
	if strings.HasPrefix(typ, "system.api_token") {
		targetType = "Token"
	}
	e := systemlog.Event{
		EventType: typ, Severity: "INFO", DisplayMessage: msg,
		Actor:   systemlog.Actor{ID: a.ID, Type: "PublicClientApp", DisplayName: a.Name},
		Target:  []systemlog.Target{{ID: targetID, Type: targetType}},
		Outcome: systemlog.Outcome{Result: "SUCCESS"},
		OrgID:   orgID,
	}
	if _, err := s.log.Append(r.Context(), e); err != nil {
		s.logger.Error("system log append failed", "eventType", typ, "err", err)
	}
}
