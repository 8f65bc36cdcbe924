package issuance

import (
	"crypto/x509"
	"math/rand/v2"
	"time"
)

// Window is a renewal window suggested by the CA (RFC 9773 §4.2).
type Window struct {
	Start, End time.Time
}

// Plan says when to renew a certificate and why.
type Plan struct {
	At time.Time
	// Reason is "ari" when the CA's window decided, "lifetime" when one
	// third of the lifetime left did.
	Reason string
}

// Staggering of the lifetime rule: renewals spread over the tenth of the
// lifetime before the one-third point (9 days for 90-day certificates), so
// a thousand certificates issued in one hour do not all renew in one hour.
const staggerFraction = 10

// PlanRenewal chooses the renewal time of leaf. With a CA window (ari not
// nil, End after Start or equal), it picks a uniformly random time in the
// window, as RFC 9773 §4.2 recommends, or now when the window has begun.
// Otherwise it renews when one third of the lifetime is left, moved earlier
// by a random part of a tenth of the lifetime. rnd nil uses the global
// source; tests pass a seeded one.
func PlanRenewal(leaf *x509.Certificate, ari *Window, now time.Time, rnd *rand.Rand) Plan {
	int64n := rand.Int64N
	if rnd != nil {
		int64n = rnd.Int64N
	}
	if ari != nil && !ari.End.Before(ari.Start) && !ari.Start.IsZero() {
		at := ari.Start
		if w := ari.End.Sub(ari.Start); w > 0 {
			at = at.Add(time.Duration(int64n(int64(w))))
		}
		if at.Before(now) {
			at = now
		}
		return Plan{At: at, Reason: "ari"}
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	at := leaf.NotAfter.Add(-life / 3)
	if spread := life / staggerFraction; spread > 0 {
		at = at.Add(-time.Duration(int64n(int64(spread))))
	}
	if at.Before(now) {
		at = now
	}
	return Plan{At: at, Reason: "lifetime"}
}

// Backoff after failed attempts.
const (
	BackoffBase = time.Minute
	BackoffMax  = 24 * time.Hour
)

// Backoff returns how long to wait after the attempt-th consecutive failure
// (1 for the first): BackoffBase doubled each time up to BackoffMax, with
// ±20% jitter, and never less than the CA's Retry-After.
func Backoff(attempt int, retryAfter time.Duration, rnd *rand.Rand) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := BackoffBase
	for i := 1; i < attempt && d < BackoffMax; i++ {
		d *= 2
	}
	d = min(d, BackoffMax)
	float := rand.Float64
	if rnd != nil {
		float = rnd.Float64
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*float()))
	return max(d, retryAfter)
}
