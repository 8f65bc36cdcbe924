// Package store holds what every storage backend shares: the errors callers
// branch on. The interfaces a backend implements are declared by the packages
// that use them (customdomain.Store, tenant.Store, systemlog.Store); the
// backends live in sqlite/ and postgres/, and storetest is the conformance
// suite both pass.
package store

import "github.com/hallmark-dev/hallmark/internal/errs"

var (
	// ErrNotFound: no row has that key.
	ErrNotFound = errs.New(errs.NotFound, "", "not found")
	// ErrConflict: a unique key is already taken, or a conditional update
	// lost a race.
	ErrConflict = errs.New(errs.Conflict, "", "conflict")
)
