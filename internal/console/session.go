package console

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/store"
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

// session is one signed-in browser, as read from the session store for
// one request. The store holds it by a hash of its id and with the hash of
// its token, never the token's secret, so that any node serves it and a
// restart keeps it; each request checks the token again, so revoking it
// ends its sessions at once.
type session struct {
	id, hash  string
	csrf      string // derived from the id: nothing to store
	tokenHash []byte
	created   time.Time

	ss  *sessions
	ctx context.Context // the request's, for saving state

	mu    sync.Mutex
	state sessionState
}

// sessionState is what a session carries to its next page view (the page
// after a redirect may be served by another node): stored sealed with a
// key derived from the session id, which only the browser holds.
type sessionState struct {
	Flash    *flash                     `json:"flash,omitempty"`
	Reports  map[string]dnscheck.Report `json:"reports,omitempty"` // domain id → report of its last "verify now"
	NewToken *shownToken                `json:"newToken,omitempty"`
}

type flash struct {
	Kind string // ok, error
	Text string
}

// shownToken is a token secret shown once, on the page after its creation.
type shownToken struct {
	OrgID, Name, Secret string
}

// change applies f to the state and saves it when f reports a change.
func (s *session) change(f func(st *sessionState) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f(&s.state) {
		s.ss.saveState(s)
	}
}

func (s *session) setFlash(kind, text string) {
	s.change(func(st *sessionState) bool { st.Flash = &flash{Kind: kind, Text: text}; return true })
}

func (s *session) takeFlash() (f *flash) {
	s.change(func(st *sessionState) bool { f, st.Flash = st.Flash, nil; return f != nil })
	return f
}

func (s *session) putReport(domainID string, r dnscheck.Report) {
	s.change(func(st *sessionState) bool {
		if st.Reports == nil || len(st.Reports) >= maxReports {
			st.Reports = make(map[string]dnscheck.Report)
		}
		st.Reports[domainID] = r
		return true
	})
}

func (s *session) takeReport(domainID string) (r dnscheck.Report, ok bool) {
	s.change(func(st *sessionState) bool {
		r, ok = st.Reports[domainID]
		delete(st.Reports, domainID)
		return ok
	})
	return r, ok
}

func (s *session) putToken(t shownToken) {
	s.change(func(st *sessionState) bool { st.NewToken = &t; return true })
}

func (s *session) takeToken(orgID string) (t *shownToken) {
	s.change(func(st *sessionState) bool {
		if st.NewToken == nil || st.NewToken.OrgID != orgID {
			return false
		}
		t, st.NewToken = st.NewToken, nil
		return true
	})
	return t
}

// sessions keeps the console's sessions in the shared store, bounded.
type sessions struct {
	idle, max time.Duration
	limit     int
	now       func() time.Time
	store     tenant.SessionStore
	logger    *slog.Logger
}

