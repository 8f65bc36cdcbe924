package issuance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"

	"github.com/hallmark-dev/hallmark/finding"
)

// Error is a failed issuance with its cause as findings. The lifecycle
// stores Findings in the domain's diagnosis and in the cert_provision
// FAILURE event, and waits at least RetryAfter before the next attempt.
type Error struct {
	Name       string
	Findings   []finding.Finding
	RetryAfter time.Duration // zero: use Backoff alone
	Err        error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: obtaining certificate: %s: %v", e.Name, strings.Join(finding.IDs(e.Findings), ","), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultRateLimitWait is used when a CA says "rate limited" without a
// Retry-After header.
const DefaultRateLimitWait = time.Hour

// classify turns an error from lego into an *Error. caaIdentities are the
// names the CA recognises in CAA records (its directory's meta).
func classify(name, directory string, err error, caaIdentities []string, now time.Time) *Error {
	e := &Error{Name: name, Err: err}
	var rl *acme.RateLimitedError
	var pd *acme.ProblemDetails
	switch {
	case errors.As(err, &rl):
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = DefaultRateLimitWait
		}
		e.RetryAfter = wait
		e.Findings = append(e.Findings, finding.Finding{
			ID:       finding.ACMERateLimited,
			Severity: finding.Error,
			Summary:  "The certificate authority refused the request: rate limited",
			Detail:   fmt.Sprintf("%s answered: %s", directory, rl.Detail),
			Fix:      fmt.Sprintf("Nothing to change; Hallmark retries after %s (at %s).", wait.Round(time.Second), now.Add(wait).UTC().Format(time.RFC3339)),
			Evidence: map[string]any{"retryAfterSeconds": int64(wait / time.Second), "retryAt": now.Add(wait).UTC().Format(time.RFC3339), "problem": rl.Type},
		})
	case errors.As(err, &pd) && problemIs(pd, acme.CaaErrorType):
		id := "your CA"
		if len(caaIdentities) > 0 {
			id = caaIdentities[0]
		}
		record := fmt.Sprintf("%s. CAA 0 issue %q", name, id)
		e.Findings = append(e.Findings, finding.Finding{
			ID:       finding.CAAForbidsIssuer,
			Severity: finding.Error,
			Summary:  fmt.Sprintf("A CAA record forbids %s from issuing a certificate for %s", id, name),
			Detail:   problemText(pd),
			Fix:      fmt.Sprintf("Add the record %s (at %s or at the zone that holds the CAA records), or remove the CAA records that exclude it.", record, name),
			Evidence: map[string]any{"record": record, "caaIdentities": caaIdentities, "problem": problemText(pd)},
		})
	case errors.As(err, &pd) && (problemIs(pd, acme.ConnectionErrorType) || problemIs(pd, acme.UnauthorizedErrorType) ||
		problemIs(pd, acme.IncorrectResponseErrorType) || problemIs(pd, acme.TLSErrorType) || problemIs(pd, acme.DNSErrorType)):
		e.Findings = append(e.Findings, finding.Finding{
			ID:       finding.ACMEChallengeFailed,
			Severity: finding.Error,
			Summary:  fmt.Sprintf("The certificate authority could not validate %s", name),
			Detail:   "The CA's validation reached: " + problemText(pd),
			Fix:      fmt.Sprintf("Make sure %s resolves (A/AAAA, or its CNAME) to this service and that ports 80 and 443 reach Hallmark, with no other proxy answering /.well-known/acme-challenge/.", name),
			Evidence: map[string]any{"problem": pd.Type, "detail": problemText(pd)},
		})
	case errors.As(err, &pd) && pd.HTTPStatus < 500:
		e.Findings = append(e.Findings, finding.Finding{
			ID:       "acme.rejected",
			Severity: finding.Error,
			Summary:  fmt.Sprintf("The certificate authority refused to issue for %s", name),
			Detail:   problemText(pd),
			Fix:      "Read the CA's problem detail; a name the CA does not accept cannot be served with its certificates.",
			Evidence: map[string]any{"problem": pd.Type, "status": pd.HTTPStatus},
		})
	default:
		detail := err.Error()
		fix := fmt.Sprintf("Check that %s is reachable from Hallmark (DNS, firewall, proxy).", directory)
		var uae x509.UnknownAuthorityError
		var cve *x509.CertificateInvalidError
		if errors.As(err, &uae) || errors.As(err, &cve) {
			fix = fmt.Sprintf("Hallmark does not trust the TLS certificate of %s; pass its root with --acme-ca-root.", directory)
		}
		if errors.As(err, &pd) {
			detail = problemText(pd)
			fix = "The CA failed on its side; Hallmark retries with backoff."
		}
		var ne net.Error
		var ue *url.Error
		if !errors.As(err, &ne) && !errors.As(err, &ue) && !errors.As(err, &pd) && !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &uae) {
			detail = "unexpected: " + detail
		}
		e.Findings = append(e.Findings, finding.Finding{
			ID:       finding.ACMEUnreachable,
			Severity: finding.Error,
			Summary:  "The certificate authority could not be reached",
			Detail:   detail,
			Fix:      fix,
			Evidence: map[string]any{"directory": directory},
		})
	}
	return e
}

// problemIs looks at the problem and its subproblems.
func problemIs(pd *acme.ProblemDetails, typ string) bool {
	if pd.Type == typ {
		return true
	}
	for _, s := range pd.SubProblems {
		if s.Type == typ {
			return true
		}
	}
	return false
}

func problemText(pd *acme.ProblemDetails) string {
	var b strings.Builder
	b.WriteString(strings.TrimPrefix(pd.Type, "urn:ietf:params:acme:error:"))
	b.WriteString(": ")
	b.WriteString(pd.Detail)
	for _, s := range pd.SubProblems {
		fmt.Fprintf(&b, "; %s: %s", strings.TrimPrefix(s.Type, "urn:ietf:params:acme:error:"), s.Detail)
	}
	return b.String()
}
