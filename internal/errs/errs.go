// Package errs is the error vocabulary of Hallmark's core. Every refusal
// the product itself raises has a Kind; the API turns a kind into an HTTP
// status and Okta's error code in one place (internal/api/errors.go), and
// the console into a status and words in another. An error without a kind
// is a fault: a 500 whose text never reaches a client.
package errs

import "errors"

// Kind classifies a refusal.
type Kind uint8

const (
	Internal        Kind = iota // a fault, not a refusal
	Invalid                     // bad input: say which field and why
	Unauthenticated             // no valid credentials
	Forbidden                   // the caller may not do this, or not yet
	NotFound                    // no such thing, or not the caller's to see
	Conflict                    // the stored state refuses it (taken, in use)
	Unavailable                 // a dependency is missing or down: try again later
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case Unavailable:
		return "unavailable"
	}
	return "internal"
}

// Error is a refusal with its kind, for sentinel errors callers branch on
// with errors.Is. Code is Okta's error code when the refusal has one of
// its own (E0000161); empty means the kind's generic code.
type Error struct {
	kind Kind
	Code string
	msg  string
}

// New returns a refusal of kind k.
func New(k Kind, code, msg string) *Error { return &Error{kind: k, Code: code, msg: msg} }

func (e *Error) Error() string { return e.msg }

// Kind returns the refusal's kind.
func (e *Error) Kind() Kind { return e.kind }

// FieldError is bad input in one field of a request.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Kind is Invalid.
func (e *FieldError) Kind() Kind { return Invalid }

// Kinded is implemented by every error that carries a kind.
type Kinded interface {
	error
	Kind() Kind
}

// KindOf returns the kind of the first error in err's chain that has one,
// and Internal when none has.
func KindOf(err error) Kind {
	var k Kinded
	if errors.As(err, &k) {
		return k.Kind()
	}
	return Internal
}

// CodeOf returns Okta's error code of the first *Error in err's chain that
// names one.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
