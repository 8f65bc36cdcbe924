package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/store"
)

func TestSignInNextStaysOnSite(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, token := e.newOrg("Acme")
	for _, tc := range []struct{ name, next, want string }{
		{"ok/path", "/logs?limit=5", "/logs?limit=5"},
		{"ok/domain", "/domains/dom123", "/domains/dom123"},
		{"fail/tab", "/\t/evil.example", "/domains"},
		{"fail/vertical-tab", "/\v/evil.example", "/domains"},
		{"fail/nul", "/\x00/evil.example", "/domains"},
		{"fail/space", "/ /evil.example", "/domains"},
		{"fail/backslash", "/\\evil.example", "/domains"},
		{"fail/backslash-later", "/x/..\\..\\\\evil.example", "/domains"},
		{"fail/scheme-relative", "//evil.example/x", "/domains"},
		{"fail/absolute", "https://evil.example/", "/domains"},
		{"fail/javascript", "javascript:alert(1)", "/domains"},
		{"fail/unicode", "/\u3000/evil.example", "/domains"},
		{"fail/del", "/\x7f/evil.example", "/domains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Through the form, as a browser posts it.
			b := e.browser()
			b.get("/signin?next=" + url.QueryEscape(tc.next))
			p := b.post("/signin", url.Values{"token": {token}, "next": {tc.next}})
			wantStatus(t, p, http.StatusSeeOther)
			if got := p.header.Get("Location"); got != tc.want {
				t.Errorf("Location after sign-in with next %q = %q, want %q", tc.next, got, tc.want)
			}
			// And signed in already, straight from the query.
			p = b.get("/signin?next=" + url.QueryEscape(tc.next))
			wantStatus(t, p, http.StatusSeeOther)
			if got := p.header.Get("Location"); got != tc.want {
				t.Errorf("Location of /signin?next=%q when signed in = %q, want %q", tc.next, got, tc.want)
			}
		})
	}
}

func TestSignInThrottledPerAddress(t *testing.T) {
	e := newEnv(t, envOptions{authFailures: 3})
	_, token := e.newOrg("Acme")
	guesser := e.browserAt("127.0.0.2")
	guesser.get("/signin")
	for i := range 3 {
		p := guesser.post("/signin", url.Values{"token": {"hm_guess" + strings.Repeat("x", i)}})
		wantStatus(t, p, http.StatusUnauthorized)
	}
	// Beyond the limit even the right token is refused from that address,
	// so a guess that hits is not told apart from one that misses.
	p := guesser.post("/signin", url.Values{"token": {token}})
	wantStatus(t, p, http.StatusTooManyRequests)
	wantContains(t, p, "Too many failed sign-ins")
	if p.header.Get("X-Rate-Limit-Limit") != "3" || p.header.Get("X-Rate-Limit-Remaining") != "0" ||
		p.header.Get("X-Rate-Limit-Reset") == "" || p.header.Get("Retry-After") == "" {
		t.Errorf("429 headers = %v, want X-Rate-Limit-Limit 3, Remaining 0, Reset and Retry-After", p.header)
	}
	// Another address signs in with the same token.
	e.browserAt("127.0.0.3").signIn(token)
}

// FuzzSafeNext checks that whatever a sign-in link carries, the redirect
// stays on this origin once a browser has parsed it.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/domains", "/logs?q=x", "//evil.example", "/\t/evil.example", "/\\evil", "https://x",
		"/%2F%2Fevil", "/..//evil", "/a/../\\/evil", "/\r\n/evil", "/domains#//evil", "?x=//evil", ""} {
		f.Add(s)
	}
	base, _ := url.Parse("https://console.example/signin")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/domains" && got != next {
			t.Fatalf("safeNext(%q) = %q: neither the input nor /domains", next, got)
		}
		// What a browser does first: drop tabs and newlines, read "\" as "/".
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := base.Parse(browser)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q, which does not parse: %v", next, got, err)
		}
		if u.Host != "console.example" || u.Scheme != "https" {
			t.Fatalf("safeNext(%q) = %q leads to %s", next, got, u)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] >= 0x7f {
				t.Fatalf("safeNext(%q) = %q holds byte %#x", next, got, got[i])
			}
		}
	})
}

func TestStorageFaultPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/domains", nil)
	e.console.fail(w, r, fmt.Errorf("storing: %w", &store.UnavailableError{Reason: "the storage is full", Err: errors.New("disk full (13)")}))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), "the storage is full") || strings.Contains(w.Body.String(), "(13)") {
		t.Errorf("storage fault page: %d, Retry-After %q, body:\n%s\nwant 503 naming the cause without the driver's text", w.Code, w.Header().Get("Retry-After"), w.Body.String())
	}
}
