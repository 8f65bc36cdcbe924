// Package store holds what every storage backend shares: the errors callers
// branch on. The interfaces a backend implements are declared by the packages
// that use them (customdomain.Store, tenant.Store, systemlog.Store); the
// backends live in sqlite/ and postgres/, and storetest is the conformance
// suite both pass.
package store

import "errors"

var (
	// ErrNotFound: no row has that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is already taken, or a conditional update
	// lost a race.
	ErrConflict = errors.New("conflict")
)
