package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// sdkErrorCode returns the HTTP status and Okta errorCode of an SDK call's
// failure.
func sdkErrorCode(t *testing.T, resp *okta.APIResponse, err error) (int, string) {
	t.Helper()
	var oe *okta.GenericOpenAPIError
	if !errors.As(err, &oe) || resp == nil {
		t.Fatalf("error = %v (%T), want a GenericOpenAPIError with a response", err, err)
	}
	m, ok := oe.Model().(okta.Error)
	if !ok {
		t.Fatalf("error model = %#v, want okta.Error; body %s", oe.Model(), oe.Body())
	}
	return resp.StatusCode, m.GetErrorCode()
}

// TestOktaSDKBrands drives BrandsAPI with the published Okta Go SDK,
// unmodified, as the Terraform provider's okta_brand does: create, replace
// with every field, read back exactly what was written, list, the refusal
// of a brand in use, delete.
func TestOktaSDKBrands(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, tok := e.newOrg("Acme")
	client := e.oktaClient(tok)
	ctx := t.Context()

	created, resp, err := client.BrandsAPI.CreateBrand(ctx).CreateBrandRequest(okta.CreateBrandRequest{Name: "Acme Login"}).Execute()
	if err != nil {
		t.Fatalf("CreateBrand: %v", err)
	}
	if resp.StatusCode != http.StatusCreated || created.GetName() != "Acme Login" || created.GetIsDefault() || created.GetId() == "" {
		t.Fatalf("CreateBrand = %d %+v, want 201, the name, isDefault false and an id", resp.StatusCode, created)
	}
	id := created.GetId()
	if created.DefaultApp == nil || created.DefaultApp.AppInstanceId != nil || created.Locale != nil || created.CustomPrivacyPolicyUrl != nil {
		t.Fatalf("a new brand = %+v, want defaultApp {} and locale and customPrivacyPolicyUrl null", created)
	}

	// okta_brand's create: POST, then PUT with the plan's fields, then GET.
	req := okta.BrandRequest{
		Name: "Acme Login", Locale: okta.PtrString("fr-CA"),
		CustomPrivacyPolicyUrl: okta.PtrString("https://acme.test/privacy"), AgreeToCustomPrivacyPolicy: okta.PtrBool(true),
		RemovePoweredByOkta: okta.PtrBool(true),
		DefaultApp: &okta.DefaultApp{AppInstanceId: okta.PtrString("0oa1234"), AppLinkName: okta.PtrString("portal"),
			ClassicApplicationUri: okta.PtrString("https://acme.test/app")},
		EmailDomainId: okta.PtrString("OeD1234"),
	}
	replaced, _, err := client.BrandsAPI.ReplaceBrand(ctx, id).Brand(req).Execute()
	if err != nil || replaced.GetId() != id {
		t.Fatalf("ReplaceBrand = %+v, %v", replaced, err)
	}
	got, _, err := client.BrandsAPI.GetBrand(ctx, id).Execute()
	if err != nil {
		t.Fatalf("GetBrand: %v", err)
	}
	readBack := okta.BrandRequest{
		Name: got.GetName(), Locale: got.Locale, CustomPrivacyPolicyUrl: got.CustomPrivacyPolicyUrl,
		AgreeToCustomPrivacyPolicy: got.AgreeToCustomPrivacyPolicy, RemovePoweredByOkta: got.RemovePoweredByOkta,
		DefaultApp: got.DefaultApp, EmailDomainId: got.EmailDomainId,
	}
	if a, b := mustJSON(t, readBack), mustJSON(t, req); a != b {
		t.Fatalf("read back %s, want what was written %s (a Terraform plan would show drift)", a, b)
	}
	if got.Links == nil || got.Links.Self == nil || got.Links.Self.Href == "" {
		t.Fatalf("_links = %+v, want self", got.Links)
	}

	// A PUT that leaves fields out resets them, as Okta's does.
	if _, _, err := client.BrandsAPI.ReplaceBrand(ctx, id).Brand(okta.BrandRequest{Name: "Acme Login"}).Execute(); err != nil {
		t.Fatalf("ReplaceBrand(name only): %v", err)
	}
	got, _, _ = client.BrandsAPI.GetBrand(ctx, id).Execute()
	if got.Locale != nil || got.CustomPrivacyPolicyUrl != nil || got.GetRemovePoweredByOkta() || got.DefaultApp.AppLinkName != nil || got.EmailDomainId != nil {
		t.Fatalf("after a PUT of the name only: %+v, want the other fields unset", got)
	}

	list, _, err := client.BrandsAPI.ListBrands(ctx).Q("acme").Execute()
	if err != nil {
		t.Fatalf("ListBrands: %v", err)
	}
	var ids []string
	for _, b := range list {
		ids = append(ids, b.GetId())
	}
	if !slices.Contains(ids, id) {
		t.Fatalf("ListBrands(q=acme) = %v, want it to hold %s", ids, id)
	}

	// The brand a new domain came with is in use until the domain leaves it.
	d, _, err := client.CustomDomainAPI.CreateCustomDomain(ctx).
		Domain(okta.DomainRequest{Domain: "login.acme.test", CertificateSourceType: "MANUAL"}).Execute()
	if err != nil {
		t.Fatalf("CreateCustomDomain: %v", err)
	}
	auto := d.GetBrandId()
	resp, err = client.BrandsAPI.DeleteBrand(ctx, auto).Execute()
	if status, code := sdkErrorCode(t, resp, err); status != http.StatusConflict || code != "E0000201" {
		t.Fatalf("DeleteBrand(a brand in use) = %d %s, want 409 E0000201", status, code)
	}
	if _, _, err := client.BrandsAPI.GetBrand(ctx, auto).Execute(); err != nil {
		t.Fatalf("the refused delete removed the brand: %v", err)
	}

	if resp, err := client.BrandsAPI.DeleteBrand(ctx, id).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteBrand = %v, %v, want 204", resp, err)
	}
	_, resp, err = client.BrandsAPI.GetBrand(ctx, id).Execute()
	if status, code := sdkErrorCode(t, resp, err); status != http.StatusNotFound || code != "E0000007" {
		t.Fatalf("GetBrand after delete = %d %s, want 404 E0000007", status, code)
	}
}

