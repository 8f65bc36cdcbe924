package trust

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/hallmark-dev/hallmark/finding"
)

// RevocationChecked is the id of the info finding that reports a revocation
// source that answered "good".
//
// Deprecated: use finding.RevocationChecked.
const RevocationChecked = finding.RevocationChecked

// Status is the outcome of one revocation source.
type Status string

const (
	StatusGood        Status = "good"
	StatusRevoked     Status = "revoked"
	StatusUnknown     Status = "unknown"     // the responder does not know the certificate
	StatusUnreachable Status = "unreachable" // the URL could not be fetched
	StatusInvalid     Status = "invalid"     // an answer came but cannot be used (bad signature, stale, garbled)
)

// Source kinds of a RevocationCheck.
const (
	KindStapled = "ocsp-stapled"
	KindOCSP    = "ocsp"
	KindCRL     = "crl"
)

// RevocationCheck is one revocation source consulted for one certificate.
type RevocationCheck struct {
	Subject    string // the certificate checked
	Kind       string // KindStapled, KindOCSP or KindCRL
	URL        string // empty for a stapled response
	Host       string
	Port       int
	Status     Status
	Err        error     // why the status is unreachable or invalid
	RevokedAt  time.Time // when revoked
	ThisUpdate time.Time // when the CA signed the answer: a time the CA vouches has passed
	NextUpdate time.Time
	Cached     bool // answered from the cache
}

// checkRevocation consults the revocation sources of every certificate of the
// verified chain but the root, by policy.
func (v *Verifier) checkRevocation(ctx context.Context, res *Result, staple []byte) {
	n := len(res.Chain) - 1
	per := make([][]RevocationCheck, n)
	var wg sync.WaitGroup
	for i := range n {
		var st []byte
		if i == 0 {
			st = staple
		}
		wg.Go(func() { per[i] = v.checkOne(ctx, res.Chain[i], res.Chain[i+1], st) })
	}
	wg.Wait()
	for i, checks := range per {
		res.Revocation = append(res.Revocation, checks...)
		res.Findings = append(res.Findings, v.revocationFindings(res.Chain[i], checks)...)
	}
}

type source struct{ kind, url string }

func (v *Verifier) checkOne(ctx context.Context, cert, issuer *x509.Certificate, staple []byte) []RevocationCheck {
	var srcs []source
	if len(staple) > 0 {
		srcs = append(srcs, source{KindStapled, ""})
	}
	for _, u := range cert.OCSPServer {
		srcs = append(srcs, source{KindOCSP, u})
	}
	for _, u := range cert.CRLDistributionPoints {
		srcs = append(srcs, source{KindCRL, u})
	}
	checks := make([]RevocationCheck, len(srcs))
	run := func(i int) {
		s := srcs[i]
		c := RevocationCheck{Subject: cert.Subject.String(), Kind: s.kind, URL: s.url}
		if s.url != "" {
			c.Host, c.Port = HostPort(s.url)
		}
		switch s.kind {
		case KindStapled:
			v.stapled(&c, cert, issuer, staple)
		case KindOCSP:
			v.ocsp(ctx, &c, cert, issuer)
		case KindCRL:
			v.crl(ctx, &c, cert, issuer)
		}
		checks[i] = c
	}
	if v.cfg.CheckAllSources {
		var wg sync.WaitGroup
		for i := range srcs {
			wg.Go(func() { run(i) })
		}
		wg.Wait()
		return checks
	}
	for i := range srcs {
		run(i)
		if st := checks[i].Status; st == StatusGood || st == StatusRevoked {
			return checks[:i+1]
		}
	}
	return checks
}

func (v *Verifier) stapled(c *RevocationCheck, cert, issuer *x509.Certificate, staple []byte) {
	r, err := v.parseOCSP(staple, cert, issuer)
	if err != nil {
		c.Status, c.Err = StatusInvalid, fmt.Errorf("stapled OCSP response: %w", err)
		return
	}
	v.ocspStatus(c, r)
}

