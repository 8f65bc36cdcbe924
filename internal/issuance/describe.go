package issuance

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"time"
)

// PublicCertificate is the API's publicCertificate: what the edge serves.
type PublicCertificate struct {
	Subject     string    `json:"subject"`     // "CN=login.acme.com"
	Fingerprint string    `json:"fingerprint"` // SHA-256 of the DER, "AB:CD:…"
	Expiration  time.Time `json:"expiration"`
}

// Describe returns the publicCertificate of a leaf.
func Describe(leaf *x509.Certificate) PublicCertificate {
	return PublicCertificate{
		Subject:     leaf.Subject.String(),
		Fingerprint: Fingerprint(leaf),
		Expiration:  leaf.NotAfter.UTC(),
	}
}

// Fingerprint is the SHA-256 of the certificate's DER in colon-separated
// upper-case hex, as Okta and browsers show it.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	b.Grow(len(h) + len(h)/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
