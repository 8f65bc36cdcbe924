// Package systemlog is the system log: events in Okta's LogEvent shape,
// appended by the lifecycle code and read through the API with Okta's
// filter, q, since/until and paging semantics.
package systemlog

import (
	"context"
	"time"
)

// Event is one LogEvent. Field names follow Okta's System Log API.
type Event struct {
	UUID           string       `json:"uuid"`
	Published      time.Time    `json:"published"`
	EventType      string       `json:"eventType"`
	Version        string       `json:"version"`
	Severity       string       `json:"severity"` // DEBUG, INFO, WARN, ERROR
	DisplayMessage string       `json:"displayMessage"`
	Actor          Actor        `json:"actor"`
	Target         []Target     `json:"target"`
	Outcome        Outcome      `json:"outcome"`
	DebugContext   DebugContext `json:"debugContext"`
	// OrgID scopes the event to a tenant ("" for the operator's own
	// events). Not part of Okta's shape.
	OrgID string `json:"-"`
	// Seq is the persistence order, assigned by the store.
	Seq int64 `json:"-"`
}

type Actor struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

type Target struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	AlternateID string         `json:"alternateId,omitempty"`
	DisplayName string         `json:"displayName,omitempty"`
	DetailEntry map[string]any `json:"detailEntry,omitempty"`
}

type Outcome struct {
	Result string `json:"result"` // SUCCESS, FAILURE, ...
	Reason string `json:"reason,omitempty"`
}

type DebugContext struct {
	DebugData map[string]any `json:"debugData,omitempty"`
}

// Event types. Okta's custom-domain types are used as they are; Hallmark
// adds cert_provision, cert_expiring and moved.
const (
	DomainInitiate      = "system.custom_url_domain.initiate"
	DomainVerify        = "system.custom_url_domain.verify"
	DomainCertUpload    = "system.custom_url_domain.cert_upload"
	DomainCertRenew     = "system.custom_url_domain.cert_renew"
	DomainUpdate        = "system.custom_url_domain.update"
	DomainDelete        = "system.custom_url_domain.delete"
	DomainCertProvision = "system.custom_url_domain.cert_provision"
	DomainCertExpiring  = "system.custom_url_domain.cert_expiring"
	DomainMoved         = "system.custom_url_domain.moved"
	OrgCreate           = "system.org.create"
	TokenCreate         = "system.api_token.create"
	TokenRevoke         = "system.api_token.revoke"
	// EventHookDelivery records a failed event hook delivery (Okta's name).
	EventHookDelivery = "event_hook.delivery"
)

// KnownTypes lists every event type Hallmark records.
var KnownTypes = []string{
	DomainInitiate, DomainVerify, DomainCertUpload, DomainCertRenew, DomainUpdate, DomainDelete,
	DomainCertProvision, DomainCertExpiring, DomainMoved, OrgCreate, TokenCreate, TokenRevoke,
	EventHookDelivery,
}

// Query selects events. The zero value of each field means "no constraint"
// except Limit, which the caller sets (1..1000).
type Query struct {
	// OrgID restricts to one org's events; All disables the restriction
	// (operator).
	OrgID string
	All   bool
	Since time.Time
	Until time.Time
	// Filter is a parsed filter expression, nil for none.
	Filter Expr
	// Keywords must all occur (case-insensitive) in the event's text.
	Keywords []string
	// AfterSeq continues a previous page: only events after (ascending) or
	// before (descending) this sequence number.
	AfterSeq   int64
	Limit      int
	Descending bool
}

// Store keeps events.
type Store interface {
	// AppendEvent stores e and returns its sequence number.
	AppendEvent(ctx context.Context, e Event) (int64, error)
	// QueryEvents returns events matching q in Seq order.
	QueryEvents(ctx context.Context, q Query) ([]Event, error)
}
