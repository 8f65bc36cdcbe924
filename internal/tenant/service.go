package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/upstream"
)

var (
	// ErrInvalidToken: the token is unknown or revoked.
	ErrInvalidToken = errs.New(errs.Unauthenticated, "E0000011", "invalid token")
	// ErrForbidden: only the operator manages orgs and their tokens.
	ErrForbidden = errs.New(errs.Forbidden, "E0000006", "only the operator token may manage orgs and their tokens")
)

// tokenPrefix starts every generated token so that secret scanners and
// people recognise it.
const tokenPrefix = "hm_"

// EventLog is told when events were committed with a change, so that its
// followers look again.
type EventLog interface {
	Notify()
}

// Domains is what org creation needs of the custom-domain lifecycle:
// whether a proven name can be assigned, and its move to the new org
// (the rule checked again inside that commit).
type Domains interface {
	CheckAssignable(ctx context.Context, name string) error
	AssignToOrg(ctx context.Context, name, orgID string) error
}

// Service manages orgs and tokens and records their changes in the
// system log.
type Service struct {
	store   Store
	log     EventLog
	domains Domains
	logger  *slog.Logger
	now     func() time.Time
	tokens  tokenCache
}

// NewService returns a Service over st. domains may be nil when orgs are
// never created with a custom domain.
func NewService(st Store, log EventLog, domains Domains, logger *slog.Logger) *Service {
	return &Service{store: st, log: log, domains: domains, logger: logger, now: time.Now}
}

