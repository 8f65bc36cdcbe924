// Package tenant holds orgs and the API tokens that act for them. The
// operator token (OrgID "") manages orgs; an org token sees only its org.
package tenant

import (
	"context"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// Org is a tenant of the service.
type Org struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	CustomDomain string    `json:"customDomain,omitempty"`
	Upstream     string    `json:"upstream,omitempty"`
	Created      time.Time `json:"created"`
}

// Token is an API token as stored: only the hash of the secret is kept.
type Token struct {
	ID      string
	OrgID   string // "" for an operator token
	Name    string
	Hash    []byte // SHA-256 of the secret
	Prefix  string // first characters of the secret, to recognise it in a list
	Created time.Time
	Revoked time.Time // zero while valid
}

// Operator reports whether the token acts for the operator.
func (t Token) Operator() bool { return t.OrgID == "" }

// Store keeps orgs and tokens.
// The writes commit their system log events (prepared with
// systemlog.Prepare) in the same transaction: a change is never stored
// without its event, nor an event without its change.
type Store interface {
	CreateOrg(ctx context.Context, o Org, events ...systemlog.Event) error
	GetOrg(ctx context.Context, id string) (Org, error)
	ListOrgs(ctx context.Context) ([]Org, error)

	CreateToken(ctx context.Context, t Token, events ...systemlog.Event) error
	// TokenByHash returns the token with that hash, revoked or not.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	ListTokens(ctx context.Context, orgID string) ([]Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time, events ...systemlog.Event) error
	// CountTokens counts tokens of every org, revoked ones included.
	CountTokens(ctx context.Context) (int, error)
}