func newSessions(idle, max time.Duration, limit int, now func() time.Time, st tenant.SessionStore, logger *slog.Logger) *sessions {
	return &sessions{idle: idle, max: max, limit: limit, now: now, store: st, logger: logger}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// derive is a value of the session id for one purpose: the store's key
// (its hash), the CSRF token, the key that seals its state.
func derive(purpose, id string) []byte {
	h := sha256.Sum256([]byte("hallmark console " + purpose + "\x00" + id))
	return h[:]
}

func sessionHash(id string) string { return hex.EncodeToString(derive("session", id)) }

// create starts a session for the token. The store drops expired
// sessions, then the least recently used ones, at the bound.
func (ss *sessions) create(ctx context.Context, tok tenant.Token) (*session, error) {
	now := ss.now().UTC()
	id := randomToken()
	s := ss.open(ctx, id, tok.Hash, now)
	err := ss.store.CreateSession(ctx, tenant.Session{Hash: s.hash, TokenHash: tok.Hash, Created: now, Seen: now},
		now.Add(-ss.idle), now.Add(-ss.max), ss.limit)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (ss *sessions) open(ctx context.Context, id string, tokenHash []byte, created time.Time) *session {
	return &session{id: id, hash: sessionHash(id), csrf: base64.RawURLEncoding.EncodeToString(derive("csrf", id)),
		tokenHash: tokenHash, created: created, ss: ss, ctx: ctx}
}

// touchEvery is how stale a session's last use may be in the store:
// writing it at every request would make every page view a write.
func (ss *sessions) touchEvery() time.Duration { return min(ss.idle/30, time.Minute) }

// find returns the live session with id, nil when there is none; touch
// marks it used.
func (ss *sessions) find(ctx context.Context, id string, touch bool) (*session, error) {
	if id == "" || len(id) > 100 {
		return nil, nil
	}
	st, err := ss.store.SessionByHash(ctx, sessionHash(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := ss.now().UTC()
	if now.Sub(st.Seen) > ss.idle || now.Sub(st.Created) > ss.max {
		if err := ss.store.DeleteSession(ctx, st.Hash); err != nil {
			ss.logger.Warn("deleting an expired console session", "err", err)
		}
		return nil, nil
	}
	if touch && now.Sub(st.Seen) >= ss.touchEvery() {
		if err := ss.store.TouchSession(ctx, st.Hash, now); err != nil {
			return nil, err
		}
	}
	s := ss.open(ctx, id, st.TokenHash, st.Created)
	if len(st.State) > 0 {
		if err := s.unseal(st.State); err != nil {
			// A state this id cannot open is dropped, not fatal.
			ss.logger.Warn("console session state unreadable; dropped", "err", err)
		}
	}
	return s, nil
}

func (ss *sessions) delete(ctx context.Context, id string) error {
	return ss.store.DeleteSession(ctx, sessionHash(id))
}

func (ss *sessions) len(ctx context.Context) int {
	n, _ := ss.store.CountSessions(ctx)
	return n
}

// saveState stores s's state sealed (AES-256-GCM under a key derived from
// the session id, bound to the session's hash).
func (ss *sessions) saveState(s *session) {
	var blob []byte
	if s.state.Flash != nil || len(s.state.Reports) > 0 || s.state.NewToken != nil {
		plain, err := json.Marshal(s.state)
		if err != nil {
			ss.logger.Error("encoding console session state", "err", err)
			return
		}
		aead := s.aead()
		nonce := make([]byte, aead.NonceSize())
		rand.Read(nonce)
		blob = aead.Seal(nonce, nonce, plain, []byte(s.hash))
	}
	if err := ss.store.SetSessionState(context.WithoutCancel(s.ctx), s.hash, blob); err != nil {
		ss.logger.Warn("saving console session state", "err", err)
	}
}

func (s *session) unseal(blob []byte) error {
	aead := s.aead()
	if len(blob) < aead.NonceSize() {
		return errors.New("state too short")
	}
	plain, err := aead.Open(nil, blob[:aead.NonceSize()], blob[aead.NonceSize():], []byte(s.hash))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, &s.state)
}

func (s *session) aead() cipher.AEAD {
	block, _ := aes.NewCipher(derive("state", s.id)) // 32 bytes: AES-256
	aead, _ := cipher.NewGCM(block)
	return aead
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
	s, err := c.sessions.find(r.Context(), ck.Value, touch)
	if s == nil || err != nil {
		return nil, err
	}
	tok, err := c.deps.Tenants.AuthenticateHash(r.Context(), s.tokenHash)
	if errors.Is(err, tenant.ErrInvalidToken) {
		if err := c.sessions.delete(r.Context(), s.id); err != nil {
			return nil, err
		}
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
		if err := c.sessions.delete(r.Context(), old.Value); err != nil {
			return err
		}
	}
	s, err := c.sessions.create(r.Context(), tok)
	if err != nil {
		return err
	}
	c.setCookie(w, r, sessionCookie, s.id, "/", 0)
	c.setCookie(w, r, signinCookie, "", "/signin", -1)
	s.setFlash("ok", "Signed in as "+displayName(actorOf(tok))+".")
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	if err := c.sessions.delete(r.Context(), cl.sess.id); err != nil {
		return err
	}
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
