package customdomain

import (
	"errors"

	"github.com/hallmark-dev/hallmark/internal/store"
)

// Errors callers branch on. The API turns each into Okta's error code in
// one place.
var (
	ErrNotFound    = store.ErrNotFound
	ErrDuplicate   = errors.New("the org already has a domain with that name")          // E0000161
	ErrLimit       = errors.New("the org has reached its domain count limit")           // E0000162
	ErrNotVerified = errors.New("ownership of the domain has not been proven")          // E0000165
	ErrInUse       = errors.New("the domain is already in use by another organization") // E0000120
)

// InvalidError is bad input with the field it concerns.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }
