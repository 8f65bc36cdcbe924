package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func runTenants(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("orgs", func(t *testing.T) {
		s := open(t)
		if os, err := s.ListOrgs(t.Context()); err != nil || len(os) != 0 {
			t.Fatalf("ListOrgs on an empty store: got %v, %v", os, err)
		}
		b := tenant.Org{ID: "org-b", Name: "Beta", CustomDomain: "login.beta.com", Upstream: "https://beta.internal", Created: t0}
		a := tenant.Org{ID: "org-a", Name: "Acme", Created: t0.Add(time.Second)}
		for _, o := range []tenant.Org{b, a} {
			if err := s.CreateOrg(t.Context(), o); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateOrg(t.Context(), tenant.Org{ID: "org-a", Name: "Again"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate id: got %v, want ErrConflict", err)
		}
		got, err := s.GetOrg(t.Context(), "org-b")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Created.Equal(b.Created) {
			t.Errorf("created: got %v, want %v", got.Created, b.Created)
		}
		got.Created = b.Created
		if got != b {
			t.Errorf("got %+v, want %+v", got, b)
		}
		if _, err := s.GetOrg(t.Context(), "org-x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown org: got %v, want ErrNotFound", err)
		}
		os, err := s.ListOrgs(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range os {
			names = append(names, o.ID)
		}
		if !reflect.DeepEqual(names, []string{"org-a", "org-b"}) {
			t.Errorf("ListOrgs: got %v, want [org-a org-b] (by id)", names)
		}
	})

	t.Run("tokens", func(t *testing.T) {
		s := open(t)
		op := tenant.Token{ID: "tok-op", Name: "operator", Hash: hash("op-secret"), Prefix: "hm_op", Created: t0}
		t1 := tenant.Token{ID: "tok-1", OrgID: "org1", Name: "ci", Hash: hash("one"), Prefix: "hm_one", Created: t0}
		t2 := tenant.Token{ID: "tok-2", OrgID: "org1", Name: "cli", Hash: hash("two"), Prefix: "hm_two", Created: t0}
		t3 := tenant.Token{ID: "tok-3", OrgID: "org2", Name: "x", Hash: hash("three"), Created: t0}
		for _, tk := range []tenant.Token{t2, op, t1, t3} {
			if err := s.CreateToken(t.Context(), tk); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateToken(t.Context(), tenant.Token{ID: "tok-4", OrgID: "org1", Hash: hash("one"), Created: t0}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate hash: got %v, want ErrConflict", err)
		}
		if err := s.CreateToken(t.Context(), tenant.Token{ID: "tok-1", OrgID: "org1", Hash: hash("other"), Created: t0}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate id: got %v, want ErrConflict", err)
		}
		got, err := s.TokenByHash(t.Context(), hash("one"))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Created.Equal(t0) || !got.Revoked.IsZero() {
			t.Errorf("times: got created %v revoked %v", got.Created, got.Revoked)
		}
		got.Created = t1.Created
		if !reflect.DeepEqual(got, t1) {
			t.Errorf("TokenByHash: got %+v, want %+v", got, t1)
		}
		if got, err := s.TokenByHash(t.Context(), hash("op-secret")); err != nil || !got.Operator() {
			t.Errorf("operator token: got %+v, %v", got, err)
		}
		if _, err := s.TokenByHash(t.Context(), hash("unknown")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown hash: got %v, want ErrNotFound", err)
		}

		at := t0.Add(time.Hour)
		if err := s.RevokeToken(t.Context(), "tok-1", at); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(t.Context(), "tok-1", at.Add(time.Hour)); err != nil {
			t.Errorf("second revoke: got %v, want success", err)
		}
		if err := s.RevokeToken(t.Context(), "tok-x", at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke unknown: got %v, want ErrNotFound", err)
		}
		got, err = s.TokenByHash(t.Context(), hash("one"))
		if err != nil {
			t.Fatalf("a revoked token is still found: %v", err)
		}
		if !got.Revoked.Equal(at) {
			t.Errorf("revoked: got %v, want the first revocation %v", got.Revoked, at)
		}

		for _, tc := range []struct {
			org  string
			want []string
		}{{"org1", []string{"tok-1", "tok-2"}}, {"", []string{"tok-op"}}, {"org9", nil}} {
			ts, err := s.ListTokens(t.Context(), tc.org)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, tk := range ts {
				gotIDs = append(gotIDs, tk.ID)
			}
			if !reflect.DeepEqual(gotIDs, tc.want) {
				t.Errorf("ListTokens(%q): got %v, want %v", tc.org, gotIDs, tc.want)
			}
		}
		if n, err := s.CountTokens(t.Context()); err != nil || n != 4 {
			t.Errorf("CountTokens: got %d, %v, want 4 (revoked included)", n, err)
		}
	})
}
