package brand

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// Limits of a brand's fields.
const (
	MaxName  = 320 // runes; a domain's brand is named after it (up to 253) plus its id
	MaxField = 255 // runes, for the default app's fields
	MaxURL   = 2048
)

// reservedName is the name Okta keeps for its own brand of the drapp
// domain; Okta refuses it with E0000001 and so does Hallmark.
const reservedName = "DRAPP_DOMAIN_BRAND"

// Service manages brands, scoped to the org of the actor as domains are:
// another org's brand does not exist for an org token; the operator sees
// every org's.
type Service struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
}

// NewService returns a Service over st.
func NewService(st Store, logger *slog.Logger) *Service {
	return &Service{store: st, logger: logger, now: time.Now}
}

// Create stores a new brand of the actor's org with the fields of b (its
// ID, OrgID and times are set here).
func (s *Service) Create(ctx context.Context, a tenant.Actor, b Brand) (Brand, error) {
	if err := validate(b); err != nil {
		return Brand{}, err
	}
	b.ID, b.OrgID = oktaid.New("bnd"), a.OrgID
	b.Created = s.now().UTC()
	b.Updated = b.Created
	if err := s.store.CreateBrand(ctx, b); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Brand{}, ErrDuplicateName
		}
		return Brand{}, fmt.Errorf("storing brand %q: %w", b.Name, err)
	}
	return b, nil
}

// Get returns a brand the actor may see.
func (s *Service) Get(ctx context.Context, a tenant.Actor, id string) (Brand, error) {
	b, err := s.store.GetBrand(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Brand{}, ErrNotFound
	}
	if err != nil {
		return Brand{}, err
	}
	if !a.Operator && b.OrgID != a.OrgID {
		return Brand{}, ErrNotFound
	}
	return b, nil
}

// List returns a page of the brands the actor may see; q's OrgID and All
// are set from the actor.
func (s *Service) List(ctx context.Context, a tenant.Actor, q ListQuery) ([]Brand, error) {
	q.OrgID, q.All = a.OrgID, a.Operator
	return s.store.ListBrands(ctx, q)
}

// Replace replaces every writable field of the brand b.ID with b's, as
// Okta's PUT does: a field left out is reset.
func (s *Service) Replace(ctx context.Context, a tenant.Actor, b Brand) (Brand, error) {
	cur, err := s.Get(ctx, a, b.ID)
	if err != nil {
		return Brand{}, err
	}
	if err := validate(b); err != nil {
		return Brand{}, err
	}
	b.OrgID, b.Created, b.Updated = cur.OrgID, cur.Created, s.now().UTC()
	switch err := s.store.UpdateBrand(ctx, b); {
	case errors.Is(err, store.ErrConflict):
		return Brand{}, ErrDuplicateName
	case errors.Is(err, store.ErrNotFound):
		return Brand{}, ErrNotFound
	case err != nil:
		return Brand{}, fmt.Errorf("storing brand %s: %w", b.ID, err)
	}
	return b, nil
}

// Delete deletes a brand no domain uses; an *InUseError names the domains
// that still do.
func (s *Service) Delete(ctx context.Context, a tenant.Actor, id string) error {
	if _, err := s.Get(ctx, a, id); err != nil {
		return err
	}
	switch err := s.store.DeleteBrand(ctx, id); {
	case errors.Is(err, store.ErrConflict):
		ids, lerr := s.store.BrandDomains(ctx, id)
		if lerr != nil {
			return fmt.Errorf("brand %s: listing the domains that use it: %w", id, lerr)
		}
		return &InUseError{Domains: ids}
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("deleting brand %s: %w", id, err)
	}
	return nil
}

// Domains returns the ids of the domains that use a brand the actor may
// see.
func (s *Service) Domains(ctx context.Context, a tenant.Actor, id string) ([]string, error) {
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, err
	}
	return s.store.BrandDomains(ctx, id)
}

