package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookSink is a loopback HTTPS event hook receiver: it answers Okta's
// verification challenge and records the event types and target ids it is
// sent, failing deliveries while failing is set.
type hookSink struct {
	*httptest.Server
	mu      sync.Mutex
	failing bool
	fails   int
	auth    []string
	got     []sunkEvent
}

type sunkEvent struct{ Type, Target string }

func newHookSink(t *testing.T) *hookSink {
	s := &hookSink{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.failing {
			s.fails++
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var body struct {
			EventType string `json:"eventType"`
			Data      struct {
				Events []struct {
					EventType string `json:"eventType"`
					Target    []struct {
						ID string `json:"id"`
					} `json:"target"`
				} `json:"events"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil || body.EventType != "com.okta.event_hook" {
			t.Errorf("delivery body %s: %v", b, err)
		}
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		for _, e := range body.Data.Events {
			var target string
			if len(e.Target) > 0 {
				target = e.Target[0].ID
			}
			s.got = append(s.got, sunkEvent{Type: e.EventType, Target: target})
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookSink) received() []sunkEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// caFile writes the receivers' certificates as a PEM file for
// --event-hooks-ca-file.
func caFile(t *testing.T, sinks ...*hookSink) string {
	var b []byte
	for _, s := range sinks {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	p := filepath.Join(t.TempDir(), "hooks-ca.pem")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveUntil runs serve in this process until stop is called (or the test
// ends); a second call on the same data dir is a restart. args is called
// for each attempt: a port that another process took between freePort and
// serve's listen gets new ports (three attempts).
func serveUntil(t *testing.T, h *hallmark, args func() []string) (stop func()) {
	t.Helper()
	h.t = t
	if h.log == nil {
		h.log = &syncBuffer{} // kept across restarts
	}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		a := args()
		go func() { done <- run(ctx, a, h.log, h.log) }()
		err := h.up(done)
		if err == nil {
			var once sync.Once
			stop = func() {
				once.Do(func() {
					cancel()
					select {
					case err := <-done:
						if err != nil {
							t.Errorf("serve: %v", err)
						}
					case <-time.After(30 * time.Second):
						t.Error("serve did not stop within 30s of its context ending")
					}
					if t.Failed() {
						t.Logf("hallmark log:\n%s", h.log.String())
					}
				})
			}
			t.Cleanup(stop)
			return stop
		}
		cancel()
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("%v\n%s", err, h.log.String())
		}
		h.httpPort, h.httpsPort = 0, 0 // new ports for the next attempt
	}
}

func hookRequest(uri string) map[string]any {
	return map[string]any{
		"name":   "domain ready",
		"events": map[string]any{"type": "EVENT_TYPE", "items": []string{"system.custom_url_domain.verify", "system.custom_url_domain.cert_provision"}},
		"channel": map[string]any{"type": "HTTP", "version": "1.0.0", "config": map[string]any{
			"uri": uri, "authScheme": map[string]any{"type": "HEADER", "key": "Authorization", "value": "hook-secret-7"}}},
	}
}

type e2eHook struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	VerificationStatus string `json:"verificationStatus"`
	LastDelivery       *struct {
		Status   string `json:"status"`
		HTTPCode int    `json:"httpCode"`
		Attempts int    `json:"attempts"`
	} `json:"lastDelivery"`
}

func (h *hallmark) newOrgToken(name string) string {
	h.t.Helper()
	var org struct{ ID string }
	if st := h.call("POST", "/api/v1/orgs", e2eToken, map[string]string{"name": name}, &org); st != 201 {
		h.t.Fatalf("create org: %d", st)
	}
	var tok struct{ Token string }
	if st := h.call("POST", "/api/v1/orgs/"+org.ID+"/tokens", e2eToken, map[string]string{"name": "admin"}, &tok); st != 201 {
		h.t.Fatalf("create token: %d", st)
	}
	return tok.Token
}

func (h *hallmark) verifiedHook(token, uri string) e2eHook {
	h.t.Helper()
	var hk e2eHook
	if st := h.call("POST", "/api/v1/eventHooks", token, hookRequest(uri), &hk); st != 200 || hk.VerificationStatus != "UNVERIFIED" {
		h.t.Fatalf("create hook: %d %+v", st, hk)
	}
	if st := h.call("POST", "/api/v1/eventHooks/"+hk.ID+"/lifecycle/verify", token, nil, &hk); st != 200 || hk.VerificationStatus != "VERIFIED" {
		h.t.Fatalf("verify hook: %d %+v", st, hk)
	}
	return hk
}

// TestServeEventHooks: a person subscribes an HTTPS endpoint to "domain
// verified" and "certificate issued" (built-in CA) and receives them,
// also when the endpoint fails at first and serve restarts meanwhile; a
// hook of org A never receives org B's events; without
// --event-hooks-allow-private a loopback URL is refused.
func TestServeEventHooks(t *testing.T) {
	world := newWorld(t)
	sinkA, sinkB := newHookSink(t), newHookSink(t)

	t.Run("fail/private-without-flag", func(t *testing.T) {
		h := &hallmark{}
		stop := serveUntil(t, h, func() []string { return serveArgs(t, h, world) })
		defer stop()
		var e struct {
			ErrorCode   string
			ErrorCauses []struct{ ErrorSummary string }
		}
		if st := h.call("POST", "/api/v1/eventHooks", e2eToken, hookRequest(sinkA.URL), &e); st != 400 || e.ErrorCode != "E0000001" ||
			len(e.ErrorCauses) != 1 || !strings.Contains(e.ErrorCauses[0].ErrorSummary, "not a public address") {
			t.Fatalf("loopback hook without the flag: got %d %+v, want 400 E0000001 naming the address", st, e)
		}
		// A name is resolved through --dns-resolvers, as every look-up is.
		world.Set("hooks.acme.test. 300 IN A 10.9.8.7")
		if st := h.call("POST", "/api/v1/eventHooks", e2eToken, hookRequest("https://hooks.acme.test/in"), &e); st != 400 ||
			len(e.ErrorCauses) != 1 || !strings.Contains(e.ErrorCauses[0].ErrorSummary, "hooks.acme.test resolves to 10.9.8.7, not a public address") {
			t.Fatalf("hook on a name with a private address: got %d %+v, want 400 naming the name and its address", st, e)
		}
	})

	h := &hallmark{}
	args := func() []string {
		return serveArgs(t, h, world, "--watch-interval", "300ms", "--event-hooks-allow-private", "--event-hooks-ca-file", caFile(t, sinkA, sinkB))
	}
	stop := serveUntil(t, h, args)
	acme, beta := h.newOrgToken("Acme"), h.newOrgToken("Beta")
	hookA := h.verifiedHook(acme, sinkA.URL+"/acme")
	h.verifiedHook(beta, sinkB.URL+"/beta")

	sinkA.mu.Lock()
	sinkA.failing = true
	sinkA.mu.Unlock()
	da := h.create(acme, "login.acme.test", "OKTA_MANAGED")
	db := h.create(beta, "id.acme.test", "OKTA_MANAGED")
	for tok, d := range map[string]e2eDomain{acme: da, beta: db} {
		publish(world, d)
		h.verify(tok, d.ID)
		h.waitDomain(tok, d.ID, 30*time.Second, "COMPLETED", status("COMPLETED"))
	}

	// Two failed deliveries to A's receiver, then serve stops.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var hk e2eHook
		h.call("GET", "/api/v1/eventHooks/"+hookA.ID, acme, nil, &hk)
		if hk.LastDelivery != nil && hk.LastDelivery.Attempts >= 2 {
			if hk.LastDelivery.Status != "FAILURE" || hk.LastDelivery.HTTPCode != 503 {
				t.Fatalf("last delivery %+v, want FAILURE with HTTP 503", hk.LastDelivery)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two failed deliveries within 30s: %+v", hk.LastDelivery)
		}
		time.Sleep(100 * time.Millisecond)
	}
	failures := h.events("event_hook.delivery", hookA.ID)
	if len(failures) < 2 || failures[0]["outcome"].(map[string]any)["result"] != "FAILURE" {
		t.Fatalf("delivery failure events naming %s: got %v, want at least 2 FAILURE", hookA.ID, failures)
	}
	stop()
	if got := sinkA.received(); len(got) != 0 {
		t.Fatalf("A's failing receiver recorded %v", got)
	}

	// The receiver recovers; a restarted serve delivers what was committed.
	sinkA.mu.Lock()
	sinkA.failing = false
	sinkA.mu.Unlock()
	serveUntil(t, h, args)
	want := []sunkEvent{{"system.custom_url_domain.verify", da.ID}, {"system.custom_url_domain.cert_provision", da.ID}}
	deadline = time.Now().Add(60 * time.Second)
	for !containsAll(sinkA.received(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("A's receiver got %v after recovering, want %v", sinkA.received(), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, e := range sinkA.received() {
		if e.Target == db.ID {
			t.Errorf("A's hook received org B's event %+v", e)
		}
	}
	if got := sinkB.received(); !containsAll(got, []sunkEvent{{"system.custom_url_domain.verify", db.ID}, {"system.custom_url_domain.cert_provision", db.ID}}) || containsAny(got, da.ID) {
		t.Errorf("B's receiver got %v, want B's domain's events only", got)
	}
	sinkA.mu.Lock()
	auth := slices.Clone(sinkA.auth)
	sinkA.mu.Unlock()
	if len(auth) == 0 || auth[0] != "hook-secret-7" {
		t.Errorf("Authorization sent: %v, want the hook's auth value", auth)
	}
	if strings.Contains(h.log.String(), "hook-secret-7") {
		t.Error("the hook's auth value is in serve's log")
	}
}

func containsAll(got, want []sunkEvent) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func containsAny(got []sunkEvent, target string) bool {
	return slices.ContainsFunc(got, func(e sunkEvent) bool { return e.Target == target })
}
