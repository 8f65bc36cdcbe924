package trust

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// parsePKCS7Certs returns the certificates of a degenerate PKCS#7
// SignedData (RFC 2315 section 9.1, RFC 5652 section 5), the ".p7c" form in
// which some CAs publish intermediates at their AIA URLs. The standard
// library has no PKCS#7 parser; only the certificates field is read, and no
// signature is checked (a degenerate bundle has none: each certificate is
// verified as part of the chain instead).
//
//	ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
//	SignedData  ::= SEQUENCE { version, digestAlgorithms SET, contentInfo,
//	                           certificates [0] IMPLICIT SET OF Certificate OPTIONAL,
//	                           crls [1] IMPLICIT ... OPTIONAL, signerInfos SET }
func parsePKCS7Certs(der []byte) ([]*x509.Certificate, error) {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue // [0] EXPLICIT, unwrapped below
	}
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("PKCS#7: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("PKCS#7: trailing data")
	}
	if !ci.Type.Equal(oidSignedData) {
		return nil, fmt.Errorf("PKCS#7: content type %v is not SignedData", ci.Type)
	}
	if ci.Content.Class != asn1.ClassContextSpecific || ci.Content.Tag != 0 || !ci.Content.IsCompound {
		return nil, errors.New("PKCS#7: no [0] content")
	}
	var sd asn1.RawValue
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("PKCS#7 SignedData: %w", err)
	}
	if sd.Class != asn1.ClassUniversal || sd.Tag != asn1.TagSequence {
		return nil, errors.New("PKCS#7: SignedData is not a SEQUENCE")
	}
	const maxFields = 6 // version, digestAlgorithms, contentInfo, certificates, crls, signerInfos
	rest = sd.Bytes
	for range maxFields {
		if len(rest) == 0 {
			break
		}
		var f asn1.RawValue
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, fmt.Errorf("PKCS#7 SignedData: %w", err)
		}
		if f.Class == asn1.ClassContextSpecific && f.Tag == 0 && f.IsCompound {
			certs, err := x509.ParseCertificates(f.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS#7 certificates: %w", err)
			}
			return certs, nil
		}
	}
	return nil, nil
}
