package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hallmark-dev/hallmark/internal/brand"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// Error is Okta's error object. Every error response carries one.
type Error struct {
	Status      int     `json:"-"`
	Code        string  `json:"errorCode"`
	Summary     string  `json:"errorSummary"`
	Link        string  `json:"errorLink"`
	ID          string  `json:"errorId"`
	Causes      []Cause `json:"errorCauses"`
	internalErr error
	retryAfter  int // seconds, for a 503
}

// Cause is one entry of errorCauses.
type Cause struct {
	Summary string `json:"errorSummary"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Summary }

func apiError(status int, code, summary string, causes ...string) *Error {
	e := &Error{Status: status, Code: code, Summary: summary, Link: code, Causes: []Cause{}}
	for _, c := range causes {
		e.Causes = append(e.Causes, Cause{Summary: c})
	}
	return e
}

// retryAfter is the Retry-After of a 503, in seconds.
const retryAfter = "30"

// Okta's codes, with the status and summary Okta gives them.
func errValidation(causes ...string) *Error {
	return apiError(http.StatusBadRequest, "E0000001", "Api validation failed", causes...)
}
func errInvalidToken() *Error {
	return apiError(http.StatusUnauthorized, "E0000011", "Invalid token provided")
}
func errForbidden(cause string) *Error {
	return apiError(http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action", cause)
}
func errNotFound(cause string) *Error {
	return apiError(http.StatusNotFound, "E0000007", "Not found: Resource not found", cause)
}
func errDomainNotFound(id string) *Error {
	return apiError(http.StatusNotFound, "E0000163", "Domain ID not found.", "Could not find custom domain with the given id: "+id)
}
func errRateLimited(causes ...string) *Error {
	return apiError(http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.", causes...)
}
func errMethod(allowed string) *Error {
	return apiError(http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method", "allowed: "+allowed)
}

// oktaCodes are the refusals with a code of their own, as Okta's API
// answers them.
var oktaCodes = map[string]*Error{
	"E0000161": apiError(http.StatusForbidden, "E0000161", "Unique domain name required.", "this org already has a domain with that name"),
	"E0000162": apiError(http.StatusForbidden, "E0000162", "Domain count limit reached.", "delete a domain or ask the operator to raise --domain-limit"),
	"E0000165": apiError(http.StatusForbidden, "E0000165", "Domain not verified.", "prove ownership first: publish the records and call POST /api/v1/domains/{id}/verify until validationStatus is VERIFIED"),
	"E0000120": apiError(http.StatusBadRequest, "E0000120", "The custom domain requested is already in use by another organization."),
	"E0000202": apiError(http.StatusConflict, "E0000202", "Brand name already exists.", "name: this org already has a brand of that name; choose another"),
	"E0000203": apiError(http.StatusConflict, "E0000203", "Failed to associate this domain with the given brandId.",
		"brandId: no brand of the domain's org has that id; create one with POST /api/v1/brands or take an id from GET /api/v1/brands"),
}

// fromDomainError maps the core's errors to Okta's: the one place where a
// kind of refusal (internal/errs) becomes an HTTP status and an error
// code. An error without a kind is a fault: a 500 whose text stays in the
// log.
func fromDomainError(err error, id string) *Error {
	var ae *Error
	var ne *customdomain.NameError
	var fe *errs.FieldError
	var ue *issuance.UploadError
	var bu *brand.InUseError
	var se *store.UnavailableError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &se):
		fix := se.Fix
		if fix == "" {
			fix = "the operator must free space or make the database writable"
		}
		e := apiError(http.StatusServiceUnavailable, "E0000010", "Service is in read only mode",
			se.Reason+"; nothing was changed. Retry after the time in Retry-After; "+fix)
		e.internalErr = err
		return e
	case errors.As(err, &ue):
		return errValidation(ue.Causes...)
	case errors.As(err, &ne):
		return errValidation("domain: " + ne.Reason)
	case errors.As(err, &fe):
		return errValidation(fe.Field + ": " + fe.Reason)
	case errors.As(err, &bu):
		return apiError(http.StatusConflict, "E0000201", "A brand associated with a domain cannot be deleted",
			"custom domains using it: "+strings.Join(bu.Domains, ", ")+"; move each to another brand (PUT /api/v1/domains/{id} {\"brandId\"}) or delete it first")
	case errors.Is(err, brand.ErrNotFound):
		return errNotFound("Could not find a brand with the given id")
	}
	if known, ok := oktaCodes[errs.CodeOf(err)]; ok {
		e := *known
		return &e
	}
	switch errs.KindOf(err) {
	case errs.Invalid:
		return errValidation(err.Error())
	case errs.Unauthenticated:
		return errInvalidToken()
	case errs.Forbidden:
		return errForbidden(err.Error())
	case errs.NotFound:
		if id != "" {
			return errDomainNotFound(id)
		}
		return errNotFound("no such resource")
	case errs.Conflict:
		return apiError(http.StatusConflict, "E0000001", "Api validation failed", err.Error())
	case errs.Unavailable:
		e := apiError(http.StatusServiceUnavailable, "E0000010", "Service is temporarily unavailable", err.Error())
		e.retryAfter = 30
		return e
	}
	e := apiError(http.StatusInternalServerError, "E0000009", "Internal Server Error")
	e.internalErr = err
	return e
}

// writeError renders err as Okta's error object. Internal error text never
// reaches the client; it goes to the log with the errorId.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error, domainID string) {
	e := fromDomainError(err, domainID)
	e.ID = oktaid.New("oae")
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if e.Status >= 500 {
		logger.ErrorContext(r.Context(), "request failed", "errorId", e.ID, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, e.Status, e)
}

// appender is a value that appends its own JSON, the bytes json.Marshal
// would write for it (the domain views).
type appender interface {
	appendJSON(b []byte) ([]byte, error)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBufs.Get().(*bytes.Buffer)
	defer func() { putJSONBuf(buf) }()
	// Encode writes what json.Marshal returns and a newline, into a
	// buffer reused across responses (a page of 200 domains is ~200 KB);
	// an appender appends the same bytes to the buffer's storage, and the
	// storage it grew to is what goes back to the pool.
	var err error
	if a, ok := v.(appender); ok {
		var b []byte
		if b, err = a.appendJSON(buf.AvailableBuffer()); err == nil {
			buf = bytes.NewBuffer(append(b, '\n'))
		}
	} else {
		err = json.NewEncoder(buf).Encode(v)
	}
	if err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(buf, `{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":%q,"errorCauses":[]}`+"\n", oktaid.New("oae"))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

var jsonBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putJSONBuf returns buf to the pool unless it grew beyond what a page
// needs, so that one huge response does not stay in memory.
func putJSONBuf(buf *bytes.Buffer) {
	if buf.Cap() > 1<<20 {
		return
	}
	buf.Reset()
	jsonBufs.Put(buf)
}
