package ratelimit

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestLimiterWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	l := New(2, func() time.Time { return now })
	for i, want := range []bool{true, true, false} {
		if p := l.Peek("a"); p.Allowed != want {
			t.Fatalf("peek before take %d: allowed %v, want %v", i, p.Allowed, want)
		}
		if st := l.Take("a"); st.Allowed != want {
			t.Fatalf("take %d: allowed %v, want %v", i, st.Allowed, want)
		}
	}
	if !l.Peek("b").Allowed {
		t.Errorf("key b limited by key a's events")
	}
	st := l.Peek("a")
	h := http.Header{}
	st.SetHeaders(h, now)
	if h.Get("X-Rate-Limit-Limit") != "2" || h.Get("X-Rate-Limit-Remaining") != "0" ||
		h.Get("X-Rate-Limit-Reset") != strconv.FormatInt(now.Unix()+30, 10) || h.Get("Retry-After") != "30" {
		t.Errorf("headers = %v, want limit 2, remaining 0, reset at the next minute, Retry-After 30", h)
	}
	now = now.Add(time.Minute)
	if !l.Take("a").Allowed {
		t.Errorf("key a still limited in the next window")
	}
}

func TestLimiterBoundedKeys(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(1, func() time.Time { return now })
	for i := range MaxKeys + 100 {
		l.Take(strconv.Itoa(i))
	}
	if n := len(l.used); n != MaxKeys {
		t.Errorf("tracked keys = %d, want the bound %d", n, MaxKeys)
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"127.0.0.2:5555", "127.0.0.2"},
		{"[::ffff:10.0.0.1]:80", "10.0.0.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
	} {
		r := &http.Request{RemoteAddr: tc.remote}
		if got := ClientKey(r); got != tc.want {
			t.Errorf("ClientKey(%s) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

func TestDisabled(t *testing.T) {
	l := New(-1, time.Now)
	for range 10 {
		if !l.Take("a").Allowed {
			t.Fatal("a disabled limiter refused")
		}
	}
}
