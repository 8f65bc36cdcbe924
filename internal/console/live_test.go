package console

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/servicetest"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

func decodeJSON[T any](t *testing.T, p page) T {
	t.Helper()
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; body:\n%s", ct, p.body)
	}
	var v T
	if err := json.Unmarshal([]byte(p.body), &v); err != nil {
		t.Fatalf("decoding %s: %v", p.body, err)
	}
	return v
}

func TestLiveStatus(t *testing.T) {
	e := newEnv(t, envOptions{})
	aID, aToken := e.newOrg("Acme")
	bID, _ := e.newOrg("Bravo")
	da := e.createDomain(aID, "login.acme.test")
	db := e.createDomain(bID, "sso.acme.test")

	t.Run("fail/signed-out", func(t *testing.T) {
		anon := e.browser()
		for _, path := range []string{"/domains/" + da.ID + "/status", "/domains/status"} {
			p := anon.get(path)
			wantStatus(t, p, http.StatusUnauthorized)
			if got := decodeJSON[jsonError](t, p); !strings.Contains(got.Error, "session has ended") {
				t.Errorf("GET %s signed out: error %q", path, got.Error)
			}
			if strings.Contains(p.body, da.Name) {
				t.Errorf("GET %s signed out names the domain", path)
			}
		}
	})

	a := e.browser()
	a.signIn(aToken)

	t.Run("ok/own-domain", func(t *testing.T) {
		p := a.get("/domains/" + da.ID + "/status")
		wantStatus(t, p, http.StatusOK)
		got := decodeJSON[liveStatus](t, p)
		if got.ID != da.ID || got.Status.Words != "Waiting for DNS" || got.Status.Kind != "wait" || got.NextCheckIn == nil {
			t.Errorf("status = %+v, want %s waiting for DNS with a next check", got, da.ID)
		}
		page := a.get("/domains/" + da.ID)
		wantContains(t, page, `data-live="/domains/`+da.ID+`/status" data-page="/domains/`+da.ID+`" data-version="`+got.Version+`"`)
	})

	t.Run("fail/other-org", func(t *testing.T) {
		p := a.get("/domains/" + db.ID + "/status")
		wantStatus(t, p, http.StatusNotFound)
		decodeJSON[jsonError](t, p)
		if strings.Contains(p.body, db.Name) {
			t.Errorf("another org's status names its domain: %s", p.body)
		}
		list := decodeJSON[liveList](t, a.get("/domains/status"))
		if len(list.Domains) != 1 || list.Domains[0].ID != da.ID {
			t.Errorf("org A's list status = %+v, want only %s", list.Domains, da.ID)
		}
	})

	t.Run("fail/bad-page-link", func(t *testing.T) {
		p := a.get("/domains/status?after=garbage")
		wantStatus(t, p, http.StatusBadRequest)
		decodeJSON[jsonError](t, p)
	})

	t.Run("ok/changes-after-verify", func(t *testing.T) {
		before := decodeJSON[liveStatus](t, a.get("/domains/"+da.ID+"/status"))
		list := decodeJSON[liveList](t, a.get("/domains/status"))
		wantContains(t, a.get("/domains"), `data-version="`+list.Version+`"`)

		e.publish(da, `"`+da.Token+`"`)
		if _, _, err := e.domains.Verify(t.Context(), customdomain.Actor{OrgID: aID}, da.ID); err != nil {
			t.Fatal(err)
		}
		after := decodeJSON[liveStatus](t, a.get("/domains/"+da.ID+"/status"))
		if after.Version == before.Version || after.Status.Words != "Verified" || after.Status.Kind != "ok" {
			t.Errorf("after verify: %+v (before %+v), want a new version and Verified", after, before)
		}
		if got := decodeJSON[liveList](t, a.get("/domains/status")); got.Version == list.Version || got.Domains[0].Status.Words != "Verified" {
			t.Errorf("list after verify: %+v, want a new version and Verified", got)
		}
	})

	t.Run("fail/not-for-post", func(t *testing.T) {
		p := a.post("/domains/"+da.ID+"/status", nil)
		if p.status != http.StatusMethodNotAllowed && p.status != http.StatusNotFound {
			t.Errorf("POST status endpoint: %d, want 405 or 404", p.status)
		}
	})
}

// TestPollingKeepsIdleTimeout: the pages' polling reads the session
// without using it, so an open page does not keep it alive forever.
func TestPollingKeepsIdleTimeout(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ss := newSessions(time.Minute, time.Hour, 10, clock, servicetest.New(t, servicetest.Options{}).Store, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	polled, err := ss.create(ctx, tenant.Token{Hash: tenant.Hash("secret")})
	if err != nil {
		t.Fatal(err)
	}
	used, err := ss.create(ctx, tenant.Token{Hash: tenant.Hash("secret")})
	if err != nil {
		t.Fatal(err)
	}
	live := func(s *session, touch bool) bool {
		got, err := ss.find(ctx, s.id, touch)
		if err != nil {
			t.Fatal(err)
		}
		return got != nil
	}
	for range 3 {
		advance(40 * time.Second)
		live(polled, false)
		live(used, true)
	}
	if live(polled, false) {
		t.Errorf("a session only polled for 2 minutes is still live; want it ended after 1 minute idle")
	}
	if !live(used, true) {
		t.Errorf("a session used every 40 s ended")
	}
}
