package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
)

// TestBrandsMigrationGivesOldDomainsTheirBrand replays migration 0004 over
// domains stored before brands were: each brand id the domains name gets a
// brand in its domain's org, so that the brand can be read, and refused
// deletion while the domain uses it.
func TestBrandsMigrationGivesOldDomainsTheirBrand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hallmark.db")
	s, err := Open(t.Context(), path, discard())
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, d := range []customdomain.Domain{
		{ID: "dom1", OrgID: "org1", Name: "login.acme.test", BrandID: "bndOne", Version: 1, Created: created},
		{ID: "dom2", OrgID: "org1", Name: "b.acme.test", BrandID: "bndShared", Version: 1, Created: created},
		{ID: "dom3", OrgID: "org2", Name: "a.beta.test", BrandID: "bndShared", Version: 1, Created: created},
		{ID: "dom4", OrgID: "org2", Name: "no-brand.beta.test", Version: 1, Created: created},
	} {
		if err := s.CreateDomain(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	// Back to the schema before 0004, with the domains in place.
	for _, q := range []string{`DROP INDEX domains_brand`, `DROP TABLE brands`, `DELETE FROM schema_migrations WHERE version = 4`} {
		if _, err := s.write.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s, err = Open(t.Context(), path, discard())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()

	for _, tc := range []struct{ id, org, name string }{
		{"bndOne", "org1", "login.acme.test"},
		{"bndShared", "org1", "a.beta.test (bndShared)"}, // first org, name made unique
	} {
		b, err := s.GetBrand(t.Context(), tc.id)
		if err != nil {
			t.Fatalf("brand %s after the migration: %v", tc.id, err)
		}
		if b.OrgID != tc.org || b.Name != tc.name || !b.Created.Equal(created) {
			t.Errorf("brand %s: got org %q name %q created %v, want %q %q %v", tc.id, b.OrgID, b.Name, b.Created, tc.org, tc.name, created)
		}
	}
	var n int
	if err := s.read.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM brands`).Scan(&n); err != nil || n != 2 {
		t.Errorf("brands after the migration: got %d, %v, want 2 (none for a domain without a brand id)", n, err)
	}
	if err := s.DeleteBrand(t.Context(), "bndOne"); err == nil {
		t.Error("deleting the migrated brand of a domain: got success, want refused")
	}
}
