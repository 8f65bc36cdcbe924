package trust

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
)

// Pin returns the SPKI pin of c in RFC 7469 form: "sha256/" followed by the
// base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo.
func Pin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

// ParsePin validates a pin and returns it in the form Pin returns. It
// accepts "sha256/BASE64" and RFC 7469's header form pin-sha256="BASE64".
func ParsePin(s string) (string, error) {
	raw := strings.TrimSpace(s)
	var b64 string
	switch {
	case strings.HasPrefix(raw, "sha256/"):
		b64 = strings.TrimPrefix(raw, "sha256/")
	case strings.HasPrefix(raw, "pin-sha256="):
		b64 = strings.Trim(strings.TrimPrefix(raw, "pin-sha256="), `"`)
	default:
		return "", fmt.Errorf("pin %q: want sha256/BASE64 (the base64 SHA-256 of the SubjectPublicKeyInfo, RFC 7469)", s)
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("pin %q: the part after sha256/ is not standard base64: %w", s, err)
	}
	if len(sum) != sha256.Size {
		return "", fmt.Errorf("pin %q: decodes to %d bytes, a SHA-256 pin has 32", s, len(sum))
	}
	return "sha256/" + base64.StdEncoding.EncodeToString(sum), nil
}
