package issuance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/trust"
)

// MaxUploadBytes caps the body of PUT /api/v1/domains/{id}/certificate. A
// leaf, three intermediates and a 4096-bit RSA key in PEM take under 12 KiB;
// 256 KiB leaves room for long chains and stops a client from making the
// server read or parse megabytes. The API should wrap the body with
// http.MaxBytesReader(w, r.Body, MaxUploadBytes+1) and call DecodeUpload,
// which enforces the cap itself too.
const MaxUploadBytes = 256 << 10

// MaxManualValidity is how far away the expiry of an uploaded certificate
// may be.
const MaxManualValidity = 10 * 365 * 24 * time.Hour

// Upload is Okta's body for a certificate upload.
type Upload struct {
	Certificate      string `json:"certificate"`
	CertificateChain string `json:"certificateChain"`
	PrivateKey       string `json:"privateKey"`
	Type             string `json:"type"`
}

// UploadError refuses an upload; each cause says what is wrong with it.
// The API answers E0000001 with one errorCauses entry per cause.
type UploadError struct {
	Causes []string
}

func (e *UploadError) Error() string {
	return "certificate upload refused: " + strings.Join(e.Causes, "; ")
}

// Kind is errs.Invalid.
func (e *UploadError) Kind() errs.Kind { return errs.Invalid }

// DecodeUpload reads the JSON body, at most MaxUploadBytes of it.
func DecodeUpload(r io.Reader) (Upload, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxUploadBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			return Upload{}, &UploadError{Causes: []string{fmt.Sprintf("the request body could not be read: %v", err)}}
		}
		return Upload{}, errTooLarge() // an http.MaxBytesReader stopped it
	}
	if len(body) > MaxUploadBytes {
		return Upload{}, errTooLarge()
	}
	var u Upload
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return Upload{}, &UploadError{Causes: []string{fmt.Sprintf("the body is not the expected JSON object {\"certificate\",\"certificateChain\",\"privateKey\",\"type\":\"PEM\"}: %v", err)}}
	}
	return u, nil
}

func errTooLarge() error {
	return &UploadError{Causes: []string{fmt.Sprintf("the request body is larger than %d KiB; send only the certificate, its chain and its key in PEM", MaxUploadBytes>>10)}}
}

// CheckOptions tunes CheckUpload; the zero value checks against Mozilla's
// roots at the current time.
type CheckOptions struct {
	Now time.Time
	// PublicRoots replaces Mozilla's root set (tests).
	PublicRoots *x509.CertPool
}

// Checked is an accepted upload.
type Checked struct {
	Issued *Issued // Issuer "manual"; chain as uploaded, without a root
	// Warnings are findings that do not refuse the upload, such as a root
	// that is not publicly trusted.
	Warnings []finding.Finding
}

// PublicRoots is Mozilla's root set, the one the trust package (and the
// doctor) judges chains against.
func PublicRoots() *x509.CertPool { return trust.MozillaRoots() }

