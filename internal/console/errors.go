package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

// formError is a refusal to show on the form that caused it: the same
// cases the API maps to Okta's codes (internal/api fromDomainError), in
// words for a person.
type formError struct {
	Status  int
	Message string
	Causes  []string // one line per problem, for a certificate upload
}

// asFormError returns the form message for a refusal of the core, by its
// kind (internal/errs), or nil when err is a fault, which becomes the
// error page.
func asFormError(err error) *formError {
	var ne *customdomain.NameError
	var fe *errs.FieldError
	var ue *issuance.UploadError
	switch {
	case errors.As(err, &ne):
		return &formError{Status: http.StatusBadRequest, Message: "That name cannot be used: " + ne.Reason + "."}
	case errors.As(err, &fe):
		return &formError{Status: http.StatusBadRequest, Message: fieldName(fe.Field) + ": " + fe.Reason + "."}
	case errors.As(err, &ue):
		return &formError{Status: http.StatusBadRequest, Message: "The certificate was refused; nothing was changed.", Causes: ue.Causes}
	case errors.Is(err, customdomain.ErrDuplicate):
		return &formError{Status: http.StatusConflict, Message: "Your organization already has a domain with this name. Open it from the domain list."}
	case errors.Is(err, customdomain.ErrLimit):
		return &formError{Status: http.StatusForbidden, Message: "Your organization has reached its domain limit. Delete a domain you no longer need, or ask the operator to raise the limit."}
	case errors.Is(err, customdomain.ErrInUse):
		return &formError{Status: http.StatusConflict, Message: "This name is already verified by another organization. A name serves one organization; ask the operator if it should move."}
	case errors.Is(err, customdomain.ErrNotVerified):
		return &formError{Status: http.StatusForbidden, Message: "Ownership of this domain is not proven yet. Publish the records, press Verify now until the status reads “Verified”, then upload the certificate."}
	}
	switch errs.KindOf(err) {
	case errs.Invalid:
		return &formError{Status: http.StatusBadRequest, Message: err.Error() + "."}
	case errs.Unauthenticated, errs.Forbidden:
		return &formError{Status: http.StatusForbidden, Message: "You may not do this with the token you signed in with."}
	case errs.NotFound:
		return &formError{Status: http.StatusNotFound, Message: "That no longer exists; it may have been deleted meanwhile."}
	case errs.Conflict:
		return &formError{Status: http.StatusConflict, Message: "That conflicts with what is stored now; reload the page and try again."}
	case errs.Unavailable:
		return &formError{Status: http.StatusServiceUnavailable, Message: "This is not available on this server right now (" + err.Error() + "); nothing was changed."}
	}
	return nil
}

func fieldName(f string) string {
	switch f {
	case "certificateSourceType":
		return "Certificate"
	case "brandId":
		return "Brand"
	case "name":
		return "Name"
	}
	return strings.ToUpper(f[:min(1, len(f))]) + f[min(1, len(f)):]
}
