package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

const (
	sessionCookie = "hallmark_session"
	// signinCookie carries the CSRF token of the sign-in form (double
	// submit), which has no session yet.
	signinCookie = "hallmark_signin"
	csrfField    = "csrf"
	// maxReports bounds the verify reports a session keeps for its next
	// page view.
	maxReports = 8
)

// session is one signed-in browser. Everything lives in memory only.
type session struct {
	id   string
	csrf string
	// secret is the API token the session signed in with. It never leaves
	// the server; each request authenticates it again, so revoking the
	// token ends its sessions at once.
	secret  string
	created time.Time

	mu       sync.Mutex
	seen     time.Time
	flash    *flash
	reports  map[string]dnscheck.Report // domain id → report of its last "verify now"
	newToken *shownToken
}

type flash struct {
	Kind string // ok, error
	Text string
}

// shownToken is a token secret shown once, on the page after its creation.
type shownToken struct {
	OrgID, Name, Secret string
}

func (s *session) setFlash(kind, text string) {
	s.mu.Lock()
	s.flash = &flash{Kind: kind, Text: text}
	s.mu.Unlock()
}

func (s *session) takeFlash() *flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

func (s *session) putReport(domainID string, r dnscheck.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reports == nil {
		s.reports = make(map[string]dnscheck.Report)
	}
	if len(s.reports) >= maxReports {
		clear(s.reports)
	}
	s.reports[domainID] = r
}

func (s *session) takeReport(domainID string) (dnscheck.Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reports[domainID]
	delete(s.reports, domainID)
	return r, ok
}

func (s *session) putToken(t shownToken) {
	s.mu.Lock()
	s.newToken = &t
	s.mu.Unlock()
}

func (s *session) takeToken(orgID string) *shownToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newToken
	if t == nil || t.OrgID != orgID {
		return nil
	}
	s.newToken = nil
	return t
}

// sessions is the bounded in-memory session store.
type sessions struct {
	idle, max time.Duration
	limit     int
	now       func() time.Time

	mu sync.Mutex
	m  map[string]*session
}

func newSessions(idle, max time.Duration, limit int, now func() time.Time) *sessions {
	return &sessions{idle: idle, max: max, limit: limit, now: now, m: make(map[string]*session)}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for the token secret. At the bound it drops
// expired sessions, then the least recently used one.
func (ss *sessions) create(secret string) *session {
	now := ss.now()
	s := &session{id: randomToken(), csrf: randomToken(), secret: secret, created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.limit {
		var oldest *session
		var oldestSeen time.Time
		for id, o := range ss.m {
			o.mu.Lock()
			seen := o.seen
			o.mu.Unlock()
			if ss.expired(o, seen, now) {
				delete(ss.m, id)
				continue
			}
			if oldest == nil || seen.Before(oldestSeen) {
				oldest, oldestSeen = o, seen
			}
		}
		if len(ss.m) >= ss.limit && oldest != nil {
			delete(ss.m, oldest.id)
		}
	}
	ss.m[s.id] = s
	return s
}

func (ss *sessions) expired(s *session, seen, now time.Time) bool {
	return now.Sub(seen) > ss.idle || now.Sub(s.created) > ss.max
}

// get returns the live session with id and marks it used.
func (ss *sessions) get(id string) (*session, bool) { return ss.find(id, true) }

// find returns the live session with id; touch marks it used.
func (ss *sessions) find(id string, touch bool) (*session, bool) {
	if id == "" {
		return nil, false
	}
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.expired(s, s.seen, now) {
		delete(ss.m, id)
		return nil, false
	}
	if touch {
		s.seen = now
	}
	return s, true
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// caller is the signed-in session and the actor it acts as, in the
// request's context.
type caller struct {
	sess  *session
	actor customdomain.Actor
	org   string // the org's name, for an org admin
}

type ctxKey int

const callerKey ctxKey = 0

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey).(*caller)
	return c
}

func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.cfg.SecureCookies }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// lookup returns the request's session and the actor of its token, or nil
// when there is none or its token is no longer valid.
func (c *Console) lookup(r *http.Request) (*caller, error) { return c.lookupSession(r, true) }

