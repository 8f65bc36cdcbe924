package eventhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// Config configures the service. Zero values mean defaults.
type Config struct {
	// AllowPrivate also admits http:// URIs and loopback or private
	// addresses (tests, private deployments).
	AllowPrivate bool
	// Timeout bounds one request to a hook (default 3 s, Okta's).
	Timeout time.Duration
	// Poll is how often the delivery loop looks for due work besides the
	// log's change notices (default 1 s).
	Poll time.Duration
	// Backoff is the wait after a first failure, doubled per further
	// failure up to MaxBackoff (defaults 2 s and 10 min).
	Backoff, MaxBackoff time.Duration
	// Batch is the most events one delivery carries (default 50).
	Batch int
	// RootCAs, when set, replaces the system roots for hook TLS (tests).
	RootCAs *x509.CertPool
	// Resolver resolves hook hosts (default net.DefaultResolver).
	Resolver *net.Resolver
}

// ErrActive refuses deleting a hook that is still active.
var ErrActive = errs.New(errs.Conflict, "", "the event hook is ACTIVE: deactivate it (POST /api/v1/eventHooks/{id}/lifecycle/deactivate) before deleting it")

// Service manages hooks and delivers to them.
type Service struct {
	cfg    Config
	store  Store
	events *systemlog.Log
	box    *sealed.Box
	logger *slog.Logger
	client *http.Client
	now    func() time.Time
}

// New builds the service.
func New(cfg Config, st Store, events *systemlog.Log, box *sealed.Box, logger *slog.Logger) *Service {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	s := &Service{cfg: cfg, store: st, events: events, box: box, logger: logger, now: time.Now}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Resolver: cfg.Resolver, Control: s.checkDial}
	s.client = &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: cfg.Timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		},
		// A delivery never follows a redirect: a 3xx is a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// checkDial refuses, at connect time, an address that is not public
// unless private ones are allowed: a name that resolved to a public
// address when the hook was saved may resolve elsewhere later.
func (s *Service) checkDial(network, address string, _ syscall.RawConn) error {
	if s.cfg.AllowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !publicIP(ip) {
		return fmt.Errorf("refusing to connect to %s: not a public address", host)
	}
	return nil
}

// Input is what a client sets on create and replace.
type Input struct {
	Name        string
	Description *string
	Events      []string
	URI         string
	Headers     []Header
	AuthKey     string
	// AuthValue is the secret; nil on replace keeps the stored one.
	AuthValue *string
}

func (s *Service) check(ctx context.Context, in Input) error {
	if strings.TrimSpace(in.Name) == "" {
		return &errs.FieldError{Field: "name", Reason: "required"}
	}
	if len(in.Name) > 255 {
		return &errs.FieldError{Field: "name", Reason: "at most 255 characters"}
	}
	if err := validEvents(in.Events); err != nil {
		return err
	}
	if err := validHeaders(in.Headers, in.AuthKey); err != nil {
		return err
	}
	if in.AuthValue != nil && strings.ContainsAny(*in.AuthValue, "\r\n") {
		return &errs.FieldError{Field: "channel.config.authScheme.value", Reason: "must not contain line breaks"}
	}
	return checkURI(ctx, s.cfg.Resolver, in.URI, s.cfg.AllowPrivate)
}

func aad(id string) []byte { return []byte("event-hook-auth:" + id) }

// Create stores a new hook, ACTIVE and UNVERIFIED as Okta creates it. Its
// cursor starts at the log's end: a hook receives events committed after
// it was created.
func (s *Service) Create(ctx context.Context, a tenant.Actor, in Input) (Hook, error) {
	if err := s.check(ctx, in); err != nil {
		return Hook{}, err
	}
	now := s.now().UTC()
	h := Hook{ID: oktaid.New("who"), OrgID: a.OrgID, Status: Active, VerificationStatus: Unverified,
		Created: now, LastUpdated: now, CreatedBy: a.ID}
	apply(&h, in)
	if in.AuthValue != nil && *in.AuthValue != "" {
		h.SealedAuthValue = s.box.Seal([]byte(*in.AuthValue), aad(h.ID))
	}
	var err error
	if h.Cursor, err = s.logEnd(ctx); err != nil {
		return Hook{}, fmt.Errorf("creating event hook: %w", err)
	}
	if err := s.store.CreateHook(ctx, h); err != nil {
		return Hook{}, fmt.Errorf("creating event hook: %w", err)
	}
	return h, nil
}

