package sqlcommon

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/store/sqlquery"
)

// Brands is brand.Store over a backend's connections; MapErr turns the
// backend's errors into the store package's. A backend embeds it.
type Brands struct {
	Read, Write DB
	Begin       func(ctx context.Context) (Tx, error)
	MapErr      func(error) error
}

var _ brand.Store = Brands{}

const brandCols = `id, org_id, name, locale, custom_privacy_policy_url, agree_to_custom_privacy_policy,
	remove_powered_by_okta, default_app_instance_id, default_app_link_name, default_app_classic_uri,
	email_domain_id, created, updated`

func scanBrand(r scanner) (brand.Brand, error) {
	var b brand.Brand
	var created, updated sql.NullInt64
	err := r.Scan(&b.ID, &b.OrgID, &b.Name, &b.Locale, &b.CustomPrivacyPolicyURL, &b.AgreeToCustomPrivacyPolicy,
		&b.RemovePoweredByOkta, &b.DefaultApp.AppInstanceID, &b.DefaultApp.AppLinkName, &b.DefaultApp.ClassicApplicationURI,
		&b.EmailDomainID, &created, &updated)
	if err != nil {
		return brand.Brand{}, err
	}
	b.Created, b.Updated = DecTime(created), DecTime(updated)
	return b, nil
}

// brandFields returns the values of the writable columns, in brandCols
// order from name to email_domain_id.
func brandFields(b brand.Brand) []any {
	return []any{b.Name, b.Locale, b.CustomPrivacyPolicyURL, b.AgreeToCustomPrivacyPolicy,
		b.RemovePoweredByOkta, b.DefaultApp.AppInstanceID, b.DefaultApp.AppLinkName, b.DefaultApp.ClassicApplicationURI,
		b.EmailDomainID}
}

func (s Brands) CreateBrand(ctx context.Context, b brand.Brand) error {
	ts, err := EncTimes(b.Created, b.Updated)
	if err != nil {
		return fmt.Errorf("creating brand %s: %w", b.ID, err)
	}
	args := append(append([]any{b.ID, b.OrgID}, brandFields(b)...), ts[0], ts[1])
	_, err = s.Write.ExecContext(ctx, `INSERT INTO brands (`+brandCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return fmt.Errorf("creating brand %s: %w", b.ID, s.MapErr(err))
	}
	return nil
}

func (s Brands) GetBrand(ctx context.Context, id string) (brand.Brand, error) {
	b, err := scanBrand(s.Read.QueryRowContext(ctx, `SELECT `+brandCols+` FROM brands WHERE id = ?`, id))
	if err != nil {
		return brand.Brand{}, fmt.Errorf("getting brand %s: %w", id, s.MapErr(err))
	}
	return b, nil
}

// ListBrands pages by id (keyset), like ListDomains.
func (s Brands) ListBrands(ctx context.Context, q brand.ListQuery) ([]brand.Brand, error) {
	if err := CheckLimit(q.Limit); err != nil {
		return nil, fmt.Errorf("listing brands: %w", err)
	}
	b := sqlquery.NewBuilder(sqlquery.Question)
	conds := []string{"id > " + b.Arg(q.After)}
	if !q.All {
		conds = append(conds, "org_id = "+b.Arg(q.OrgID))
	}
	if q.NameContains != "" {
		conds = append(conds, "lower(name) LIKE "+b.Arg("%"+sqlquery.EscapeLike(strings.ToLower(q.NameContains))+"%")+` ESCAPE '\'`)
	}
	query := `SELECT ` + brandCols + ` FROM brands WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY id LIMIT ` + b.Arg(q.Limit)
	rows, err := s.Read.QueryContext(ctx, query, b.Args...)
	if err != nil {
		return nil, fmt.Errorf("listing brands: %w", err)
	}
	defer rows.Close()
	var bs []brand.Brand
	for rows.Next() {
		br, err := scanBrand(rows)
		if err != nil {
			return nil, fmt.Errorf("listing brands: %w", err)
		}
		bs = append(bs, br)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing brands: %w", err)
	}
	return bs, nil
}

func (s Brands) UpdateBrand(ctx context.Context, b brand.Brand) error {
	updated, err := EncTime(b.Updated)
	if err != nil {
		return fmt.Errorf("updating brand %s: %w", b.ID, err)
	}
	args := append(brandFields(b), updated, b.ID)
	res, err := s.Write.ExecContext(ctx, `UPDATE brands SET name = ?, locale = ?, custom_privacy_policy_url = ?,
		agree_to_custom_privacy_policy = ?, remove_powered_by_okta = ?, default_app_instance_id = ?,
		default_app_link_name = ?, default_app_classic_uri = ?, email_domain_id = ?, updated = ? WHERE id = ?`, args...)
	if err != nil {
		return fmt.Errorf("updating brand %s: %w", b.ID, s.MapErr(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("updating brand %s: %w", b.ID, err)
	} else if n == 0 {
		return fmt.Errorf("updating brand %s: %w", b.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteBrand deletes and checks in one write transaction, so no domain
// can start using the brand between the check and the delete.
func (s Brands) DeleteBrand(ctx context.Context, id string) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return fmt.Errorf("deleting brand %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM brands WHERE id = ? AND NOT EXISTS (SELECT 1 FROM domains WHERE brand_id = ?)`, id, id)
	if err != nil {
		return fmt.Errorf("deleting brand %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("deleting brand %s: %w", id, err)
	}
	if n == 0 {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM brands WHERE id = ?`, id).Scan(&exists); err != nil {
			return fmt.Errorf("deleting brand %s: %w", id, err)
		}
		if exists == 0 {
			return fmt.Errorf("deleting brand %s: %w", id, store.ErrNotFound)
		}
		return fmt.Errorf("deleting brand %s: a domain uses it: %w", id, store.ErrConflict)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("deleting brand %s: %w", id, err)
	}
	return nil
}

func (s Brands) BrandDomains(ctx context.Context, id string) ([]string, error) {
	rows, err := s.Read.QueryContext(ctx, `SELECT id FROM domains WHERE brand_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("listing the domains of brand %s: %w", id, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("listing the domains of brand %s: %w", id, err)
		}
		ids = append(ids, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the domains of brand %s: %w", id, err)
	}
	return ids, nil
}

// Scanner is a row to scan: *sql.Row, or a backend's own.
type Scanner interface{ Scan(dest ...any) error }

type scanner = Scanner
