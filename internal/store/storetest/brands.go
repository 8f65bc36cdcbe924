package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// sameBrand compares brands with times compared as instants.
func sameBrand(t *testing.T, got, want brand.Brand) {
	t.Helper()
	if !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
		t.Errorf("brand %s times: got %v/%v, want %v/%v", want.ID, got.Created, got.Updated, want.Created, want.Updated)
	}
	got.Created, got.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("brand %s:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

func brandIDs(bs []brand.Brand) []string {
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

func runBrands(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("create-get-update", func(t *testing.T) {
		s := open(t)
		full := brand.Brand{
			ID: "bnd-full", OrgID: "org1", Name: "Acme Login", Locale: "fr-CA",
			CustomPrivacyPolicyURL: "https://acme.test/privacy", AgreeToCustomPrivacyPolicy: true, RemovePoweredByOkta: true,
			DefaultApp:    brand.DefaultApp{AppInstanceID: "0oa1", AppLinkName: "portal", ClassicApplicationURI: "https://acme.test/app"},
			EmailDomainID: "OeD1", Created: t0, Updated: t0.Add(time.Second),
		}
		bare := brand.Brand{ID: "bnd-bare", OrgID: "org1", Name: "Bare", Created: t0, Updated: t0}
		for _, b := range []brand.Brand{full, bare} {
			if err := s.CreateBrand(t.Context(), b); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []brand.Brand{full, bare} {
			got, err := s.GetBrand(t.Context(), want.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameBrand(t, got, want)
		}
		if _, err := s.GetBrand(t.Context(), "bnd-none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown brand: got %v, want ErrNotFound", err)
		}
		if err := s.CreateBrand(t.Context(), brand.Brand{ID: "bnd-dup", OrgID: "org1", Name: "Acme Login"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("same name in the same org: got %v, want ErrConflict", err)
		}
		if err := s.CreateBrand(t.Context(), brand.Brand{ID: "bnd-full", OrgID: "org2", Name: "Other"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate id: got %v, want ErrConflict", err)
		}
		if err := s.CreateBrand(t.Context(), brand.Brand{ID: "bnd-org2", OrgID: "org2", Name: "Acme Login"}); err != nil {
			t.Errorf("same name in another org: got %v, want success", err)
		}

		// Update replaces every writable field, the unset ones included.
		upd := bare
		upd.Name, upd.Locale, upd.RemovePoweredByOkta, upd.Updated = "Bare 2", "en", true, t0.Add(time.Hour)
		if err := s.UpdateBrand(t.Context(), upd); err != nil {
			t.Fatal(err)
		}
		reset := brand.Brand{ID: full.ID, OrgID: "ignored", Name: full.Name, Created: t0.Add(time.Hour), Updated: t0.Add(2 * time.Hour)}
		if err := s.UpdateBrand(t.Context(), reset); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetBrand(t.Context(), upd.ID)
		sameBrand(t, got, upd)
		got, _ = s.GetBrand(t.Context(), full.ID)
		sameBrand(t, got, brand.Brand{ID: full.ID, OrgID: full.OrgID, Name: full.Name, Created: full.Created, Updated: reset.Updated})

		dup := upd
		dup.Name = full.Name
		if err := s.UpdateBrand(t.Context(), dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("rename to another brand's name: got %v, want ErrConflict", err)
		}
		if err := s.UpdateBrand(t.Context(), brand.Brand{ID: "bnd-none", Name: "x", Updated: t0}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update unknown: got %v, want ErrNotFound", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		s := open(t)
		for _, b := range []brand.Brand{
			{ID: "bnd3", OrgID: "org1", Name: "Acme Login"},
			{ID: "bnd1", OrgID: "org1", Name: "acme portal"},
			{ID: "bnd2", OrgID: "org1", Name: "100%_off"},
			{ID: "bnd4", OrgID: "org2", Name: "Acme elsewhere"},
			{ID: "bnd5", OrgID: "", Name: "Operator's"},
		} {
			b.Created, b.Updated = t0, t0
			if err := s.CreateBrand(t.Context(), b); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			q    brand.ListQuery
			want []string
		}{
			{"org", brand.ListQuery{OrgID: "org1", Limit: 10}, []string{"bnd1", "bnd2", "bnd3"}},
			{"operator-own", brand.ListQuery{OrgID: "", Limit: 10}, []string{"bnd5"}},
			{"all", brand.ListQuery{All: true, Limit: 10}, []string{"bnd1", "bnd2", "bnd3", "bnd4", "bnd5"}},
			{"page", brand.ListQuery{OrgID: "org1", After: "bnd1", Limit: 1}, []string{"bnd2"}},
			{"name-any-case", brand.ListQuery{OrgID: "org1", NameContains: "ACME", Limit: 10}, []string{"bnd1", "bnd3"}},
			{"name-wildcards-literal", brand.ListQuery{All: true, NameContains: "0%_", Limit: 10}, []string{"bnd2"}},
			{"name-underscore-literal", brand.ListQuery{All: true, NameContains: "_", Limit: 10}, []string{"bnd2"}},
			{"empty", brand.ListQuery{OrgID: "org9", Limit: 10}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bs, err := s.ListBrands(t.Context(), tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if got := brandIDs(bs); !slices.Equal(got, tc.want) {
					t.Errorf("ListBrands(%+v): got %v, want %v", tc.q, got, tc.want)
				}
			})
		}
		if _, err := s.ListBrands(t.Context(), brand.ListQuery{All: true}); err == nil {
			t.Error("limit 0: got success, want an error")
		}
	})

	t.Run("delete-refused-while-used", func(t *testing.T) {
		s := open(t)
		for _, id := range []string{"bnd-a", "bnd-b"} {
			if err := s.CreateBrand(t.Context(), brand.Brand{ID: id, OrgID: "org1", Name: id, Created: t0, Updated: t0}); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []struct{ id, name string }{{"dom2", "two.acme.test"}, {"dom1", "one.acme.test"}} {
			dom := newDomain(d.id, "org1", d.name)
			dom.BrandID = "bnd-a"
			if err := s.CreateDomain(t.Context(), dom); err != nil {
				t.Fatal(err)
			}
		}
		if ids, err := s.BrandDomains(t.Context(), "bnd-a"); err != nil || !slices.Equal(ids, []string{"dom1", "dom2"}) {
			t.Errorf("BrandDomains(bnd-a): got %v, %v, want [dom1 dom2]", ids, err)
		}
		if ids, err := s.BrandDomains(t.Context(), "bnd-b"); err != nil || len(ids) != 0 {
			t.Errorf("BrandDomains(bnd-b): got %v, %v, want none", ids, err)
		}
		if err := s.DeleteBrand(t.Context(), "bnd-a"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("delete a brand in use: got %v, want ErrConflict", err)
		}
		if _, err := s.GetBrand(t.Context(), "bnd-a"); err != nil {
			t.Errorf("the refused delete removed the brand: %v", err)
		}
		// Once both domains moved to another brand, it can go.
		for _, id := range []string{"dom1", "dom2"} {
			if _, err := s.ApplyDomain(t.Context(), id, func(d customdomain.Domain) (customdomain.Change, error) {
				d.BrandID = "bnd-b"
				return customdomain.Change{Domain: d}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteBrand(t.Context(), "bnd-a"); err != nil {
			t.Errorf("delete an unused brand: got %v, want success", err)
		}
		if _, err := s.GetBrand(t.Context(), "bnd-a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteBrand(t.Context(), "bnd-a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete twice: got %v, want ErrNotFound", err)
		}
	})
}
