package brand_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

var _ customdomain.Brands = (*brand.Service)(nil)

func newService(t *testing.T) (*brand.Service, *sqlite.Store) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hallmark.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return brand.NewService(st, logger), st
}

var (
	acme     = tenant.Actor{OrgID: "orgAcme", ID: "tokA"}
	beta     = tenant.Actor{OrgID: "orgBeta", ID: "tokB"}
	operator = tenant.Actor{Operator: true, ID: "tokOp"}
)

func TestCreateValidates(t *testing.T) {
	s, _ := newService(t)
	for _, tc := range []struct {
		name  string
		b     brand.Brand
		field string // "" for accepted
	}{
		{"ok/name-only", brand.Brand{Name: "Acme"}, ""},
		{"ok/every-field", brand.Brand{Name: "Acme Full", Locale: "zh-Hant-TW", CustomPrivacyPolicyURL: "https://acme.test/p",
			AgreeToCustomPrivacyPolicy: true, RemovePoweredByOkta: true, EmailDomainID: "OeD123",
			DefaultApp: brand.DefaultApp{AppInstanceID: "0oa1", AppLinkName: "portal", ClassicApplicationURI: "http://acme.test/app"}}, ""},
		{"ok/name-kept-as-given", brand.Brand{Name: " Spaced name "}, ""},
		{"fail/empty-name", brand.Brand{}, "name"},
		{"fail/long-name", brand.Brand{Name: strings.Repeat("é", brand.MaxName+1)}, "name"},
		{"fail/invalid-utf8", brand.Brand{Name: "a\xffb"}, "name"},
		{"fail/reserved", brand.Brand{Name: "DRAPP_DOMAIN_BRAND"}, "name"},
		{"fail/locale", brand.Brand{Name: "x1", Locale: "english please"}, "locale"},
		{"fail/privacy-no-consent", brand.Brand{Name: "x2", CustomPrivacyPolicyURL: "https://acme.test/p"}, "agreeToCustomPrivacyPolicy"},
		{"fail/privacy-relative", brand.Brand{Name: "x3", CustomPrivacyPolicyURL: "/privacy", AgreeToCustomPrivacyPolicy: true}, "customPrivacyPolicyUrl"},
		{"fail/privacy-credentials", brand.Brand{Name: "x4", CustomPrivacyPolicyURL: "https://u:p@acme.test/", AgreeToCustomPrivacyPolicy: true}, "customPrivacyPolicyUrl"},
		{"fail/app-link-control", brand.Brand{Name: "x5", DefaultApp: brand.DefaultApp{AppLinkName: "a\nb"}}, "defaultApp.appLinkName"},
		{"fail/classic-uri", brand.Brand{Name: "x6", DefaultApp: brand.DefaultApp{ClassicApplicationURI: "ftp://acme.test"}}, "defaultApp.classicApplicationUri"},
		{"fail/email-domain-id", brand.Brand{Name: "x7", EmailDomainID: "a b"}, "emailDomainId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Create(t.Context(), acme, tc.b)
			var ie *errs.FieldError
			if tc.field != "" {
				if !errors.As(err, &ie) || ie.Field != tc.field {
					t.Fatalf("got %v, want an InvalidError on %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := s.Get(t.Context(), acme, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.b
			want.ID, want.OrgID, want.Created, want.Updated = got.ID, acme.OrgID, back.Created, back.Updated
			if back != want {
				t.Fatalf("read back %+v, want %+v", back, want)
			}
		})
	}
}

func TestScopedToOrg(t *testing.T) {
	s, _ := newService(t)
	b, err := s.Create(t.Context(), acme, brand.Brand{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), beta, b.ID); !errors.Is(err, brand.ErrNotFound) {
		t.Errorf("another org's Get: got %v, want ErrNotFound", err)
	}
	if _, err := s.Replace(t.Context(), beta, brand.Brand{ID: b.ID, Name: "Mine"}); !errors.Is(err, brand.ErrNotFound) {
		t.Errorf("another org's Replace: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), beta, b.ID); !errors.Is(err, brand.ErrNotFound) {
		t.Errorf("another org's Delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.Get(t.Context(), operator, b.ID); err != nil {
		t.Errorf("operator's Get: got %v, want the brand", err)
	}
	if _, err := s.Create(t.Context(), beta, brand.Brand{Name: "Acme"}); err != nil {
		t.Errorf("the same name in another org: got %v, want success", err)
	}
	if _, err := s.Create(t.Context(), acme, brand.Brand{Name: "Acme"}); !errors.Is(err, brand.ErrDuplicateName) {
		t.Errorf("the same name in the same org: got %v, want ErrDuplicateName", err)
	}
	if err := s.Assignable(t.Context(), beta.OrgID, b.ID); !errors.Is(err, brand.ErrUnknown) {
		t.Errorf("Assignable to another org's domain: got %v, want ErrUnknown", err)
	}
	if err := s.Assignable(t.Context(), acme.OrgID, "bndMissing"); !errors.Is(err, brand.ErrUnknown) {
		t.Errorf("Assignable(unknown): got %v, want ErrUnknown", err)
	}
	if err := s.Assignable(t.Context(), acme.OrgID, b.ID); err != nil {
		t.Errorf("Assignable(own brand): got %v, want nil", err)
	}
	mine, err := s.List(t.Context(), acme, brand.ListQuery{Limit: 10})
	if err != nil || len(mine) != 1 || mine[0].ID != b.ID {
		t.Errorf("org's List: got %v, %v, want only its brand", mine, err)
	}
}

func TestDomainBrands(t *testing.T) {
	s, st := newService(t)
	id, err := s.ForNewDomain(t.Context(), acme.OrgID, "login.acme.test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Get(t.Context(), acme, id)
	if err != nil || b.Name != "login.acme.test" {
		t.Fatalf("the new domain's brand: got %+v, %v, want one named after the domain", b, err)
	}
	// The name is taken (the brand of an earlier domain of that name).
	id2, err := s.ForNewDomain(t.Context(), acme.OrgID, "login.acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := s.Get(t.Context(), acme, id2); id2 == id || b2.Name != "login.acme.test ("+id2+")" {
		t.Fatalf("second brand for the same name: got %+v, want a new one named with its id", b2)
	}

	for _, d := range []customdomain.Domain{
		{ID: "dom2", OrgID: acme.OrgID, Name: "login.acme.test", BrandID: id, Version: 1},
		{ID: "dom1", OrgID: acme.OrgID, Name: "sso.acme.test", BrandID: id, Version: 1},
	} {
		if err := st.CreateDomain(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Delete(t.Context(), acme, id)
	var iu *brand.InUseError
	if !errors.As(err, &iu) || !slices.Equal(iu.Domains, []string{"dom1", "dom2"}) {
		t.Fatalf("Delete(a brand in use): got %v, want an InUseError naming dom1 and dom2", err)
	}
	if ds, err := s.Domains(t.Context(), acme, id); err != nil || !slices.Equal(ds, []string{"dom1", "dom2"}) {
		t.Errorf("Domains: got %v, %v", ds, err)
	}
	if err := s.Discard(t.Context(), id2); err != nil {
		t.Fatal(err)
	}
	if err := s.Discard(t.Context(), id2); err != nil {
		t.Errorf("Discard twice: got %v, want nil", err)
	}
	if _, err := s.Get(t.Context(), acme, id2); !errors.Is(err, brand.ErrNotFound) {
		t.Errorf("after Discard: got %v, want ErrNotFound", err)
	}
}