// ForNewDomain creates the brand a new custom domain of org gets, as Okta
// creates one for every domain, and returns its id. The brand is named
// after the domain; when the org already has a brand of that name (the
// brand of a deleted domain of the same name stays, as in Okta) the new
// one's id is added to make it unique.
func (s *Service) ForNewDomain(ctx context.Context, orgID, domainName string) (string, error) {
	now := s.now().UTC()
	b := Brand{ID: oktaid.New("bnd"), OrgID: orgID, Name: domainName, Created: now, Updated: now}
	err := s.store.CreateBrand(ctx, b)
	if errors.Is(err, store.ErrConflict) {
		b.Name = domainName + " (" + b.ID + ")"
		err = s.store.CreateBrand(ctx, b)
	}
	if err != nil {
		return "", fmt.Errorf("creating the brand of %s: %w", domainName, err)
	}
	return b.ID, nil
}

// Discard deletes a brand made by ForNewDomain whose domain was then not
// stored.
func (s *Service) Discard(ctx context.Context, id string) error {
	if err := s.store.DeleteBrand(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("discarding brand %s: %w", id, err)
	}
	return nil
}

// Assignable returns nil when a domain of org may use the brand brandID
// (it is one of org's brands), and ErrUnknown otherwise.
func (s *Service) Assignable(ctx context.Context, orgID, brandID string) error {
	b, err := s.store.GetBrand(ctx, brandID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrUnknown
	case err != nil:
		return fmt.Errorf("looking up brand %s: %w", brandID, err)
	case b.OrgID != orgID:
		return ErrUnknown
	}
	return nil
}

// validate checks the writable fields; it never changes them, so a brand
// reads back exactly as it was written.
func validate(b Brand) error {
	invalid := func(field, reason string) error { return &errs.FieldError{Field: field, Reason: reason} }
	switch {
	case strings.TrimSpace(b.Name) == "":
		return invalid("name", "required; give the brand a name")
	case utf8.RuneCountInString(b.Name) > MaxName:
		return invalid("name", fmt.Sprintf("at most %d characters", MaxName))
	case !printable(b.Name):
		return invalid("name", "must be valid text without control characters")
	case b.Name == reservedName:
		return invalid("name", reservedName+" is reserved; choose another name")
	}
	if b.Locale != "" {
		if _, err := language.Parse(b.Locale); err != nil || !printable(b.Locale) || len(b.Locale) > 64 {
			return invalid("locale", fmt.Sprintf("%q is not an IETF BCP 47 language tag such as en or fr-CA", b.Locale))
		}
	}
	if b.CustomPrivacyPolicyURL != "" {
		if !webURL(b.CustomPrivacyPolicyURL) {
			return invalid("customPrivacyPolicyUrl", "give an absolute http:// or https:// URL without credentials, such as https://example.com/privacy")
		}
		if !b.AgreeToCustomPrivacyPolicy {
			return invalid("agreeToCustomPrivacyPolicy", "must be true to set customPrivacyPolicyUrl")
		}
	}
	for _, f := range []struct{ name, value string }{
		{"defaultApp.appInstanceId", b.DefaultApp.AppInstanceID},
		{"defaultApp.appLinkName", b.DefaultApp.AppLinkName},
	} {
		if utf8.RuneCountInString(f.value) > MaxField || !printable(f.value) {
			return invalid(f.name, fmt.Sprintf("at most %d characters of text without control characters", MaxField))
		}
	}
	if u := b.DefaultApp.ClassicApplicationURI; u != "" && !webURL(u) {
		return invalid("defaultApp.classicApplicationUri", "give an absolute http:// or https:// URL without credentials")
	}
	if id := b.EmailDomainID; len(id) > 64 || strings.IndexFunc(id, func(r rune) bool { return !isAlnum(r) }) >= 0 {
		return invalid("emailDomainId", "at most 64 letters and digits")
	}
	return nil
}

func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func webURL(s string) bool {
	if len(s) > MaxURL || !printable(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}
