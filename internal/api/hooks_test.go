package api

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// hookReceiver is a loopback HTTPS endpoint that answers Okta's
// verification challenge; wrong makes it answer with another value.
func hookReceiver(t *testing.T, wrong bool) (*httptest.Server, *x509.CertPool) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get("X-Okta-Verification-Challenge")
		if wrong {
			v += "-wrong"
		}
		json.NewEncoder(w).Encode(map[string]string{"verification": v})
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

// TestOktaSDKEventHooks drives EventHookAPI of the published Okta Go SDK,
// unmodified, through create, get, list, verify, replace, activate,
// deactivate and delete, as the Terraform provider's okta_event_hook does.
func TestOktaSDKEventHooks(t *testing.T) {
	rcv, pool := hookReceiver(t, false)
	e := newEnv(t, envOptions{hookRoots: pool})
	client := e.oktaClient(e.operator).EventHookAPI
	ctx := t.Context()

	cfg := okta.NewEventHookChannelConfig(rcv.URL + "/okta")
	cfg.SetAuthScheme(okta.EventHookChannelConfigAuthScheme{Type: okta.PtrString("HEADER"), Key: okta.PtrString("Authorization"), Value: okta.PtrString("s3cret")})
	cfg.Headers = []okta.EventHookChannelConfigHeader{{Key: okta.PtrString("X-Env"), Value: okta.PtrString("test")}}
	hook := okta.NewEventHook(*okta.NewEventHookChannel(*cfg, "HTTP", "1.0.0"),
		*okta.NewEventSubscriptions([]string{"system.custom_url_domain.verify", "system.custom_url_domain.cert_provision"}, "EVENT_TYPE"), "domain ready")

	created, resp, err := client.CreateEventHook(ctx).EventHook(*hook).Execute()
	if err != nil {
		t.Fatalf("CreateEventHook: %v", err)
	}
	if resp.StatusCode != http.StatusOK || created.GetStatus() != "ACTIVE" || created.GetVerificationStatus() != "UNVERIFIED" {
		t.Fatalf("CreateEventHook: HTTP %d, %s/%s; want 200 ACTIVE/UNVERIFIED as Okta answers", resp.StatusCode, created.GetStatus(), created.GetVerificationStatus())
	}
	id := created.GetId()
	if a := created.Channel.Config.AuthScheme; a == nil || a.GetKey() != "Authorization" || a.Value != nil {
		t.Fatalf("authScheme answered %+v, want the key without the value", a)
	}

	got, _, err := client.GetEventHook(ctx, id).Execute()
	if err != nil || got.GetName() != "domain ready" || got.Channel.Config.Uri != rcv.URL+"/okta" || len(got.Events.Items) != 2 {
		t.Fatalf("GetEventHook = %+v, %v", got, err)
	}
	list, _, err := client.ListEventHooks(ctx).Execute()
	if err != nil || len(list) != 1 || list[0].GetId() != id {
		t.Fatalf("ListEventHooks = %+v, %v", list, err)
	}

	v, _, err := client.VerifyEventHook(ctx, id).Execute()
	if err != nil || v.GetVerificationStatus() != "VERIFIED" {
		t.Fatalf("VerifyEventHook = %v, %v; want VERIFIED", v.GetVerificationStatus(), err)
	}
	got.Channel.Config.Uri = rcv.URL + "/moved"
	r, _, err := client.ReplaceEventHook(ctx, id).EventHook(*got).Execute()
	if err != nil || r.GetVerificationStatus() != "UNVERIFIED" || r.Channel.Config.Uri != rcv.URL+"/moved" {
		t.Fatalf("ReplaceEventHook with a new URI = %v %v, %v; want UNVERIFIED", r.GetVerificationStatus(), r.Channel.Config.Uri, err)
	}

	_, err = client.DeleteEventHook(ctx, id).Execute()
	var oe *okta.GenericOpenAPIError
	if !errors.As(err, &oe) || !strings.Contains(string(oe.Body()), "deactivate") {
		t.Fatalf("DeleteEventHook of an ACTIVE hook = %v, want an Okta error saying to deactivate it", err)
	}
	d, _, err := client.DeactivateEventHook(ctx, id).Execute()
	if err != nil || d.GetStatus() != "INACTIVE" {
		t.Fatalf("DeactivateEventHook = %v, %v", d.GetStatus(), err)
	}
	a, _, err := client.ActivateEventHook(ctx, id).Execute()
	if err != nil || a.GetStatus() != "ACTIVE" {
		t.Fatalf("ActivateEventHook = %v, %v", a.GetStatus(), err)
	}
	if _, _, err := client.DeactivateEventHook(ctx, id).Execute(); err != nil {
		t.Fatal(err)
	}
	if resp, err := client.DeleteEventHook(ctx, id).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteEventHook of an INACTIVE hook = %v; want 204", err)
	}
	if _, _, err := client.GetEventHook(ctx, id).Execute(); !errors.As(err, &oe) || !strings.Contains(string(oe.Body()), "E0000007") {
		t.Fatalf("GetEventHook after delete = %v, want E0000007", err)
	}
}