// UnauthorizedSignerError is an OCSP response signed by a key RFC 6960
// section 4.2.2.2 does not authorise: only the issuer itself, or a
// responder certificate the issuer signed with id-kp-OCSPSigning (valid
// at the time), may sign. Strict clients ignore such an answer, so the
// status stays unknown.
type UnauthorizedSignerError struct {
	Signer string // the embedded signer's subject; empty when none was embedded
	Reason string
}

func (e *UnauthorizedSignerError) Error() string {
	if e.Signer == "" {
		return "the OCSP response is signed by a key that is not the issuer's: " + e.Reason
	}
	return fmt.Sprintf("the OCSP response is signed by %q, which RFC 6960 section 4.2.2.2 does not authorise: %s", e.Signer, e.Reason)
}

// parseOCSP parses an OCSP response for cert and checks that its signer
// is authorised.
func (v *Verifier) parseOCSP(der []byte, cert, issuer *x509.Certificate) (*ocsp.Response, error) {
	r, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		// Well formed but not verifiable against the issuer: signed by
		// someone else (another CA's key, a responder the issuer did not
		// certify).
		if other, perr := ocsp.ParseResponse(der, nil); perr == nil {
			// The issuer signed and embedded its own certificate: allowed
			// (x/crypto/ocsp then checks the issuer against itself).
			if other.Certificate != nil && other.Certificate.Equal(issuer) && other.CheckSignatureFrom(issuer) == nil {
				if other.SerialNumber.Cmp(cert.SerialNumber) != 0 {
					return nil, fmt.Errorf("the OCSP response is for serial %s, not %s", other.SerialNumber, cert.SerialNumber)
				}
				return other, nil
			}
			ue := &UnauthorizedSignerError{Reason: fmt.Sprintf("neither %q nor a responder certificate it issued signed it (%v)", Name(issuer), err)}
			if other.Certificate != nil {
				ue.Signer = other.Certificate.Subject.String()
			}
			return nil, ue
		}
		return nil, err
	}
	if s := r.Certificate; s != nil && !s.Equal(issuer) {
		switch now := v.cfg.Now(); {
		case !slices.Contains(s.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning):
			return nil, &UnauthorizedSignerError{Signer: s.Subject.String(), Reason: fmt.Sprintf("it was issued by %q but without the id-kp-OCSPSigning extended key usage", Name(issuer))}
		case now.After(s.NotAfter) || now.Before(s.NotBefore):
			return nil, &UnauthorizedSignerError{Signer: s.Subject.String(), Reason: fmt.Sprintf("the responder certificate is valid only from %s to %s", dateOf(s.NotBefore), dateOf(s.NotAfter))}
		}
	}
	return r, nil
}

func (v *Verifier) ocspStatus(c *RevocationCheck, r *ocsp.Response) {
	c.NextUpdate, c.ThisUpdate = r.NextUpdate, r.ThisUpdate
	if !r.NextUpdate.IsZero() && v.cfg.Now().After(r.NextUpdate) {
		c.Status, c.Err = StatusInvalid, fmt.Errorf("OCSP response is stale: its nextUpdate %s has passed", dateOf(r.NextUpdate))
		return
	}
	switch r.Status {
	case ocsp.Good:
		c.Status = StatusGood
	case ocsp.Revoked:
		c.Status, c.RevokedAt = StatusRevoked, r.RevokedAt
	default:
		c.Status, c.Err = StatusUnknown, errors.New("the OCSP responder does not know this certificate")
	}
}

