// Package brand is Okta's brands as far as custom domains use them. As in
// Okta, every custom domain belongs to one brand of its org: creating a
// domain creates a brand for it unless it is moved to another, and a brand
// still used by a domain cannot be deleted. In Hallmark a brand is the name
// people see for a domain (the edge's page when the org names no upstream);
// its other fields (locale, privacy policy, default app, email domain) are
// kept exactly as a client set them, so that tools managing them (the Okta
// Terraform provider's okta_brand) read back what they wrote.
package brand

import (
	"context"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/errs"
)

// Brand is a brand as stored. Empty strings are unset (null in the API).
type Brand struct {
	ID    string
	OrgID string // "" for the operator's
	Name  string
	// Locale is an IETF BCP 47 language tag, kept as given.
	Locale                     string
	CustomPrivacyPolicyURL     string
	AgreeToCustomPrivacyPolicy bool
	RemovePoweredByOkta        bool
	DefaultApp                 DefaultApp
	// EmailDomainID names an email domain; Hallmark has none and keeps
	// the id as given.
	EmailDomainID string
	Created       time.Time
	Updated       time.Time
}

// DefaultApp is the app a brand's sign-in redirects to, kept as given.
type DefaultApp struct {
	AppInstanceID         string
	AppLinkName           string
	ClassicApplicationURI string
}

// ListQuery selects a page of brands.
type ListQuery struct {
	OrgID string
	All   bool // every org's brands (the operator); OrgID is ignored
	// NameContains keeps brands whose name contains it, ignoring ASCII
	// case; "" keeps all.
	NameContains string
	After        string // the id after which the page starts
	Limit        int
}

// Store keeps brands.
type Store interface {
	// CreateBrand fails with store.ErrConflict when the id is taken or the
	// org already has a brand of that name.
	CreateBrand(ctx context.Context, b Brand) error
	GetBrand(ctx context.Context, id string) (Brand, error)
	// ListBrands returns up to q.Limit brands ordered by id.
	ListBrands(ctx context.Context, q ListQuery) ([]Brand, error)
	// UpdateBrand replaces every field of the stored brand but ID, OrgID
	// and Created: store.ErrNotFound when it is gone, store.ErrConflict
	// when the org has another brand of the new name.
	UpdateBrand(ctx context.Context, b Brand) error
	// DeleteBrand deletes the brand unless a domain uses it, in one step:
	// store.ErrConflict when one does, store.ErrNotFound when there is no
	// such brand.
	DeleteBrand(ctx context.Context, id string) error
	// BrandDomains returns the ids of the domains that use the brand,
	// ordered by id.
	BrandDomains(ctx context.Context, id string) ([]string, error)
}

// Refusals callers branch on, each with its kind and Okta's code; the API
// maps them in one place.
var (
	// ErrNotFound: no brand with that id, or another org's.
	ErrNotFound = errs.New(errs.NotFound, "", "no brand with that id") // E0000007
	// ErrDuplicateName: the org already has a brand of that name.
	ErrDuplicateName = errs.New(errs.Conflict, "E0000202", "the org already has a brand with that name")
	// ErrUnknown: a domain was asked to move to a brand that is not one of
	// its org's.
	ErrUnknown = errs.New(errs.Conflict, "E0000203", "no brand of the domain's org has that id")
)

// InUseError refuses to delete a brand that domains still use (Okta's
// E0000201).
type InUseError struct {
	Domains []string // their ids
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("the brand is used by %d custom domain(s)", len(e.Domains))
}

// Kind is Conflict.
func (e *InUseError) Kind() errs.Kind { return errs.Conflict }
