// Package ratelimit counts requests per key in fixed one-minute windows and
// reports the count in Okta's X-Rate-Limit-* headers. The API limits each
// token with it, and the API and the console together limit failed
// authentications per client address.
package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// MaxKeys bounds the keys one window tracks, so a flood from many
// addresses cannot grow memory without bound. A key first seen once the
// window is full is not counted (it is let through) until the next window.
const MaxKeys = 1 << 16

// DefaultAuthFailures is the number of failed authentications one client
// address may make per minute unless configured otherwise.
const DefaultAuthFailures = 30

// Limiter allows Limit events per key per minute.
type Limiter struct {
	limit int // <= 0 disables
	now   func() time.Time

	mu   sync.Mutex
	win  int64          // current window, unix minutes
	used map[string]int // this node's events, or with a Counter its last known cluster total plus its events since

	shared *sharing // nil: this node counts alone
}

// New returns a limiter of limit events per key per minute; limit <= 0
// allows everything. now is the clock (time.Now).
func New(limit int, now func() time.Time) *Limiter {
	return &Limiter{limit: limit, now: now, used: make(map[string]int)}
}

// Status is a key's standing in the current window.
type Status struct {
	Limit, Remaining int
	Reset            time.Time // when the window ends
	Allowed          bool
}

// SetHeaders writes Okta's X-Rate-Limit-Limit, -Remaining and -Reset (unix
// seconds), and Retry-After when the key is over its limit.
func (s Status) SetHeaders(h http.Header, now time.Time) {
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(s.Limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(s.Remaining))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(s.Reset.Unix(), 10))
	if !s.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(int(s.Reset.Sub(now).Seconds()+0.999), 1)))
	}
}

// Disabled reports whether the limiter allows everything.
func (l *Limiter) Disabled() bool { return l == nil || l.limit <= 0 }

// Take counts one event for key and reports whether it is within the limit.
func (l *Limiter) Take(key string) Status { return l.status(key, 1) }

// Peek reports key's standing without counting: whether one more event
// would be within the limit.
func (l *Limiter) Peek(key string) Status { return l.status(key, 0) }

func (l *Limiter) status(key string, add int) Status {
	if l.Disabled() {
		return Status{Allowed: true}
	}
	now := l.now()
	win := now.Unix() / 60
	l.mu.Lock()
	if win != l.win {
		l.win = win
		clear(l.used)
		if l.shared != nil {
			clear(l.shared.pending)
		}
	}
	n, ok := l.used[key]
	if ok || len(l.used) < MaxKeys {
		n += add
		if add > 0 {
			l.used[key] = n
			if l.shared != nil {
				l.shared.pending[key] += add
			}
		}
	}
	l.mu.Unlock()
	// Taking, the event just counted must fit; peeking, one more must.
	return Status{Limit: l.limit, Remaining: max(l.limit-n, 0), Reset: time.Unix((win+1)*60, 0),
		Allowed: n+1-add <= l.limit}
}

// Now is the limiter's clock.
func (l *Limiter) Now() time.Time {
	if l == nil || l.now == nil {
		return time.Now()
	}
	return l.now()
}

// ClientKey is the key of the request's client address: the IP of the
// connection's peer, an IPv6 address reduced to its /64 (one host usually
// holds the whole prefix). Forwarded-for headers are not trusted.
func ClientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