// logEnd is the seq of the log's last event.
func (s *Service) logEnd(ctx context.Context) (int64, error) {
	last, err := s.events.Query(ctx, systemlog.Query{All: true, Limit: 1, Descending: true})
	if err != nil || len(last.Events) == 0 {
		return 0, err
	}
	return last.Events[0].Seq, nil
}

// startReceiving moves h's cursor to the log's end as it starts to
// receive events (verified, or activated): a hook that was unverified or
// inactive receives nothing committed meanwhile, as in Okta. It runs
// before the status is saved, so the delivery loop never sees the hook
// eligible with its old cursor.
func (s *Service) startReceiving(ctx context.Context, h *Hook) error {
	end, err := s.logEnd(ctx)
	if err != nil {
		return err
	}
	h.Cursor, h.Failures, h.NextAttempt = end, 0, time.Time{}
	return s.store.SaveDelivery(ctx, *h)
}

func apply(h *Hook, in Input) {
	h.Name, h.Description, h.Events, h.URI, h.Headers, h.AuthKey = in.Name, in.Description, in.Events, in.URI, in.Headers, in.AuthKey
}

// Get returns the hook id if a may see it; another org's is not found.
func (s *Service) Get(ctx context.Context, a tenant.Actor, id string) (Hook, error) {
	h, err := s.store.GetHook(ctx, id)
	if err != nil {
		return Hook{}, err
	}
	if !a.Operator && h.OrgID != a.OrgID {
		return Hook{}, errs.New(errs.NotFound, "", "no event hook with id "+id)
	}
	return h, nil
}

// List returns the hooks a may see.
func (s *Service) List(ctx context.Context, a tenant.Actor) ([]Hook, error) {
	return s.store.ListHooks(ctx, a.OrgID, a.Operator)
}

// Replace replaces a hook's settings. A changed channel (URI, headers or
// auth scheme) makes it UNVERIFIED again, as in Okta.
func (s *Service) Replace(ctx context.Context, a tenant.Actor, id string, in Input) (Hook, error) {
	h, err := s.Get(ctx, a, id)
	if err != nil {
		return Hook{}, err
	}
	if err := s.check(ctx, in); err != nil {
		return Hook{}, err
	}
	changed := h.URI != in.URI || h.AuthKey != in.AuthKey || !equalHeaders(h.Headers, in.Headers)
	if in.AuthValue != nil {
		if *in.AuthValue == "" {
			changed = changed || h.SealedAuthValue != nil
			h.SealedAuthValue = nil
		} else {
			old, _ := s.authValue(h)
			changed = changed || old != *in.AuthValue
			h.SealedAuthValue = s.box.Seal([]byte(*in.AuthValue), aad(h.ID))
		}
	}
	apply(&h, in)
	if changed {
		h.VerificationStatus = Unverified
	}
	h.LastUpdated = s.now().UTC()
	if err := s.store.UpdateHook(ctx, h); err != nil {
		return Hook{}, fmt.Errorf("replacing event hook %s: %w", id, err)
	}
	return h, nil
}

