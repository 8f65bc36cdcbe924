package customdomain

import (
	"context"
	"fmt"

	"github.com/hallmark-dev/hallmark/internal/oktaid"
)

// Brands gives custom domains their brands, as Okta does: a new domain gets
// a brand of its own, and a domain moves only to a brand of its org.
// brand.Service implements it. Without one (Config.Brands nil) a brandId is
// a label that nothing checks.
type Brands interface {
	// ForNewDomain creates the brand of a new domain named name in org and
	// returns its id.
	ForNewDomain(ctx context.Context, orgID, name string) (string, error)
	// Discard deletes a brand made by ForNewDomain whose domain was then
	// not stored.
	Discard(ctx context.Context, brandID string) error
	// Assignable returns nil when a domain of org may use brandID, and an
	// error for the API to render (brand.ErrUnknown) otherwise.
	Assignable(ctx context.Context, orgID, brandID string) error
}

// newBrand returns the brand id of a new domain of org named name.
func (s *Service) newBrand(ctx context.Context, orgID, name string) (string, error) {
	if s.cfg.Brands == nil {
		return oktaid.New("bnd"), nil
	}
	id, err := s.cfg.Brands.ForNewDomain(ctx, orgID, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return id, nil
}

// discardBrand undoes newBrand when the domain could not be stored.
func (s *Service) discardBrand(ctx context.Context, name, brandID string) {
	if s.cfg.Brands == nil {
		return
	}
	if err := s.cfg.Brands.Discard(ctx, brandID); err != nil {
		s.logger.Warn("the brand of a domain that was not stored stays", "domain", name, "brandId", brandID, "err", err)
	}
}

// checkBrand refuses a brand the domain's org does not have.
func (s *Service) checkBrand(ctx context.Context, d Domain, brandID string) error {
	if s.cfg.Brands == nil {
		return nil
	}
	return s.cfg.Brands.Assignable(ctx, d.OrgID, brandID)
}
