package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// TestOktaSDK drives the API with the published Okta Go SDK, unmodified:
// CustomDomainAPI through create, read, list, verify, brand, delete and the
// not-found error, and SystemLogAPI with a filter and paging.
func TestOktaSDK(t *testing.T) {
	e := newEnv(t, envOptions{})
	client := e.oktaClient(e.operator)
	ctx := t.Context()

	created, cresp, err := client.CustomDomainAPI.CreateCustomDomain(ctx).
		Domain(okta.DomainRequest{Domain: "id.acme.test", CertificateSourceType: "OKTA_MANAGED"}).Execute()
	if err != nil {
		t.Fatalf("CreateCustomDomain: %v", err)
	}
	if cresp.StatusCode != http.StatusOK {
		t.Fatalf("CreateCustomDomain status = %d, want 200 as Okta's spec lists", cresp.StatusCode)
	}
	id := created.GetId()
	if created.GetDomain() != "id.acme.test" || created.GetValidationStatus() != "NOT_STARTED" || len(created.DnsRecords) < 2 {
		t.Fatalf("created %+v, want id.acme.test NOT_STARTED with TXT and CNAME records", created)
	}
	var d domainResp
	d.ID, d.Domain = id, created.GetDomain()
	for _, r := range created.DnsRecords {
		d.DNSRecords = append(d.DNSRecords, struct {
			RecordType string   `json:"recordType"`
			FQDN       string   `json:"fqdn"`
			Values     []string `json:"values"`
			Expiration string   `json:"expiration"`
		}{RecordType: r.GetRecordType(), FQDN: r.GetFqdn(), Values: r.Values})
	}

	got, _, err := client.CustomDomainAPI.GetCustomDomain(ctx, id).Execute()
	if err != nil || got.GetId() != id {
		t.Fatalf("GetCustomDomain = %v, %v", got, err)
	}
	if _, ok := got.AdditionalProperties["diagnosis"]; !ok {
		t.Fatalf("Hallmark's diagnosis is not in the body the SDK read: %v", got.AdditionalProperties)
	}

	list, _, err := client.CustomDomainAPI.ListCustomDomains(ctx).Execute()
	if err != nil || len(list.Domains) != 1 || list.Domains[0].GetId() != id {
		t.Fatalf("ListCustomDomains = %+v, %v", list, err)
	}

	v, _, err := client.CustomDomainAPI.VerifyDomain(ctx, id).Execute()
	if err != nil || v.GetValidationStatus() != "IN_PROGRESS" {
		t.Fatalf("VerifyDomain before publishing = %v, %v; want IN_PROGRESS", v.GetValidationStatus(), err)
	}
	e.publish(d)
	v, _, err = client.CustomDomainAPI.VerifyDomain(ctx, id).Execute()
	if err != nil || v.GetValidationStatus() != "VERIFIED" {
		t.Fatalf("VerifyDomain after publishing = %v, %v; want VERIFIED", v.GetValidationStatus(), err)
	}
	if v.Links == nil || v.Links.Certificate == nil {
		t.Fatalf("a verified domain's links lack certificate: %+v", v.Links)
	}

	acme, _, err := client.BrandsAPI.CreateBrand(ctx).CreateBrandRequest(okta.CreateBrandRequest{Name: "Acme"}).Execute()
	if err != nil {
		t.Fatalf("CreateBrand: %v", err)
	}
	b, _, err := client.CustomDomainAPI.ReplaceCustomDomain(ctx, id).UpdateDomain(okta.UpdateDomain{BrandId: acme.GetId()}).Execute()
	if err != nil || b.GetBrandId() != acme.GetId() {
		t.Fatalf("ReplaceCustomDomain = %v, %v, want brand %s", b.GetBrandId(), err, acme.GetId())
	}

	_, _, err = client.CustomDomainAPI.GetCustomDomain(ctx, "domNoSuchDomain00000").Execute()
	var oe *okta.GenericOpenAPIError
	if !errors.As(err, &oe) {
		t.Fatalf("GetCustomDomain(unknown) error = %v, want a GenericOpenAPIError", err)
	}
	if m, ok := oe.Model().(okta.Error); !ok || m.GetErrorCode() != "E0000163" {
		t.Fatalf("error model = %#v, want errorCode E0000163", oe.Model())
	}

	// System log: the custom-domain events, filtered, two per page.
	events, resp, err := client.SystemLogAPI.ListLogEvents(ctx).
		Filter(`eventType sw "system.custom_url_domain" and target.id eq "` + id + `"`).
		Since(time.Now().Add(-time.Hour)).Limit(2).Execute()
	if err != nil {
		t.Fatalf("ListLogEvents: %v", err)
	}
	var types []string
	for _, ev := range events {
		types = append(types, ev.GetEventType())
	}
	for resp.HasNextPage() && len(types) < 50 {
		var more []okta.LogEvent
		resp, err = resp.Next(&more)
		if err != nil {
			t.Fatalf("next page: %v", err)
		}
		if len(more) == 0 {
			break
		}
		for _, ev := range more {
			types = append(types, ev.GetEventType())
		}
	}
	want := []string{
		"system.custom_url_domain.initiate",
		"system.custom_url_domain.verify",
		"system.custom_url_domain.verify",
		"system.custom_url_domain.update",
	}
	if !slices.Equal(types, want) {
		t.Fatalf("events through the SDK = %v, want %v", types, want)
	}

	if _, err := client.CustomDomainAPI.DeleteCustomDomain(ctx, id).Execute(); err != nil {
		t.Fatalf("DeleteCustomDomain: %v", err)
	}
	if _, _, err := client.CustomDomainAPI.GetCustomDomain(ctx, id).Execute(); err == nil {
		t.Fatal("GetCustomDomain after delete succeeded")
	}
}

// oktaClient is the published Okta Go SDK pointed at the env's API with
// token, unmodified but for the port it drops.
func (e *env) oktaClient(token string) *okta.APIClient {
	e.t.Helper()
	u, _ := url.Parse(e.srv.URL)
	cfg, err := okta.NewConfiguration(
		okta.WithOrgUrl(e.srv.URL),
		okta.WithToken(token),
		okta.WithTestingDisableHttpsCheck(true),
		okta.WithCache(false),
		okta.WithRateLimitMaxRetries(0),
	)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Host = u.Host // the SDK drops the port of an http:// org URL
	return okta.NewAPIClient(cfg)
}
