package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
)

// brandJSON is Okta's BrandWithEmbedded. Unset strings are null (or, for
// the default app's fields and emailDomainId, absent) and never "": the
// Terraform provider stores what it reads, and "" where it wrote nothing
// would show as drift.
type brandJSON struct {
	ID                         string              `json:"id"`
	Name                       string              `json:"name"`
	IsDefault                  bool                `json:"isDefault"`
	Locale                     *string             `json:"locale"`
	CustomPrivacyPolicyURL     *string             `json:"customPrivacyPolicyUrl"`
	AgreeToCustomPrivacyPolicy bool                `json:"agreeToCustomPrivacyPolicy"`
	RemovePoweredByOkta        bool                `json:"removePoweredByOkta"`
	DefaultApp                 defaultAppJSON      `json:"defaultApp"`
	EmailDomainID              string              `json:"emailDomainId,omitempty"`
	Embedded                   map[string]any      `json:"_embedded,omitempty"`
	Links                      map[string]linkJSON `json:"_links"`
}

type defaultAppJSON struct {
	AppInstanceID         string `json:"appInstanceId,omitempty"`
	AppLinkName           string `json:"appLinkName,omitempty"`
	ClassicApplicationURI string `json:"classicApplicationUri,omitempty"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toBrandJSON(r *http.Request, b brand.Brand) brandJSON {
	return brandJSON{
		ID: b.ID, Name: b.Name,
		Locale:                     nullable(b.Locale),
		CustomPrivacyPolicyURL:     nullable(b.CustomPrivacyPolicyURL),
		AgreeToCustomPrivacyPolicy: b.AgreeToCustomPrivacyPolicy,
		RemovePoweredByOkta:        b.RemovePoweredByOkta,
		DefaultApp: defaultAppJSON{AppInstanceID: b.DefaultApp.AppInstanceID, AppLinkName: b.DefaultApp.AppLinkName,
			ClassicApplicationURI: b.DefaultApp.ClassicApplicationURI},
		EmailDomainID: b.EmailDomainID,
		Links: map[string]linkJSON{
			"self": {Href: baseURL(r) + "/api/v1/brands/" + b.ID, Hints: hintsJSON{Allow: []string{"GET", "PUT", "DELETE"}}},
		},
	}
}

// brandRequest is Okta's BrandRequest (PUT) and CreateBrandRequest (POST,
// which Hallmark lets carry the other writable fields too). The read-only
// fields of a brand read back and sent again are accepted and ignored.
type brandRequest struct {
	Name                       *string         `json:"name"`
	Locale                     *string         `json:"locale"`
	CustomPrivacyPolicyURL     *string         `json:"customPrivacyPolicyUrl"`
	AgreeToCustomPrivacyPolicy *bool           `json:"agreeToCustomPrivacyPolicy"`
	RemovePoweredByOkta        *bool           `json:"removePoweredByOkta"`
	DefaultApp                 *defaultAppJSON `json:"defaultApp"`
	EmailDomainID              *string         `json:"emailDomainId"`

	ID        json.RawMessage `json:"id"`
	IsDefault json.RawMessage `json:"isDefault"`
	Embedded  json.RawMessage `json:"_embedded"`
	Links     json.RawMessage `json:"_links"`
}

// brand returns the brand the request describes; a field left out (or
// null) is unset.
func (q brandRequest) brand(id string) brand.Brand {
	val := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	b := brand.Brand{ID: id, Name: val(q.Name), Locale: val(q.Locale), CustomPrivacyPolicyURL: val(q.CustomPrivacyPolicyURL),
		EmailDomainID: val(q.EmailDomainID)}
	b.AgreeToCustomPrivacyPolicy = q.AgreeToCustomPrivacyPolicy != nil && *q.AgreeToCustomPrivacyPolicy
	b.RemovePoweredByOkta = q.RemovePoweredByOkta != nil && *q.RemovePoweredByOkta
	if a := q.DefaultApp; a != nil {
		b.DefaultApp = brand.DefaultApp{AppInstanceID: a.AppInstanceID, AppLinkName: a.AppLinkName, ClassicApplicationURI: a.ClassicApplicationURI}
	}
	return b
}

// createBrand is Okta's POST /api/v1/brands: 201 with the brand.
func (s *Server) createBrand(w http.ResponseWriter, r *http.Request) error {
	var req brandRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	b, err := s.brands.Create(r.Context(), actorFrom(r.Context()), req.brand(""))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toBrandJSON(r, b))
	return nil
}

// Page sizes of GET /api/v1/brands, as Okta documents them.
const (
	brandPageDefault = 20
	brandPageMax     = 200
)

// listBrands is Okta's GET /api/v1/brands: a bare array, paged by after
// and limit with Link headers, q searching names.
func (s *Server) listBrands(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq := brand.ListQuery{Limit: brandPageDefault, After: q.Get("after"), NameContains: q.Get("q")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > brandPageMax {
			return errValidation("limit: must be an integer from 1 to " + strconv.Itoa(brandPageMax))
		}
		lq.Limit = n
	}
	if len(lq.After) > 64 {
		return errValidation("after: not a brand id; use the link in the Link rel=\"next\" header")
	}
	if len(lq.NameContains) > brand.MaxName {
		return errValidation("q: at most " + strconv.Itoa(brand.MaxName) + " characters")
	}
	embedDomains, err := parseExpand(q)
	if err != nil {
		return err
	}
	limit := lq.Limit
	lq.Limit++ // one more tells whether there is a next page
	a := actorFrom(r.Context())
	bs, err := s.brands.List(r.Context(), a, lq)
	if err != nil {
		return err
	}
	more := len(bs) > limit
	if more {
		bs = bs[:limit]
	}
	out := make([]brandJSON, 0, len(bs))
	for _, b := range bs {
		j := toBrandJSON(r, b)
		if embedDomains {
			if j.Embedded, err = s.embedDomains(r, b.ID); err != nil {
				return err
			}
		}
		out = append(out, j)
	}
	page := url.Values{"limit": {strconv.Itoa(limit)}}
	for _, k := range []string{"q", "expand"} {
		if vs, ok := q[k]; ok {
			page[k] = vs
		}
	}
	w.Header().Add("Link", `<`+baseURL(r)+r.URL.Path+`?`+page.Encode()+`>; rel="self"`)
	if more {
		page.Set("after", bs[len(bs)-1].ID)
		w.Header().Add("Link", `<`+baseURL(r)+r.URL.Path+`?`+page.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// parseExpand reads expand (themes, domains, emailDomain; repeated or
// comma-separated) and reports whether domains are to be embedded. Hallmark
// has no themes or email domains, and, as Okta does for a brand without
// them, embeds nothing for those.
func parseExpand(q url.Values) (domains bool, err error) {
	for _, v := range q["expand"] {
		for _, e := range strings.Split(v, ",") {
			switch strings.TrimSpace(e) {
			case "domains":
				domains = true
			case "themes", "emailDomain", "":
			default:
				return false, errValidation("expand: " + strconv.Quote(e) + " is not one of themes, domains, emailDomain")
			}
		}
	}
	return domains, nil
}

// brandDomains returns the domains of a brand the caller may see.
func (s *Server) brandDomains(r *http.Request, id string) ([]domainJSON, error) {
	a := actorFrom(r.Context())
	ids, err := s.brands.Domains(r.Context(), a, id)
	if err != nil {
		return nil, err
	}
	out := []domainJSON{}
	for _, did := range ids {
		d, err := s.domains.Get(r.Context(), a, did)
		if errors.Is(err, customdomain.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s.domainJSON(r, d))
	}
	return out, nil
}

// embedDomains is _embedded for expand=domains: absent when the brand has
// none, as Okta answers.
func (s *Server) embedDomains(r *http.Request, id string) (map[string]any, error) {
	ds, err := s.brandDomains(r, id)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return map[string]any{"domains": ds}, nil
}

func (s *Server) getBrand(w http.ResponseWriter, r *http.Request) error {
	embedDomains, err := parseExpand(r.URL.Query())
	if err != nil {
		return err
	}
	b, err := s.brands.Get(r.Context(), actorFrom(r.Context()), r.PathValue("brandId"))
	if err != nil {
		return err
	}
	j := toBrandJSON(r, b)
	if embedDomains {
		if j.Embedded, err = s.embedDomains(r, b.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

// replaceBrand is Okta's PUT: every writable field is replaced, a field
// left out is reset. Unknown ids answer 404 before the body is judged.
func (s *Server) replaceBrand(w http.ResponseWriter, r *http.Request) error {
	a := actorFrom(r.Context())
	id := r.PathValue("brandId")
	if _, err := s.brands.Get(r.Context(), a, id); err != nil {
		return err
	}
	var req brandRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	b, err := s.brands.Replace(r.Context(), a, req.brand(id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toBrandJSON(r, b))
	return nil
}

// deleteBrand answers 204, or 409 E0000201 while a domain uses the brand.
func (s *Server) deleteBrand(w http.ResponseWriter, r *http.Request) error {
	if err := s.brands.Delete(r.Context(), actorFrom(r.Context()), r.PathValue("brandId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listBrandDomains is GET /api/v1/brands/{brandId}/domains in the shape
// Okta's API documents and answers: {"domains": [DomainResponse...]}.
// (The Okta Go SDK v4 and v5 expect a bare array here and fail to decode
// Okta's own answer; v6 reads the object.)
func (s *Server) listBrandDomains(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.brandDomains(r, r.PathValue("brandId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Domains []domainJSON `json:"domains"`
	}{ds})
	return nil
}
