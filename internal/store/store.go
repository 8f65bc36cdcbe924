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

// ErrUnavailable: the storage cannot take writes now (it is full or
// read-only); the same request may succeed later. Match it with errors.Is;
// an *UnavailableError says why.
var ErrUnavailable = errs.New(errs.Unavailable, "", "storage unavailable")

// UnavailableError is a storage fault with the reason a person can act
// on ("the storage is full").
type UnavailableError struct {
	Reason string
	// Fix is what the operator must do; empty means free space or make
	// the database writable.
	Fix string
	Err error
}

func (e *UnavailableError) Error() string        { return e.Reason + ": " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error        { return e.Err }
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Kind is errs.Unavailable.
func (e *UnavailableError) Kind() errs.Kind { return errs.Unavailable }