// Hash is how a token secret is stored. Tokens carry 240 random bits, so a
// fast hash is enough: a leaked database does not yield usable tokens.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewSecret returns a new random token secret.
func NewSecret() string {
	b := make([]byte, 30)
	rand.Read(b)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Bootstrap makes sure an operator token exists. At first start (no token
// at all) it stores secret, or a generated one, and returns it with
// created=true so the caller can print it once. Later starts return "",
// false: the secret is not kept anywhere.
func (s *Service) Bootstrap(ctx context.Context, secret string) (string, bool, error) {
	n, err := s.store.CountTokens(ctx)
	if err != nil {
		return "", false, fmt.Errorf("counting tokens: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	if secret == "" {
		secret = NewSecret()
	} else if len(secret) < 16 {
		return "", false, fmt.Errorf("bootstrap token: at least 16 characters are needed")
	}
	t := Token{ID: oktaid.New("tok"), Name: "operator (bootstrap)", Hash: Hash(secret), Prefix: prefixOf(secret), Created: s.now().UTC()}
	if err := s.store.CreateToken(ctx, t); errors.Is(err, store.ErrConflict) {
		// Another node starting at once on the same database stored the
		// same bootstrap token first.
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("storing operator token: %w", err)
	}
	return secret, true, nil
}

func prefixOf(secret string) string {
	if len(secret) > 8 {
		return secret[:8]
	}
	return ""
}

// Authenticate returns the valid token whose secret is given. A token the
// store found valid is then accepted from memory for TokenCacheTTL, with
// no database round trip; see TokenCacheTTL for how revocations reach it.
func (s *Service) Authenticate(ctx context.Context, secret string) (Token, error) {
	if secret == "" || len(secret) > 512 {
		return Token{}, ErrInvalidToken
	}
	return s.AuthenticateHash(ctx, Hash(secret))
}

// AuthenticateHash returns the valid token whose hash is h: the check of a
// console session, which holds the hash of its token, not the secret. It
// shares Authenticate's cache.
func (s *Service) AuthenticateHash(ctx context.Context, hash []byte) (Token, error) {
	if len(hash) != sha256.Size {
		return Token{}, ErrInvalidToken
	}
	h := [sha256.Size]byte(hash)
	now := s.now()
	if t, ok := s.tokens.get(h, now); ok {
		return t, nil
	}
	gen := s.tokens.generation()
	t, err := s.store.TokenByHash(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return Token{}, ErrInvalidToken
	}
	if err != nil {
		return Token{}, err
	}
	if subtle.ConstantTimeCompare(t.Hash, h[:]) != 1 || !t.Revoked.IsZero() {
		return Token{}, ErrInvalidToken
	}
	s.tokens.putIfGen(h, t, now, gen)
	return t, nil
}

// ForgetToken drops the token with that id from memory, so that its next
// use asks the store: the call to make when another node revoked it (its
// change notification), or when tokens changed in the store behind this
// Service's back. Revocations through RevokeToken call it themselves.
func (s *Service) ForgetToken(id string) {
	s.tokens.forget(func(t Token) bool { return t.ID == id })
}

// ForgetTokens drops every token from memory (after notifications were
// missed, for instance).
func (s *Service) ForgetTokens() { s.tokens.forget(nil) }

// CreateOrg stores a new org. A CustomDomain must already be proven
// (customdomain.ErrNotVerified) and serve no other org
// (customdomain.ErrInUse); it then moves to the new org. An Upstream must
// be an absolute http(s) URL.
func (s *Service) CreateOrg(ctx context.Context, a Actor, o Org) (Org, error) {
	if !a.Operator {
		return Org{}, ErrForbidden
	}
	var err error
	if o.Name, err = checkName("org", o.Name); err != nil {
		return Org{}, err
	}
	if o.Upstream != "" {
		if _, err := upstream.Parse(o.Upstream); err != nil {
			return Org{}, &InvalidError{Field: "upstream", Reason: upstream.Hint + " (" + err.Error() + ")"}
		}
	}
	if o.CustomDomain != "" {
		if s.domains == nil {
			return Org{}, &InvalidError{Field: "customDomain", Reason: "custom domains are not available here"}
		}
		if err := s.domains.CheckAssignable(ctx, o.CustomDomain); err != nil {
			return Org{}, err
		}
	}
	o.ID = oktaid.New("org")
	o.Created = s.now().UTC()
	if err := s.store.CreateOrg(ctx, o, s.event(a, systemlog.OrgCreate, o.ID, "Org", o.ID, "Org created")); err != nil {
		return Org{}, fmt.Errorf("storing org: %w", err)
	}
	s.notify()
	if o.CustomDomain != "" {
		// Checked again inside the domain's commit: a name proven by
		// another org meanwhile is refused, and the org stays without it.
		if err := s.domains.AssignToOrg(ctx, o.CustomDomain, o.ID); err != nil {
			return Org{}, err
		}
	}
	return o, nil
}

// GetOrg returns an org.
func (s *Service) GetOrg(ctx context.Context, id string) (Org, error) { return s.store.GetOrg(ctx, id) }

// ListOrgs returns every org.
func (s *Service) ListOrgs(ctx context.Context) ([]Org, error) { return s.store.ListOrgs(ctx) }

// CreateToken creates a token for org and returns it with its secret, the
// only time the secret is seen.
func (s *Service) CreateToken(ctx context.Context, a Actor, orgID, name string) (Token, string, error) {
	if !a.Operator {
		return Token{}, "", ErrForbidden
	}
	if _, err := s.store.GetOrg(ctx, orgID); err != nil {
		return Token{}, "", err
	}
	name, err := checkName("token", name)
	if err != nil {
		return Token{}, "", err
	}
	secret := NewSecret()
	t := Token{ID: oktaid.New("tok"), OrgID: orgID, Name: name, Hash: Hash(secret), Prefix: prefixOf(secret), Created: s.now().UTC()}
	if err := s.store.CreateToken(ctx, t, s.event(a, systemlog.TokenCreate, orgID, "Token", t.ID, "API token created")); err != nil {
		return Token{}, "", fmt.Errorf("storing token: %w", err)
	}
	s.notify()
	return t, secret, nil
}

// ListTokens returns an org's tokens (without secrets).
func (s *Service) ListTokens(ctx context.Context, orgID string) ([]Token, error) {
	if _, err := s.store.GetOrg(ctx, orgID); err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, orgID)
}

// RevokeToken revokes an org's token.
func (s *Service) RevokeToken(ctx context.Context, a Actor, orgID, tokenID string) error {
	if !a.Operator {
		return ErrForbidden
	}
	ts, err := s.ListTokens(ctx, orgID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == tokenID {
			err := s.store.RevokeToken(ctx, tokenID, s.now().UTC(), s.event(a, systemlog.TokenRevoke, orgID, "Token", tokenID, "API token revoked"))
			// Forgotten whatever the outcome: a failed commit may still
			// have revoked it, and the store is asked again either way.
			s.ForgetToken(tokenID)
			if err != nil {
				return err
			}
			s.notify()
			return nil
		}
	}
	return store.ErrNotFound
}

// event is the system log event of a change, committed with it.
func (s *Service) event(a Actor, typ, orgID, targetType, targetID, msg string) systemlog.Event {
	return systemlog.Prepare(systemlog.Event{
		EventType: typ, Severity: "INFO", DisplayMessage: msg,
		Actor:   systemlog.Actor{ID: a.ID, Type: "PublicClientApp", DisplayName: a.Name},
		Target:  []systemlog.Target{{ID: targetID, Type: targetType}},
		Outcome: systemlog.Outcome{Result: "SUCCESS"},
		OrgID:   orgID,
	}, s.now())
}

func (s *Service) notify() {
	if s.log != nil {
		s.log.Notify()
	}
}

// checkName is the rule for the name of an org or a token: 1 to 200
// characters of valid UTF-8 once trimmed, with no control characters
// (NUL, tabs, newlines, escapes) and no bidirectional overrides, which
// would disguise the name where it is shown.
func checkName(what, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "" || utf8.RuneCountInString(name) > 200:
		return "", &InvalidError{Field: "name", Reason: "give the " + what + " a name of 1 to 200 characters"}
	case !utf8.ValidString(name):
		return "", &InvalidError{Field: "name", Reason: "the name is not valid UTF-8"}
	case strings.ContainsFunc(name, func(r rune) bool {
		return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
	}):
		return "", &InvalidError{Field: "name", Reason: "the name holds a control character; use letters, digits, spaces and punctuation"}
	}
	return name, nil
}

// InvalidError is bad input with the field it concerns.
type InvalidError = errs.FieldError
