// Package trust verifies a TLS server's certificate chain the way a strict
// client does, and when it refuses a server it says why with findings of
// Hallmark's vocabulary (package finding) instead of a bare error.
//
// A Verifier checks the chain against the given roots (the system's by
// default), the server name, the validity window, SPKI pins in RFC 7469 form
// (sha256/BASE64) and revocation by policy (off, soft-fail, hard-fail) from a
// stapled OCSP response, an OCSP responder or the CRL, caching answers until
// their nextUpdate. When the server omits an intermediate, the Verifier fetches
// it through the certificate's AIA URL, as Windows and browsers do, and says
// so.
//
// It plugs into crypto/tls through VerifyConnection:
//
//	v, err := trust.New(trust.Config{Pins: pins, Revocation: trust.RevocationHardFail})
//	...
//	conn, err := tls.Dial("tcp", "login.acme.com:443", v.TLSConfig(nil))
//	var te *trust.Error
//	if errors.As(err, &te) {
//		for _, f := range te.Findings { fmt.Println(f.ID, f.Summary, f.Fix) }
//	}
package trust

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
)

// RevocationPolicy says what a Verifier does about revocation.
type RevocationPolicy int

const (
	// RevocationSoftFail, the default, refuses a revoked certificate and
	// accepts one whose status cannot be learned (a warning finding says so).
	RevocationSoftFail RevocationPolicy = iota
	// RevocationHardFail also refuses a certificate whose status cannot be
	// learned, as a strict desktop client does.
	RevocationHardFail
	// RevocationOff checks no revocation at all.
	RevocationOff
)

func (p RevocationPolicy) String() string {
	switch p {
	case RevocationSoftFail:
		return "soft-fail"
	case RevocationHardFail:
		return "hard-fail"
	case RevocationOff:
		return "off"
	}
	return fmt.Sprintf("RevocationPolicy(%d)", int(p))
}

// Config configures a Verifier. The zero value verifies against the system
// roots with soft-fail revocation and AIA fetching.
type Config struct {
	// Roots are the trust anchors; nil means the system's.
	Roots *x509.CertPool
	// PublicRoots, when set, is the set of publicly trusted roots (see
	// MozillaRoots). A chain that verifies against Roots but not against
	// PublicRoots is reported as tls.intercepted.
	PublicRoots *x509.CertPool
	// Pins are expected SPKI pins, "sha256/BASE64" (RFC 7469's pin-sha256
	// value). When set, at least one certificate of the verified chain must
	// match one of them.
	Pins []string
	// Revocation is the revocation policy.
	Revocation RevocationPolicy
	// CheckAllSources makes the Verifier fetch every OCSP and CRL URL of the
	// chain even after one has answered, and every one at once, as a
	// diagnosis does. A client leaves it false.
	CheckAllSources bool
	// DisableAIA turns off fetching a missing intermediate through AIA.
	DisableAIA bool
	// HTTPClient fetches OCSP, CRLs and AIA certificates. Nil means a client
	// built on http.DefaultTransport (which follows HTTP_PROXY and NO_PROXY).
	HTTPClient *http.Client
	// FetchTimeout bounds each fetch; zero means 5 seconds.
	FetchTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Cache keeps OCSP and CRL answers until their nextUpdate. Nil gives the
	// Verifier a cache of its own; share one between Verifiers to share
	// answers.
	Cache *Cache
}

// Verifier verifies server chains. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	pins   map[string]bool
	client *http.Client
	cache  *Cache
}

// New validates cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	v := &Verifier{cfg: cfg, pins: make(map[string]bool)}
	for _, p := range cfg.Pins {
		norm, err := ParsePin(p)
		if err != nil {
			return nil, err
		}
		v.pins[norm] = true
	}
	switch cfg.Revocation {
	case RevocationSoftFail, RevocationHardFail, RevocationOff:
	default:
		return nil, fmt.Errorf("trust: unknown revocation policy %d", int(cfg.Revocation))
	}
	if v.cfg.FetchTimeout <= 0 {
		v.cfg.FetchTimeout = 5 * time.Second
	}
	if v.cfg.Now == nil {
		v.cfg.Now = time.Now
	}
	v.client = cfg.HTTPClient
	if v.client == nil {
		v.client = &http.Client{Transport: http.DefaultTransport}
	}
	v.cache = cfg.Cache
	if v.cache == nil {
		v.cache = NewCache()
	}
	return v, nil
}