// lookupSession is lookup; touch false leaves the session's idle time
// alone, so that a page's polling script does not keep it alive.
func (c *Console) lookupSession(r *http.Request, touch bool) (*caller, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	s, ok := c.sessions.find(ck.Value, touch)
	if !ok {
		return nil, nil
	}
	tok, err := c.deps.Tenants.Authenticate(r.Context(), s.secret)
	if errors.Is(err, tenant.ErrInvalidToken) {
		c.sessions.delete(s.id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cl := &caller{sess: s, actor: actorOf(tok)}
	if !cl.actor.Operator {
		if o, err := c.deps.Tenants.GetOrg(r.Context(), tok.OrgID); err == nil {
			cl.org = o.Name
		}
	}
	return cl, nil
}

// actorOf is the lifecycle's actor for a token, built exactly as the API
// builds it.
func actorOf(tok tenant.Token) customdomain.Actor {
	return tok.Actor()
}

// signedIn admits requests with a live session: GETs without one go to
// the sign-in page, anything else is refused. Every POST must carry the
// session's CSRF token.
func (c *Console) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, err := c.lookup(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if cl == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, errForbidden("Your session has ended. Sign in again, then repeat what you were doing."))
			return
		}
		if r.Method == http.MethodPost {
			if !parseForm(w, r, c) {
				return
			}
			if !tokenEqual(r.PostFormValue(csrfField), cl.sess.csrf) {
				c.fail(w, r, errCSRF)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey, cl)))
	})
}

// tokenEqual compares a submitted CSRF token in constant time; an empty
// one never matches.
func tokenEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// safeNext keeps a post-sign-in redirect on this site: next must be a path
// of this origin ("/domains/x?y"), printable ASCII without backslashes, so
// that no browser's URL parser (which drops tabs and newlines and reads "\"
// as "/") can turn it into another host. Anything else goes to /domains.
func safeNext(next string) string {
	const home = "/domains"
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || len(next) > 2048 {
		return home
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return home
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") {
		return home
	}
	return next
}

type signinData struct {
	Next      string
	Error     string
	CSRF      string
	SignedOut bool
}

func (c *Console) signinForm(w http.ResponseWriter, r *http.Request) error {
	if cl, err := c.lookup(r); err == nil && cl != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	return c.renderSignin(w, r, http.StatusOK, signinData{Next: safeNext(r.URL.Query().Get("next")),
		SignedOut: r.URL.Query().Get("signedout") == "1"})
}

func (c *Console) renderSignin(w http.ResponseWriter, r *http.Request, status int, d signinData) error {
	d.CSRF = randomToken()
	c.setCookie(w, r, signinCookie, d.CSRF, "/signin", 3600)
	return c.render(w, r, status, "signin", "Sign in", d)
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) error {
	if !parseForm(w, r, c) {
		return nil
	}
	ck, err := r.Cookie(signinCookie)
	if err != nil || !tokenEqual(r.PostFormValue(csrfField), ck.Value) {
		return errCSRF
	}
	next := safeNext(r.PostFormValue("next"))
	// An address that failed too often this minute is refused before its
	// token is looked at; other addresses are not affected.
	client := ratelimit.ClientKey(r)
	if st := c.authFailures.Peek(client); !st.Allowed {
		st.SetHeaders(w.Header(), c.authFailures.Now())
		return c.renderSignin(w, r, http.StatusTooManyRequests, signinData{Next: next,
			Error: "Too many failed sign-ins from your address. Wait a minute, then try again."})
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	if strings.HasPrefix(strings.ToUpper(secret), "SSWS ") {
		secret = strings.TrimSpace(secret[5:])
	}
	tok, err := c.deps.Tenants.Authenticate(r.Context(), secret)
	if errors.Is(err, tenant.ErrInvalidToken) {
		if !c.authFailures.Disabled() {
			c.authFailures.Take(client).SetHeaders(w.Header(), c.authFailures.Now())
		}
		msg := "That token is not valid: it is mistyped, revoked, or belongs to another Hallmark server."
		if secret == "" {
			msg = "Enter an API token."
		}
		return c.renderSignin(w, r, http.StatusUnauthorized, signinData{Next: next, Error: msg})
	}
	if err != nil {
		return err
	}
	// A new session id at every sign-in: an id planted before sign-in is
	// never promoted.
	if old, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.delete(old.Value)
	}
	s := c.sessions.create(secret)
	c.setCookie(w, r, sessionCookie, s.id, "/", 0)
	c.setCookie(w, r, signinCookie, "", "/signin", -1)
	s.setFlash("ok", "Signed in as "+displayName(actorOf(tok))+".")
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	c.sessions.delete(cl.sess.id)
	c.setCookie(w, r, sessionCookie, "", "/", -1)
	http.Redirect(w, r, "/signin?signedout=1", http.StatusSeeOther)
	return nil
}

func displayName(a customdomain.Actor) string {
	n := a.Name
	if n == "" {
		n = a.ID
	}
	if a.Operator && !strings.Contains(strings.ToLower(n), "operator") {
		return n + " (operator)"
	}
	return n
}