func (v *Verifier) ocsp(ctx context.Context, c *RevocationCheck, cert, issuer *x509.Certificate) {
	key := "ocsp|" + Pin(issuer) + "|" + cert.SerialNumber.String()
	if e, ok := v.cache.get(key, v.cfg.Now()); ok {
		c.Status, c.RevokedAt, c.ThisUpdate, c.NextUpdate, c.Cached = e.status, e.revokedAt, e.thisUpdate, e.nextUpdate, true
		return
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		c.Status, c.Err = StatusInvalid, fmt.Errorf("building the OCSP request: %w", err)
		return
	}
	r, unreachable, err := v.ocspFetch(ctx, c.URL, req, cert, issuer)
	if err != nil {
		c.Status, c.Err = StatusInvalid, err
		if unreachable {
			c.Status = StatusUnreachable
		}
		return
	}
	v.ocspStatus(c, r)
	if c.Status == StatusGood || c.Status == StatusRevoked {
		v.cache.put(key, cacheEntry{status: c.Status, revokedAt: c.RevokedAt, thisUpdate: c.ThisUpdate, nextUpdate: c.NextUpdate})
	}
}

// maxOCSPGet is the longest GET URL path element RFC 5019 section 5
// expects responders to take; longer requests are POSTed.
const maxOCSPGet = 255

// ocspFetch asks the responder at u, first with GET (RFC 6960 appendix A.1:
// the DER request, base64, URL-encoded, appended to the URL; cacheable by
// proxies and CDNs, which is how large CAs serve OCSP), then with POST when
// the GET was answered with an error status or an answer that cannot be
// used (some responders take POST only). A GET that reaches nobody is not
// repeated as a POST to the same host: that would only double the wait.
// unreachable says the failure is a transport one, not a bad answer.
func (v *Verifier) ocspFetch(ctx context.Context, u string, req []byte, cert, issuer *x509.Certificate) (r *ocsp.Response, unreachable bool, err error) {
	var getErr error
	if enc := url.PathEscape(base64.StdEncoding.EncodeToString(req)); len(enc) <= maxOCSPGet {
		get := u
		if !strings.HasSuffix(get, "/") {
			get += "/"
		}
		body, err := v.fetch(ctx, http.MethodGet, get+enc, "", nil)
		if err == nil {
			if r, err = v.parseOCSP(body, cert, issuer); err == nil {
				return r, false, nil
			}
			if isUnauthorizedSigner(err) { // an answer: asking again by POST gets the same signer
				return nil, false, fmt.Errorf("OCSP response to GET from %s: %w", u, err)
			}
			err = fmt.Errorf("OCSP response to GET from %s: %w", u, err)
		} else if _, answered := errorsAs[*StatusError](err); !answered {
			if ue, ok := errorsAs[*url.Error](err); ok {
				err = fmt.Errorf("GET %s (OCSP request in the URL): %w", u, ue.Err)
			}
			return nil, true, err
		}
		getErr = err
	}
	body, err := v.fetch(ctx, http.MethodPost, u, "application/ocsp-request", req)
	if err != nil {
		if getErr != nil {
			err = fmt.Errorf("%w (a GET before it failed too: %v)", err, getErr)
		}
		return nil, true, err
	}
	if r, err = v.parseOCSP(body, cert, issuer); err != nil {
		if getErr != nil {
			err = fmt.Errorf("%w (a GET before it failed too: %v)", err, getErr)
		}
		return nil, false, fmt.Errorf("OCSP response from %s: %w", u, err)
	}
	return r, false, nil
}