// TLSConfig returns a copy of base (or a new config when base is nil) whose
// certificate checks are done by v: crypto/tls's own verification is turned
// off (InsecureSkipVerify) and VerifyConnection does all of it, so the
// handshake fails with a *Error when v refuses the server.
func (v *Verifier) TLSConfig(base *tls.Config) *tls.Config {
	var c *tls.Config
	if base == nil {
		c = &tls.Config{}
	} else {
		c = base.Clone()
	}
	c.InsecureSkipVerify = true
	c.VerifyConnection = v.VerifyConnection
	return c
}

// VerifyConnection is a tls.Config.VerifyConnection callback. Set
// InsecureSkipVerify too (TLSConfig does both); otherwise crypto/tls refuses an
// incomplete chain before v can fetch the intermediate. The fetches it makes
// are bounded by a few FetchTimeouts.
func (v *Verifier) VerifyConnection(cs tls.ConnectionState) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*v.cfg.FetchTimeout)
	defer cancel()
	_, err := v.Verify(ctx, cs.ServerName, cs.PeerCertificates, cs.OCSPResponse)
	return err
}

// Result is what Verify learned. It is returned even when Verify fails, so a
// caller can show the chain and every finding.
type Result struct {
	// Served is the chain the server sent, leaf first.
	Served []*x509.Certificate
	// Chain is the verified chain, leaf to root; nil when none was found.
	Chain []*x509.Certificate
	// Fetched holds the intermediates fetched through AIA.
	Fetched []*x509.Certificate
	// Revocation lists every revocation source consulted.
	Revocation []RevocationCheck
	// Findings are the problems found, errors first.
	Findings []finding.Finding

	at time.Time // the time the path was built at
}

// Error is returned when a Verifier refuses a server. It carries every
// finding; at least one has severity error.
type Error struct {
	Findings []finding.Finding
}

func (e *Error) Error() string {
	var parts []string
	for _, f := range e.Findings {
		if f.Severity == finding.Error {
			parts = append(parts, f.ID+": "+f.Summary)
		}
	}
	return "trust: " + strings.Join(parts, "; ")
}

// Has reports whether e carries a finding with the given id.
func (e *Error) Has(id string) bool {
	for _, f := range e.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

// Verify verifies certs (leaf first, as served) for serverName, with staple
// the stapled OCSP response if any. It returns a *Error when a finding of
// severity error was found. The Result is never nil.
func (v *Verifier) Verify(ctx context.Context, serverName string, certs []*x509.Certificate, staple []byte) (*Result, error) {
	res := &Result{Served: certs}
	if len(certs) == 0 {
		res.Findings = append(res.Findings, finding.Finding{
			ID: finding.TLSHandshakeFailed, Severity: finding.Error,
			Summary: "The server sent no certificate",
			Fix:     "Configure the server with its certificate and intermediates.",
		})
		return res, &Error{Findings: res.Findings}
	}
	v.checkChain(ctx, serverName, res)
	v.checkKeys(res)
	if len(res.Chain) > 0 {
		v.checkInterception(res)
	}
	v.checkPins(res)
	if len(res.Chain) > 0 && v.cfg.Revocation != RevocationOff {
		v.checkRevocation(ctx, res, staple)
	}
	sortFindings(res.Findings)
	if finding.HasError(res.Findings) {
		return res, &Error{Findings: res.Findings}
	}
	return res, nil
}

// sortFindings orders findings errors first, keeping the order of discovery
// within a severity.
func sortFindings(fs []finding.Finding) {
	rank := map[finding.Severity]int{finding.Error: 0, finding.Warning: 1, finding.Info: 2}
	// insertion sort: stable and the lists are short
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && rank[fs[j].Severity] < rank[fs[j-1].Severity]; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// errorsAs is errors.As with the target made inline, for brevity in classifiers.
func errorsAs[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}
