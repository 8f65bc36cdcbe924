package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

type orgList struct {
	Orgs         []tenant.Org
	Name         string
	CustomDomain string
	Upstream     string
	Error        *formError
}

func (c *Console) listOrgs(w http.ResponseWriter, r *http.Request) error {
	return c.renderOrgs(w, r, http.StatusOK, orgList{})
}

func (c *Console) renderOrgs(w http.ResponseWriter, r *http.Request, status int, data orgList) error {
	orgs, err := c.deps.Tenants.ListOrgs(r.Context())
	if err != nil {
		return err
	}
	data.Orgs = orgs
	return c.render(w, r, status, "orgs", "Organizations", data)
}

// createOrg creates an org by name (tenant.Service.CreateOrg has the rules
// and records the event).
func (c *Console) createOrg(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	form := orgList{
		Name:         r.PostFormValue("name"),
		CustomDomain: strings.TrimSpace(r.PostFormValue("customDomain")),
		Upstream:     strings.TrimSpace(r.PostFormValue("upstream")),
	}
	o, err := c.deps.Tenants.CreateOrg(r.Context(), cl.actor,
		tenant.Org{Name: form.Name, CustomDomain: form.CustomDomain, Upstream: form.Upstream})
	if err != nil {
		fe := asFormError(err)
		if errors.Is(err, customdomain.ErrNotVerified) {
			fe = &formError{Status: http.StatusForbidden, Message: "The custom domain " + form.CustomDomain +
				" is not verified yet. Add it under Domains, publish its records and press Verify now until it is VERIFIED, then create the organization."}
		}
		if fe != nil {
			form.Error = fe
			return c.renderOrgs(w, r, fe.Status, form)
		}
		return err
	}
	cl.sess.setFlash("ok", "The organization "+o.Name+" was created. Create an API token for its admin below.")
	http.Redirect(w, r, "/orgs/"+o.ID, http.StatusSeeOther)
	return nil
}

type orgPage struct {
	Org       tenant.Org
	Tokens    []tenant.Token
	Domains   []customdomain.Domain
	NewToken  *shownToken
	TokenName string
	Error     *formError
}

func (c *Console) showOrg(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	return c.renderOrg(w, r, http.StatusOK, orgPage{NewToken: cl.sess.takeToken(r.PathValue("id"))})
}

func (c *Console) renderOrg(w http.ResponseWriter, r *http.Request, status int, p orgPage) error {
	ctx := r.Context()
	o, err := c.deps.Tenants.GetOrg(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p.Org = o
	if p.Tokens, err = c.deps.Tenants.ListTokens(ctx, o.ID); err != nil {
		return err
	}
	// Newest first; revoked ones last.
	slices.SortStableFunc(p.Tokens, func(a, b tenant.Token) int {
		if a.Revoked.IsZero() != b.Revoked.IsZero() {
			if a.Revoked.IsZero() {
				return -1
			}
			return 1
		}
		return b.Created.Compare(a.Created)
	})
	// The org's domains, as its own admin sees them.
	orgActor := customdomain.Actor{OrgID: o.ID, ID: callerFrom(ctx).actor.ID, Name: callerFrom(ctx).actor.Name}
	if p.Domains, err = c.deps.Domains.List(ctx, orgActor, "", domainPageSize); err != nil {
		return err
	}
	return c.render(w, r, status, "org", o.Name, p)
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	org := r.PathValue("id")
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		return c.renderOrg(w, r, http.StatusBadRequest, orgPage{TokenName: name,
			Error: &formError{Status: http.StatusBadRequest, Message: "Give the token a name that says who or what uses it, such as \"Acme admin\"."}})
	}
	t, secret, err := c.deps.Tenants.CreateToken(r.Context(), cl.actor, org, name)
	if err != nil {
		if fe := asFormError(err); fe != nil {
			return c.renderOrg(w, r, fe.Status, orgPage{TokenName: name, Error: fe})
		}
		return err
	}
	cl.sess.putToken(shownToken{OrgID: org, Name: t.Name, Secret: secret})
	http.Redirect(w, r, "/orgs/"+org+"#new-token", http.StatusSeeOther)
	return nil
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	org, id := r.PathValue("id"), r.PathValue("tokenId")
	if err := c.deps.Tenants.RevokeToken(r.Context(), cl.actor, org, id); err != nil {
		return err
	}
	cl.sess.setFlash("ok", "The token was revoked; it no longer works for the API or the console.")
	http.Redirect(w, r, "/orgs/"+org, http.StatusSeeOther)
	return nil
}
