package customdomain

import (
	"math"
	"math/rand/v2"
	"time"
)

// The published re-check schedule of a pending domain: the n-th background
// check (n from 0) waits min(First × Factor^n, Max), ±10% jitter so that
// domains created together spread out. With the defaults the first ten
// checks come within about two hours (1m, 1.5m, 2.3m, 3.4m, ...), then one
// an hour until the verification window closes: about 175 checks in 7 days.
const (
	BackoffFirst  = time.Minute
	BackoffFactor = 1.5
	BackoffMax    = time.Hour
)

// backoff returns how long to wait before background check n.
func (s *Service) backoff(n int) time.Duration {
	d := float64(s.cfg.BackoffFirst) * math.Pow(BackoffFactor, float64(n))
	if d > float64(s.cfg.BackoffMax) || math.IsInf(d, 0) {
		d = float64(s.cfg.BackoffMax)
	}
	jitter := 0.9 + 0.2*rand.Float64()
	return time.Duration(d * jitter)
}
