package tenant

import (
	"context"
	"time"
)

// Session is a console sign-in as stored: by a hash of its id, never the
// id itself, and by the hash of the token it signed in with, never the
// token's secret. Every request checks that token again, so revoking it
// ends its sessions at once, on every node.
type Session struct {
	Hash      string // hex SHA-256 of the id the browser holds
	TokenHash []byte // Token.Hash
	Created   time.Time
	Seen      time.Time // last use
	// State is what the session carries to its next page (a notice, a
	// report, a token secret shown once), sealed with a key that only the
	// session's id derives: the database alone cannot read it.
	State []byte
}

// SessionStore keeps console sessions, shared by every node.
type SessionStore interface {
	// CreateSession stores s, first deleting the sessions last seen before
	// idleBefore or created before createdBefore, then, while limit or
	// more remain, the least recently seen.
	CreateSession(ctx context.Context, s Session, idleBefore, createdBefore time.Time, limit int) error
	// SessionByHash returns the session (store.ErrNotFound when none).
	SessionByHash(ctx context.Context, hash string) (Session, error)
	// TouchSession sets the session's Seen.
	TouchSession(ctx context.Context, hash string, seen time.Time) error
	// SetSessionState replaces the session's State.
	SetSessionState(ctx context.Context, hash string, state []byte) error
	// DeleteSession ends a session; ending one that is gone is no error.
	DeleteSession(ctx context.Context, hash string) error
	// CountSessions counts the stored sessions.
	CountSessions(ctx context.Context) (int, error)
}