// CheckUpload checks an uploaded certificate for name and returns it ready
// to seal, or an *UploadError naming every problem found.
func CheckUpload(name string, u Upload, opts CheckOptions) (*Checked, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	roots := opts.PublicRoots
	if roots == nil {
		roots = PublicRoots()
	}
	var causes []string
	refuse := func(format string, args ...any) { causes = append(causes, fmt.Sprintf(format, args...)) }

	if !strings.EqualFold(strings.TrimSpace(u.Type), "PEM") {
		refuse("type is %q; only \"PEM\" is supported", u.Type)
	}

	leaf, err := parseCertField("certificate", u.Certificate, true)
	if err != nil {
		refuse("%v", err)
	}
	var chain []*x509.Certificate
	if strings.TrimSpace(u.CertificateChain) != "" {
		chain, err = parseChain(u.CertificateChain)
		if err != nil {
			refuse("%v", err)
		}
	}
	key, err := parseKey(u.PrivateKey)
	if err != nil {
		refuse("%v", err)
	}
	if leaf == nil {
		return nil, &UploadError{Causes: causes}
	}

	subj := describeCert(leaf)
	if key != nil && !publicKeyEqual(key.Public(), leaf.PublicKey) {
		refuse("privateKey does not match the certificate %s: it belongs to another certificate", subj)
	}
	switch leaf.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		refuse("the certificate's key is %T, which browsers do not accept; use RSA of at least 2048 bits or ECDSA P-256/P-384", leaf.PublicKey)
	}
	// A wildcard domain needs the wildcard itself among the names; a
	// client checks a name under it, so the chain is judged for one.
	host := name
	if base, ok := strings.CutPrefix(name, "*."); ok {
		host = "hallmark-wildcard-check." + base
		if !slices.Contains(leaf.DNSNames, name) {
			refuse("the certificate %s is not a wildcard certificate for %s: it is valid for %s", subj, name, namesOf(leaf))
		}
	}
	if err := leaf.VerifyHostname(host); err != nil {
		refuse("the certificate %s does not cover %s: it is valid for %s", subj, name, namesOf(leaf))
	}
	switch {
	case now.Before(leaf.NotBefore):
		refuse("the certificate %s is not valid yet: valid from %s", subj, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		refuse("the certificate %s expired on %s", subj, leaf.NotAfter.UTC().Format(time.RFC3339))
	case leaf.NotAfter.Sub(now) > MaxManualValidity:
		refuse("the certificate %s expires on %s, more than 10 years away", subj, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if isSelfSigned(leaf) {
		refuse("the certificate %s is self-signed; upload a certificate issued by a certificate authority", subj)
	}
	var warnings []finding.Finding
	if !isSelfSigned(leaf) {
		causes = append(causes, checkLinks(leaf, chain)...)
	}
	if len(causes) == 0 {
		var more []string
		warnings, more = verifyChain(host, leaf, chain, roots, now)
		causes = append(causes, more...)
	}
	if len(causes) > 0 {
		return nil, &UploadError{Causes: causes}
	}
	served := []*x509.Certificate{leaf}
	for _, c := range chain {
		if !isSelfSigned(c) {
			served = append(served, c)
		}
	}
	return &Checked{
		Issued:   &Issued{Name: name, Chain: served, Key: key, Issuer: "manual"},
		Warnings: warnings,
	}, nil
}

// checkLinks says whether chain[i] issued the certificate before it, and
// names a wrong order precisely.
func checkLinks(leaf *x509.Certificate, chain []*x509.Certificate) []string {
	all := append([]*x509.Certificate{leaf}, chain...)
	var causes []string
	for i := 1; i < len(all); i++ {
		child, parent := all[i-1], all[i]
		if signedBy(child, parent) {
			continue
		}
		for j := range all {
			if j != i && j != i-1 && signedBy(child, all[j]) {
				causes = append(causes, fmt.Sprintf("certificateChain is in the wrong order: %s is issued by %s, which must come right after it; order the chain from the leaf's issuer up to the root", position(i-1, child), position(j, all[j])))
				return causes
			}
		}
		causes = append(causes, fmt.Sprintf("certificateChain does not link: %s was not issued by %s (its issuer is %q)", position(i-1, child), position(i, parent), child.Issuer.String()))
		return causes
	}
	return nil
}

// verifyChain judges the chain as it will be served (without a root) the
// way the doctor does, with the trust package's verifier and its key and
// signature policy: against the public roots, then against a root included
// in the upload (accepted with a warning). Revocation is not asked: a
// certificate just issued has none to report.
func verifyChain(name string, leaf *x509.Certificate, chain []*x509.Certificate, public *x509.CertPool, now time.Time) ([]finding.Finding, []string) {
	served := []*x509.Certificate{leaf}
	private := x509.NewCertPool()
	var privateRoot *x509.Certificate
	for _, c := range chain {
		if isSelfSigned(c) {
			private.AddCert(c)
			privateRoot = c
		} else {
			served = append(served, c)
		}
	}
	verify := func(roots *x509.CertPool) *trust.Result {
		v, err := trust.New(trust.Config{Roots: roots, Revocation: trust.RevocationOff, DisableAIA: true, Now: func() time.Time { return now }})
		if err != nil {
			panic(err) // the configuration above is valid
		}
		res, _ := v.Verify(context.Background(), name, served, nil)
		return res
	}
	res := verify(public)
	var warnings []finding.Finding
	if privateRoot != nil && unanchored(res.Findings) {
		if res2 := verify(private); !unanchored(res2.Findings) {
			res = res2
			warnings = append(warnings, finding.Finding{
				ID:       finding.ChainUntrusted,
				Severity: finding.Warning,
				Summary:  "The certificate chains to a root that is not publicly trusted",
				Detail:   fmt.Sprintf("The chain ends at %s, which is not in Mozilla's root set. Browsers and clients that do not have this root installed will refuse the connection.", describeCert(privateRoot)),
				Fix:      "Use a certificate from a public CA, or install this root on every client that connects.",
				Evidence: map[string]any{"root": privateRoot.Subject.String(), "fingerprint": Fingerprint(privateRoot)},
			})
		}
	}
	var causes []string
	for _, f := range res.Findings {
		switch {
		case f.Severity == finding.Error && f.ID == finding.ChainUntrusted || f.ID == finding.ChainIncomplete:
			last := served[len(served)-1]
			causes = append(causes, fmt.Sprintf("the chain does not verify: %s is issued by %q, which is neither in certificateChain nor a public root; add the missing intermediate (and the root, if it is private) to certificateChain", describeCert(last), last.Issuer.String()))
		case f.Severity == finding.Error:
			causes = append(causes, f.Summary+"; "+lowerFirst(f.Fix))
		case f.Severity == finding.Warning:
			warnings = append(warnings, f)
		}
	}
	return warnings, causes
}

// unanchored reports whether the findings say the chain reaches no
// trusted root.
func unanchored(fs []finding.Finding) bool {
	for _, f := range fs {
		if f.Severity == finding.Error && (f.ID == finding.ChainUntrusted || f.ID == finding.ChainIncomplete) {
			return true
		}
	}
	return false
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func parseCertField(field, s string, single bool) (*x509.Certificate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%s is empty", field)
	}
	certs, err := decodeCerts(field, s)
	if err != nil {
		return nil, err
	}
	if single && len(certs) > 1 {
		return nil, fmt.Errorf("%s holds %d certificates; put only the leaf there and its issuers in certificateChain", field, len(certs))
	}
	return certs[0], nil
}

func parseChain(s string) ([]*x509.Certificate, error) {
	return decodeCerts("certificateChain", s)
}

func decodeCerts(field, s string) ([]*x509.Certificate, error) {
	blocks, err := pemBlocks(field, s)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for i, b := range blocks {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %d is %q, want CERTIFICATE", field, i+1, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d is not a valid X.509 certificate: %v", field, i+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s is not PEM: expected -----BEGIN CERTIFICATE-----", field)
	}
	return certs, nil
}

func parseKey(s string) (crypto.Signer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("privateKey is empty")
	}
	blocks, err := pemBlocks("privateKey", s)
	if err != nil {
		return nil, err
	}
	switch len(blocks) {
	case 0:
		return nil, errors.New("privateKey is not PEM: expected -----BEGIN PRIVATE KEY-----")
	case 1:
	default:
		return nil, fmt.Errorf("privateKey holds %d PEM blocks; put there only the key of the certificate", len(blocks))
	}
	b := blocks[0]
	if _, ok := b.Headers["Proc-Type"]; ok || b.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("privateKey is encrypted; upload it without a passphrase")
	}
	var k any
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("privateKey is a PEM %q block; want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("privateKey (%s) does not parse: %v", b.Type, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("privateKey of type %T cannot sign", k)
	}
	return signer, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// isSelfSigned: issuer equals subject and the certificate's own key made
// the signature (CA or not, which CheckSignatureFrom would insist on).
func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
}

// signedBy reports whether parent's key signed child. CheckSignatureFrom
// also insists that parent be a CA, which is what a chain needs. A weak
// algorithm counts as linked here: the trust verifier reports it on its own.
func signedBy(child, parent *x509.Certificate) bool {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	err := child.CheckSignatureFrom(parent)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
}

func describeCert(c *x509.Certificate) string {
	return fmt.Sprintf("%q", c.Subject.String())
}

func position(i int, c *x509.Certificate) string {
	if i == 0 {
		return "the certificate " + describeCert(c)
	}
	return fmt.Sprintf("certificateChain entry %d (%s)", i, describeCert(c))
}

func namesOf(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return strings.Join(c.DNSNames, ", ")
	}
	if c.Subject.CommonName != "" {
		return "CN " + c.Subject.CommonName + " only (no DNS names)"
	}
	return "no DNS name"
}