func equalHeaders(a, b []Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SetStatus activates or deactivates a hook.
func (s *Service) SetStatus(ctx context.Context, a tenant.Actor, id, status string) (Hook, error) {
	h, err := s.Get(ctx, a, id)
	if err != nil {
		return Hook{}, err
	}
	if h.Status == status {
		return h, nil
	}
	if status == Active {
		if err := s.startReceiving(ctx, &h); err != nil {
			return Hook{}, fmt.Errorf("activating event hook %s: %w", id, err)
		}
	}
	h.Status, h.LastUpdated = status, s.now().UTC()
	if err := s.store.UpdateHook(ctx, h); err != nil {
		return Hook{}, fmt.Errorf("setting event hook %s %s: %w", id, status, err)
	}
	return h, nil
}

// Delete deletes an INACTIVE hook.
func (s *Service) Delete(ctx context.Context, a tenant.Actor, id string) error {
	h, err := s.Get(ctx, a, id)
	if err != nil {
		return err
	}
	if h.Status == Active {
		return ErrActive
	}
	return s.store.DeleteHook(ctx, id)
}

// VerifyError is a failed verification handshake; Cause says why.
type VerifyError struct{ Cause string }

func (e *VerifyError) Error() string   { return "event hook verification failed: " + e.Cause }
func (e *VerifyError) Kind() errs.Kind { return errs.Invalid }

// Verify runs Okta's one-time handshake: a GET to the URI with
// X-Okta-Verification-Challenge, answered by {"verification":"<value>"};
// one retry after a failure.
func (s *Service) Verify(ctx context.Context, a tenant.Actor, id string) (Hook, error) {
	h, err := s.Get(ctx, a, id)
	if err != nil {
		return Hook{}, err
	}
	challenge := oktaid.New("chl")
	cause := s.challenge(ctx, h, challenge)
	if cause != "" && ctx.Err() == nil {
		cause = s.challenge(ctx, h, challenge)
	}
	if cause != "" {
		return Hook{}, &VerifyError{Cause: cause}
	}
	if h.VerificationStatus != Verified {
		if err := s.startReceiving(ctx, &h); err != nil {
			return Hook{}, fmt.Errorf("verifying event hook %s: %w", id, err)
		}
	}
	h.VerificationStatus, h.LastUpdated = Verified, s.now().UTC()
	if err := s.store.UpdateHook(ctx, h); err != nil {
		return Hook{}, fmt.Errorf("verifying event hook %s: %w", id, err)
	}
	return h, nil
}

// challenge returns "" when the hook answered the challenge, else why not.
func (s *Service) challenge(ctx context.Context, h Hook, value string) string {
	req, err := s.request(ctx, h, http.MethodGet, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("X-Okta-Verification-Challenge", value)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Sprintf("GET %s: %v", h.URI, redact(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Sprintf("GET %s: reading the answer: %v", h.URI, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("GET %s answered HTTP %d, want 200 with {\"verification\":\"<challenge>\"}", h.URI, resp.StatusCode)
	}
	var v struct {
		Verification string `json:"verification"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Verification != value {
		return fmt.Sprintf("GET %s: the body must be {\"verification\":\"<value of X-Okta-Verification-Challenge>\"}", h.URI)
	}
	return ""
}

// redact drops what *url.Error adds (the method and URL), which the
// caller names once itself.
func redact(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

func (s *Service) authValue(h Hook) (string, error) {
	if h.SealedAuthValue == nil {
		return "", nil
	}
	v, err := s.box.Open(h.SealedAuthValue, aad(h.ID))
	if err != nil {
		return "", fmt.Errorf("event hook %s: opening its auth value: %w", h.ID, err)
	}
	return string(v), nil
}

// request builds a request to the hook with its headers and auth header.
func (s *Service) request(ctx context.Context, h Hook, method string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, h.URI, r)
	if err != nil {
		return nil, fmt.Errorf("event hook %s: %w", h.ID, err)
	}
	for _, hd := range h.Headers {
		req.Header.Set(hd.Key, hd.Value)
	}
	if h.AuthKey != "" {
		v, err := s.authValue(h)
		if err != nil {
			return nil, err
		}
		req.Header.Set(h.AuthKey, v)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "Hallmark-EventHook/1.0")
	return req, nil
}