func (v *Verifier) crl(ctx context.Context, c *RevocationCheck, cert, issuer *x509.Certificate) {
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		c.Status, c.Err = StatusUnreachable, fmt.Errorf("%s: only http and https CRL URLs are fetched", c.URL)
		return
	}
	now := v.cfg.Now()
	key := "crl|" + Pin(issuer) + "|" + c.URL
	e, ok := v.cache.get(key, now)
	if ok {
		c.Cached = true
	} else {
		body, err := v.fetch(ctx, http.MethodGet, c.URL, "", nil)
		if err != nil {
			c.Status, c.Err = StatusUnreachable, err
			return
		}
		if b, _ := pem.Decode(body); b != nil && b.Type == "X509 CRL" {
			body = b.Bytes
		}
		rl, err := x509.ParseRevocationList(body)
		if err != nil {
			c.Status, c.Err = StatusInvalid, fmt.Errorf("CRL from %s: %w", c.URL, err)
			return
		}
		if err := rl.CheckSignatureFrom(issuer); err != nil {
			c.Status, c.Err = StatusInvalid, fmt.Errorf("CRL from %s is not signed by %q: %w", c.URL, Name(issuer), err)
			return
		}
		if !rl.NextUpdate.IsZero() && now.After(rl.NextUpdate) {
			c.Status, c.Err, c.NextUpdate = StatusInvalid, fmt.Errorf("CRL from %s is stale: its nextUpdate %s has passed", c.URL, dateOf(rl.NextUpdate)), rl.NextUpdate
			return
		}
		e = cacheEntry{thisUpdate: rl.ThisUpdate, nextUpdate: rl.NextUpdate, revoked: map[string]time.Time{}}
		for _, r := range rl.RevokedCertificateEntries {
			e.revoked[r.SerialNumber.String()] = r.RevocationTime
		}
		v.cache.put(key, e)
	}
	c.NextUpdate, c.ThisUpdate = e.nextUpdate, e.thisUpdate
	if at, ok := e.revoked[cert.SerialNumber.String()]; ok {
		c.Status, c.RevokedAt = StatusRevoked, at
		return
	}
	c.Status = StatusGood
}