func hookBody(uri string, items ...string) map[string]any {
	return map[string]any{
		"name":   "hook",
		"events": map[string]any{"type": "EVENT_TYPE", "items": items},
		"channel": map[string]any{"type": "HTTP", "version": "1.0.0", "config": map[string]any{
			"uri": uri, "authScheme": map[string]any{"type": "HEADER", "key": "Authorization", "value": "topsecret-42"}}},
	}
}

func TestEventHooksAPI(t *testing.T) {
	good, pool := hookReceiver(t, false)
	bad, _ := hookReceiver(t, true)
	pool.AddCert(bad.Certificate())
	e := newEnv(t, envOptions{hookRoots: pool})
	_, tokA := e.newOrg("Acme")
	_, tokB := e.newOrg("Beta")

	r := e.do("POST", "/api/v1/eventHooks", tokA, hookBody(good.URL, "system.custom_url_domain.verify"))
	if r.status != http.StatusOK {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "topsecret-42") {
		t.Fatalf("the auth value is echoed: %s", r.body)
	}
	var h struct {
		ID    string `json:"id"`
		Links map[string]struct {
			Href string `json:"href"`
		} `json:"_links"`
	}
	r.decode(t, &h)
	if h.Links["verify"].Href == "" || h.Links["deactivate"].Href == "" {
		t.Errorf("links: got %v, want verify and deactivate", h.Links)
	}

	t.Run("list/bare-array", func(t *testing.T) {
		r := e.do("GET", "/api/v1/eventHooks", tokA, nil)
		var list []map[string]any
		r.decode(t, &list)
		if r.status != http.StatusOK || len(list) != 1 || strings.Contains(string(r.body), "topsecret-42") {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		r = e.do("GET", "/api/v1/eventHooks", tokB, nil)
		if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("another org's list: got %d %s, want []", r.status, r.body)
		}
		r = e.do("GET", "/api/v1/eventHooks", e.operator, nil)
		if r.decode(t, &list); len(list) != 1 {
			t.Fatalf("the operator's list: got %d hooks, want 1", len(list))
		}
	})
	t.Run("fail/other-org", func(t *testing.T) {
		for _, m := range []string{"GET", "DELETE"} {
			e.do(m, "/api/v1/eventHooks/"+h.ID, tokB, nil).wantError(t, http.StatusNotFound, "E0000007")
		}
		e.do("POST", "/api/v1/eventHooks/"+h.ID+"/lifecycle/verify", tokB, nil).wantError(t, http.StatusNotFound, "E0000007")
	})
	t.Run("fail/delete-active", func(t *testing.T) {
		er := e.do("DELETE", "/api/v1/eventHooks/"+h.ID, tokA, nil).wantError(t, http.StatusConflict, "E0000001")
		if !strings.Contains(er.causes(), "deactivate") {
			t.Errorf("causes %q do not say to deactivate", er.causes())
		}
	})
	t.Run("fail/unknown-event-type", func(t *testing.T) {
		er := e.do("POST", "/api/v1/eventHooks", tokA, hookBody(good.URL, "user.session.start")).wantError(t, http.StatusBadRequest, "E0000001")
		if !strings.Contains(er.causes(), "user.session.start") {
			t.Errorf("causes %q do not name the unknown type", er.causes())
		}
	})
	t.Run("fail/verification", func(t *testing.T) {
		r := e.do("POST", "/api/v1/eventHooks", tokA, hookBody(bad.URL, "system.custom_url_domain.verify"))
		var b struct{ ID string }
		r.decode(t, &b)
		er := e.do("POST", "/api/v1/eventHooks/"+b.ID+"/lifecycle/verify", tokA, nil).wantError(t, http.StatusBadRequest, "E0000001")
		if !strings.Contains(er.causes(), "verification") {
			t.Errorf("causes %q do not say why", er.causes())
		}
	})
	t.Run("fail/unknown-op", func(t *testing.T) {
		e.do("POST", "/api/v1/eventHooks/"+h.ID+"/lifecycle/explode", tokA, nil).wantError(t, http.StatusNotFound, "E0000007")
	})
}
