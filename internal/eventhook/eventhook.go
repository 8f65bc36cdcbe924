// Package eventhook is Okta's event hooks for Hallmark's system log: hooks
// an org (or the operator) registers, their one-time verification
// handshake, and durable, at-least-once delivery of the committed events a
// hook subscribes to, driven by a per-hook cursor over the log's commit
// order.
package eventhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// Statuses, as Okta names them.
const (
	Active     = "ACTIVE"
	Inactive   = "INACTIVE"
	Unverified = "UNVERIFIED"
	Verified   = "VERIFIED"
)

// Header is one custom header sent with every delivery.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Delivery is the outcome of a hook's last delivery attempt.
type Delivery struct {
	Time     time.Time `json:"time"`
	Status   string    `json:"status"` // SUCCESS or FAILURE
	HTTPCode int       `json:"httpCode,omitempty"`
	Error    string    `json:"error,omitempty"`
	// Attempts counts the attempts at the current batch, 1 for a first
	// success.
	Attempts int `json:"attempts"`
}

// Hook is one event hook. AuthValue is sealed at rest and never leaves
// the service in clear except in the delivery's header.
type Hook struct {
	ID                 string
	OrgID              string // "" for the operator's: every org's events
	Name               string
	Description        *string
	Status             string
	VerificationStatus string
	Events             []string
	URI                string
	Headers            []Header
	AuthKey            string
	SealedAuthValue    []byte
	Created            time.Time
	LastUpdated        time.Time
	CreatedBy          string

	// Delivery state, written by SaveDelivery only.
	Cursor       int64 // the last event seq handled
	Failures     int   // consecutive failed attempts at the batch after Cursor
	NextAttempt  time.Time
	LastDelivery *Delivery
}

// Store keeps hooks. GetHook, UpdateHook and DeleteHook answer an error of
// kind errs.NotFound for an unknown id.
type Store interface {
	CreateHook(ctx context.Context, h Hook) error
	GetHook(ctx context.Context, id string) (Hook, error)
	// ListHooks lists the hooks of org, or every hook when all is set, by
	// creation.
	ListHooks(ctx context.Context, org string, all bool) ([]Hook, error)
	// UpdateHook replaces everything but the delivery state.
	UpdateHook(ctx context.Context, h Hook) error
	DeleteHook(ctx context.Context, id string) error
	// SaveDelivery replaces only the delivery state of hook h.ID, and
	// stores events (prepared with systemlog.Prepare) in the same
	// transaction: a failed delivery's state and its event go together.
	SaveDelivery(ctx context.Context, h Hook, events ...systemlog.Event) error
}

// Subscribable are the event types a hook may subscribe to: every type the
// system log records except the hook-delivery events themselves, which
// would feed back into deliveries.
func Subscribable() []string {
	return slices.DeleteFunc(slices.Clone(systemlog.KnownTypes), func(t string) bool { return t == systemlog.EventHookDelivery })
}

func validEvents(items []string) error {
	if len(items) == 0 {
		return &errs.FieldError{Field: "events.items", Reason: "name at least one event type"}
	}
	known := Subscribable()
	var unknown []string
	for _, it := range items {
		if !slices.Contains(known, it) {
			unknown = append(unknown, it)
		}
	}
	if len(unknown) > 0 {
		return &errs.FieldError{Field: "events.items", Reason: fmt.Sprintf("unknown event type(s) %s; known: %s",
			strings.Join(unknown, ", "), strings.Join(known, ", "))}
	}
	return nil
}

// checkURI judges a hook's URI: https resolving to public addresses only,
// unless allowPrivate also admits http and loopback or private addresses.
func checkURI(ctx context.Context, r *net.Resolver, raw string, allowPrivate bool) error {
	field := func(reason string) error { return &errs.FieldError{Field: "channel.config.uri", Reason: reason} }
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return field(fmt.Sprintf("%q is not an absolute URL", raw))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return field(fmt.Sprintf("scheme %q: use https", u.Scheme))
	}
	if u.User != nil {
		return field("must not carry user info; use channel.config.authScheme")
	}
	if allowPrivate {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupIPAddr(ctx, u.Hostname())
	if err != nil {
		return field(fmt.Sprintf("host %s does not resolve: %v", u.Hostname(), err))
	}
	for _, a := range addrs {
		if !publicIP(a.IP) {
			return field(fmt.Sprintf("host %s resolves to %s, not a public address (serve with --event-hooks-allow-private to allow it)", u.Hostname(), a.IP))
		}
	}
	return nil
}

func publicIP(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		// 100.64.0.0/10, carrier-grade NAT
		(ip.To4() != nil && ip.To4()[0] == 100 && ip.To4()[1]&0xc0 == 64))
}

func validHeaders(hs []Header, authKey string) error {
	for i, h := range hs {
		if err := validHeader(fmt.Sprintf("channel.config.headers[%d]", i), h); err != nil {
			return err
		}
	}
	if authKey != "" {
		return validHeader("channel.config.authScheme", Header{Key: authKey})
	}
	return nil
}

// validHeader judges one header; field names where it was given.
func validHeader(field string, h Header) error {
	if h.Key == "" || strings.ContainsAny(h.Key, " :\r\n\t") {
		return &errs.FieldError{Field: field + ".key", Reason: fmt.Sprintf("%q is not a header name", h.Key)}
	}
	if strings.ContainsAny(h.Value, "\r\n") {
		return &errs.FieldError{Field: field + ".value", Reason: "must not contain line breaks"}
	}
	switch http.CanonicalHeaderKey(h.Key) {
	case "Content-Type", "Accept", "Content-Length", "Host", "Transfer-Encoding", "Connection":
		return &errs.FieldError{Field: field + ".key", Reason: h.Key + " is set by Hallmark"}
	}
	return nil
}
