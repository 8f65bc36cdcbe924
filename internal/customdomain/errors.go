package customdomain

import (
	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// Refusals callers branch on, each with its kind and Okta's code; the API
// and the console map them in one place each.
var (
	ErrNotFound    = store.ErrNotFound
	ErrDuplicate   = errs.New(errs.Conflict, "E0000161", "the org already has a domain with that name")
	ErrLimit       = errs.New(errs.Forbidden, "E0000162", "the org has reached its domain count limit")
	ErrNotVerified = errs.New(errs.Forbidden, "E0000165", "ownership of the domain has not been proven")
	ErrInUse       = errs.New(errs.Conflict, "E0000120", "the domain is already in use by another organization")
)

// InvalidError is bad input with the field it concerns.
type InvalidError = errs.FieldError
