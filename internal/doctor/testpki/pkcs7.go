package testpki

import (
	"crypto/x509"
	"encoding/asn1"
)

// PKCS7 returns a degenerate PKCS#7 SignedData (RFC 2315 section 9.1;
// RFC 5652): certificates only, no content and no signers, the form of
// the .p7c files some CAs publish at their AIA URLs.
func PKCS7(certs ...*x509.Certificate) []byte {
	var raw []byte
	for _, c := range certs {
		raw = append(raw, c.Raw...)
	}
	must := func(b []byte, err error) []byte {
		if err != nil {
			panic("testpki: PKCS7: " + err.Error())
		}
		return b
	}
	set := func(b []byte) []byte {
		return must(asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: b}))
	}
	var sd []byte
	sd = append(sd, must(asn1.Marshal(1))...)                                                                                     // version
	sd = append(sd, set(nil)...)                                                                                                  // digestAlgorithms
	sd = append(sd, must(asn1.Marshal(struct{ T asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}}))...)  // contentInfo: data, absent
	sd = append(sd, must(asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: raw}))...) // [0] IMPLICIT certificates
	sd = append(sd, set(nil)...)                                                                                                  // signerInfos
	signed := must(asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: sd}))
	return must(asn1.Marshal(struct {
		T asn1.ObjectIdentifier
		C asn1.RawValue // content [0] EXPLICIT SignedData
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: signed}}))
}
