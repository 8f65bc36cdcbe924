package issuance

import (
	"crypto/x509"
	"math/rand/v2"
	"testing"
	"time"
)

func TestPlanRenewal(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: now, NotAfter: now.Add(90 * 24 * time.Hour)}
	third := leaf.NotAfter.Add(-30 * 24 * time.Hour)
	tests := []struct {
		name       string
		ari        *Window
		now        time.Time
		from, to   time.Time
		wantReason string
	}{
		{"ok/lifetime-staggered", nil, now, third.Add(-9 * 24 * time.Hour), third, "lifetime"},
		{"ok/lifetime-overdue", nil, third.Add(time.Hour), third.Add(time.Hour), third.Add(time.Hour), "lifetime"},
		{"ok/ari-window", &Window{Start: now.Add(40 * 24 * time.Hour), End: now.Add(42 * 24 * time.Hour)}, now, now.Add(40 * 24 * time.Hour), now.Add(42 * 24 * time.Hour), "ari"},
		{"ok/ari-past-window-now", &Window{Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}, now, now, now, "ari"},
		{"ok/ari-invalid-window-falls-back", &Window{Start: now.Add(2 * time.Hour), End: now.Add(time.Hour)}, now, third.Add(-9 * 24 * time.Hour), third, "lifetime"},
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				p := PlanRenewal(leaf, tc.ari, tc.now, rnd)
				if p.Reason != tc.wantReason || p.At.Before(tc.from) || p.At.After(tc.to) {
					t.Fatalf("got %v (%s), want %s in [%v, %v]", p.At, p.Reason, tc.wantReason, tc.from, tc.to)
				}
			}
		})
	}
	// Staggered: 100 certificates issued together do not share one time.
	seen := map[time.Time]bool{}
	for range 100 {
		seen[PlanRenewal(leaf, nil, now, rnd).At] = true
	}
	if len(seen) < 90 {
		t.Errorf("got %d distinct renewal times of 100, want them spread", len(seen))
	}
}

func TestBackoff(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{"first", 1, 0, 48 * time.Second, 72 * time.Second},
		{"fourth", 4, 0, 8 * 48 * time.Second, 8 * 72 * time.Second},
		{"capped", 40, 0, BackoffMax * 8 / 10, BackoffMax * 12 / 10},
		{"retry-after-wins", 1, 3 * time.Hour, 3 * time.Hour, 3 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Backoff(tc.attempt, tc.retryAfter, rnd); got < tc.lo || got > tc.hi {
				t.Errorf("got %v, want in [%v, %v]", got, tc.lo, tc.hi)
			}
		})
	}
}