// revocationFindings turns the checks of one certificate into findings.
func (v *Verifier) revocationFindings(cert *x509.Certificate, checks []RevocationCheck) []finding.Finding {
	if len(checks) == 0 {
		return []finding.Finding{{
			ID: finding.RevocationUnavailable, Severity: finding.Warning,
			Summary:  fmt.Sprintf("The certificate %q names no OCSP responder and no CRL", Name(cert)),
			Detail:   "Its revocation status cannot be checked. Clients that insist on a revocation check (RevocationStatusUnknown) refuse it; TLS inspection products often mint such certificates.",
			Fix:      "Use a certificate from a CA that publishes revocation (a CRL distribution point or an OCSP URL); if a proxy minted this certificate, exempt the host from inspection.",
			Evidence: map[string]any{"subject": cert.Subject.String()},
		}}
	}
	answered := false
	for _, c := range checks {
		if c.Status == StatusRevoked {
			where := c.URL
			if c.Kind == KindStapled {
				where = "the stapled OCSP response"
			}
			ev := map[string]any{"subject": c.Subject, "serial": cert.SerialNumber.String(), "kind": c.Kind, "revokedAt": dateOf(c.RevokedAt)}
			if c.URL != "" {
				ev["url"], ev["host"], ev["port"] = c.URL, c.Host, c.Port
			}
			return []finding.Finding{{
				ID: finding.RevocationRevoked, Severity: finding.Error,
				Summary:  fmt.Sprintf("The certificate %q is revoked", Name(cert)),
				Detail:   fmt.Sprintf("%s says serial %s was revoked on %s.", where, cert.SerialNumber, dateOf(c.RevokedAt)),
				Fix:      "The server operator must obtain a new certificate (with a new key if the old one may be compromised) and install it; a revoked certificate cannot be trusted.",
				Evidence: ev,
			}}
		}
		if c.Status == StatusGood {
			answered = true
		}
	}
	var fs []finding.Finding
	for _, c := range checks {
		ev := map[string]any{"subject": c.Subject, "kind": c.Kind, "status": string(c.Status)}
		if c.URL != "" {
			ev["url"], ev["urls"], ev["host"], ev["port"] = c.URL, []string{c.URL}, c.Host, c.Port
		}
		if !c.NextUpdate.IsZero() {
			ev["nextUpdate"] = dateOf(c.NextUpdate)
		}
		if c.Status == StatusGood {
			where := c.URL
			if c.Kind == KindStapled {
				where = "the stapled OCSP response"
			}
			if c.Cached {
				ev["cached"] = true
			}
			fs = append(fs, finding.Finding{
				ID: finding.RevocationChecked, Severity: finding.Info,
				Summary:  fmt.Sprintf("%s: %q is not revoked (%s)", strings.ToUpper(c.Kind), Name(cert), where),
				Evidence: ev,
			})
			continue
		}
		sev := finding.Warning
		if !answered && v.cfg.Revocation == RevocationHardFail {
			sev = finding.Error
		}
		ev["error"] = fmt.Sprint(c.Err)
		if se, ok := errorsAs[*StatusError](c.Err); ok {
			ev["httpStatus"] = se.StatusCode
		}
		f := finding.Finding{ID: finding.RevocationUnreachable, Severity: sev, Evidence: ev}
		consequence := "No other source answered, so the status is unknown: strict clients fail with RevocationStatusUnknown."
		if answered {
			consequence = "Another source answered, so clients that use it succeed; clients that rely on this one fail."
		}
		switch {
		case c.Status == StatusUnreachable && c.URL != "":
			f.Summary = fmt.Sprintf("The %s URL %s cannot be reached (%s:%d)", strings.ToUpper(c.Kind), c.URL, c.Host, c.Port)
			f.Detail = fmt.Sprintf("Fetching it for %q failed: %v. %s", Name(cert), c.Err, consequence)
			f.Fix = fmt.Sprintf("Allow outbound HTTP from the clients (and through their proxy, if any) to %s on port %d. Allowlist line: %s:%d", c.Host, c.Port, c.Host, c.Port)
		case isUnauthorizedSigner(c.Err):
			where := c.URL
			if c.Kind == KindStapled {
				where = "the stapled OCSP response"
			}
			ue, _ := errorsAs[*UnauthorizedSignerError](c.Err)
			f.ID = finding.RevocationUnauthorizedSigner
			f.Summary = fmt.Sprintf("The OCSP answer from %s is signed by a responder the CA did not authorise", where)
			f.Detail = fmt.Sprintf("For %q: %v. Windows, Apple's trust evaluation, Firefox and OpenSSL ignore such an answer (RFC 6960 section 4.2.2.2). %s", Name(cert), c.Err, consequence)
			f.Fix = fmt.Sprintf("The CA (or whoever runs the responder) must sign OCSP answers with the issuer's key, or with a responder certificate issued by %q that carries the id-kp-OCSPSigning extended key usage; tell the server operator, who should report it to the CA.", cert.Issuer.CommonName)
			if ue.Signer != "" {
				ev["signer"] = ue.Signer
			}
		default:
			where := c.URL
			if c.Kind == KindStapled {
				where = "the stapled OCSP response"
			}
			f.Summary = fmt.Sprintf("The %s answer from %s cannot be used", strings.ToUpper(c.Kind), where)
			f.Detail = fmt.Sprintf("For %q: %v. %s", Name(cert), c.Err, consequence)
			f.Fix = "The CA's revocation service (or the server's stapling) is misbehaving: tell the server operator, who should refresh the staple or contact the CA."
		}
		fs = append(fs, f)
	}
	return fs
}

func isUnauthorizedSigner(err error) bool {
	_, ok := errorsAs[*UnauthorizedSignerError](err)
	return ok
}

// Cache keeps revocation answers until their nextUpdate. It is safe for
// concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	status     Status
	revokedAt  time.Time
	thisUpdate time.Time
	nextUpdate time.Time
	revoked    map[string]time.Time // CRL: serial → revocation time
}

// NewCache returns an empty Cache.
func NewCache() *Cache { return &Cache{m: map[string]cacheEntry{}} }

func (c *Cache) get(key string, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.nextUpdate) {
		delete(c.m, key)
		return cacheEntry{}, false
	}
	return e, true
}

// put stores an answer; one without a nextUpdate is not kept.
func (c *Cache) put(key string, e cacheEntry) {
	if e.nextUpdate.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = e
}
