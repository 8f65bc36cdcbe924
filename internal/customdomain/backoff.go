package customdomain

import "time"

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