// TestTerraformDomainWithBrand is the sequence the Okta Terraform
// provider's okta_domain runs when brand_id is set, through the Okta Go SDK
// v5 it uses: create the domain, move it to the brand, delete the brand the
// domain came with, read the domain back, delete it.
func TestTerraformDomainWithBrand(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ name, token string }{{"ok/org-token", ""}, {"ok/operator", e.operator}} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				_, token = e.newOrg("Acme")
			}
			client := e.oktaClient(token)
			ctx := t.Context()
			target, _, err := client.BrandsAPI.CreateBrand(ctx).CreateBrandRequest(okta.CreateBrandRequest{Name: "Managed by Terraform"}).Execute()
			if err != nil {
				t.Fatalf("CreateBrand: %v", err)
			}

			created, _, err := client.CustomDomainAPI.CreateCustomDomain(ctx).
				Domain(okta.DomainRequest{Domain: "tf.acme.test", CertificateSourceType: "MANUAL"}).Execute()
			if err != nil {
				t.Fatalf("CreateCustomDomain: %v", err)
			}
			if created.BrandId == nil || *created.BrandId == "" {
				t.Fatal("the created domain has no brandId: the provider dereferences it and would panic")
			}
			auto := *created.BrandId
			ab, _, err := client.BrandsAPI.GetBrand(ctx, auto).Execute()
			if err != nil || ab.GetName() != "tf.acme.test" {
				t.Fatalf("the domain's own brand = %+v, %v, want a brand named after the domain", ab, err)
			}

			moved, _, err := client.CustomDomainAPI.ReplaceCustomDomain(ctx, created.GetId()).
				UpdateDomain(okta.UpdateDomain{BrandId: target.GetId()}).Execute()
			if err != nil || moved.GetBrandId() != target.GetId() {
				t.Fatalf("ReplaceCustomDomain = %v, %v, want brand %s", moved.GetBrandId(), err, target.GetId())
			}
			if resp, err := client.BrandsAPI.DeleteBrand(ctx, auto).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteBrand(the domain's former brand) = %v, %v, want 204", resp, err)
			}
			back, _, err := client.CustomDomainAPI.GetCustomDomain(ctx, created.GetId()).Execute()
			if err != nil || back.GetBrandId() != target.GetId() || back.GetDomain() != "tf.acme.test" {
				t.Fatalf("GetCustomDomain = %+v, %v, want tf.acme.test on brand %s", back, err, target.GetId())
			}
			if _, err := client.CustomDomainAPI.DeleteCustomDomain(ctx, created.GetId()).Execute(); err != nil {
				t.Fatalf("DeleteCustomDomain: %v", err)
			}
			// The brand outlives the domain, as in Okta, and is free again.
			if resp, err := client.BrandsAPI.DeleteBrand(ctx, target.GetId()).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteBrand(the target brand after the domain went) = %v, %v, want 204", resp, err)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
