package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/store"
)

func runHooks(t *testing.T, open func(t *testing.T) Backend) {
	t0 := t0.UTC() // times come back in UTC
	s := open(t)
	ctx := t.Context()
	desc := "ready domains"
	a := eventhook.Hook{ID: "who1", OrgID: "org-a", Name: "A", Description: &desc, Status: eventhook.Active,
		VerificationStatus: eventhook.Unverified, Events: []string{"system.custom_url_domain.verify"},
		URI: "https://hooks.example.com/a", Headers: []eventhook.Header{{Key: "X-Env", Value: "prod"}},
		AuthKey: "Authorization", SealedAuthValue: []byte{1, 2, 3}, Created: t0, LastUpdated: t0, CreatedBy: "tok1", Cursor: 7}
	b := eventhook.Hook{ID: "who2", OrgID: "org-b", Name: "B", Status: eventhook.Active, VerificationStatus: eventhook.Unverified,
		Events: []string{"system.org.create"}, URI: "https://hooks.example.com/b", Created: t0.Add(time.Second), LastUpdated: t0}
	for _, h := range []eventhook.Hook{a, b} {
		if err := s.CreateHook(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateHook(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate id: got %v, want ErrConflict", err)
	}
	got, err := s.GetHook(ctx, "who1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("GetHook: got %+v, want %+v", got, a)
	}
	if _, err := s.GetHook(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetHook unknown: got %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		org  string
		all  bool
		want []string
	}{{"org-a", false, []string{"who1"}}, {"org-c", false, nil}, {"", true, []string{"who1", "who2"}}} {
		hs, err := s.ListHooks(ctx, tc.org, tc.all)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hs {
			ids = append(ids, h.ID)
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("ListHooks(%q, %v): got %v, want %v", tc.org, tc.all, ids, tc.want)
		}
	}

	// Delivery state and settings are written apart: neither overwrites
	// the other.
	d := a
	d.Cursor, d.Failures, d.NextAttempt = 42, 2, t0.Add(time.Minute)
	d.LastDelivery = &eventhook.Delivery{Time: t0, Status: "FAILURE", HTTPCode: 503, Error: "boom", Attempts: 2}
	if err := s.SaveDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	u := a
	u.Name, u.Status, u.SealedAuthValue, u.Cursor = "A2", eventhook.Inactive, nil, 0
	if err := s.UpdateHook(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetHook(ctx, "who1")
	if err != nil {
		t.Fatal(err)
	}
	want := u
	want.Cursor, want.Failures, want.NextAttempt, want.LastDelivery = d.Cursor, d.Failures, d.NextAttempt, d.LastDelivery
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after SaveDelivery and UpdateHook: got %+v, want %+v", got, want)
	}
	for name, err := range map[string]error{
		"UpdateHook":   s.UpdateHook(ctx, eventhook.Hook{ID: "nope"}),
		"SaveDelivery": s.SaveDelivery(ctx, eventhook.Hook{ID: "nope"}),
		"DeleteHook":   s.DeleteHook(ctx, "nope"),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s unknown: got %v, want ErrNotFound", name, err)
		}
	}
	if err := s.DeleteHook(ctx, "who1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetHook(ctx, "who1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after DeleteHook: got %v, want ErrNotFound", err)
	}
}
