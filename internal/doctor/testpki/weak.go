package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"testing"
)

// Signature algorithm identifiers (RFC 3279, RFC 8017) that
// x509.CreateCertificate no longer produces.
var (
	oidSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	oidECDSAWithSHA1 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidSHA1          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5           = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
)

// IssueWeak mints a certificate as Issue does, then signs it again with a
// weak algorithm, as CAs did before 2016: x509.SHA1WithRSA or
// x509.MD5WithRSA (the issuer's key must be RSA, e.g. rsa-intermediate) or
// x509.ECDSAWithSHA1 (an ECDSA issuer). crypto/x509 refuses to create such
// certificates, so the TBSCertificate is rewritten with encoding/asn1 (its
// signature field names the weak algorithm), hashed with SHA-1 or MD5, signed
// with crypto/rsa or crypto/ecdsa, and the Certificate assembled by hand.
func IssueWeak(tb testing.TB, t Template, issuer *Cert, alg x509.SignatureAlgorithm) *Cert {
	tb.Helper()
	c := Issue(tb, t, issuer)
	der, err := resign(c.Cert.Raw, issuer.Key, alg)
	if err != nil {
		tb.Fatalf("testpki: signing %s with %s: %v", t.CN, alg, err)
	}
	weak, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("testpki: parsing %s: %v", t.CN, err)
	}
	if weak.SignatureAlgorithm != alg {
		tb.Fatalf("testpki: %s is signed with %s, want %s", t.CN, weak.SignatureAlgorithm, alg)
	}
	return &Cert{Cert: weak, Key: c.Key}
}

func resign(der []byte, key crypto.Signer, alg x509.SignatureAlgorithm) ([]byte, error) {
	var algID pkix.AlgorithmIdentifier
	var digest []byte
	var hashOID asn1.ObjectIdentifier
	switch alg {
	case x509.SHA1WithRSA:
		algID = pkix.AlgorithmIdentifier{Algorithm: oidSHA1WithRSA, Parameters: asn1.NullRawValue}
		hashOID = oidSHA1
	case x509.MD5WithRSA:
		algID = pkix.AlgorithmIdentifier{Algorithm: oidMD5WithRSA, Parameters: asn1.NullRawValue}
		hashOID = oidMD5
	case x509.ECDSAWithSHA1:
		algID = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA1}
		hashOID = oidSHA1
	default:
		return nil, fmt.Errorf("unsupported algorithm %s", alg)
	}
	algDER, err := asn1.Marshal(algID)
	if err != nil {
		return nil, err
	}

	// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
	var cert struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		return nil, err
	}
	// TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, ... }
	var elems []asn1.RawValue
	for rest := cert.TBS.Bytes; len(rest) > 0; {
		var rv asn1.RawValue
		if rest, err = asn1.Unmarshal(rest, &rv); err != nil {
			return nil, err
		}
		elems = append(elems, rv)
	}
	i := 1 // the signature field follows the serial number
	if len(elems) > 0 && elems[0].Class == asn1.ClassContextSpecific && elems[0].Tag == 0 {
		i = 2
	}
	if len(elems) <= i {
		return nil, fmt.Errorf("TBSCertificate has %d fields", len(elems))
	}
	elems[i] = asn1.RawValue{FullBytes: algDER}
	var body []byte
	for _, e := range elems {
		body = append(body, e.FullBytes...)
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, err
	}

	if hashOID.Equal(oidMD5) {
		h := md5.Sum(tbs)
		digest = h[:]
	} else {
		h := sha1.Sum(tbs)
		digest = h[:]
	}
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg == x509.ECDSAWithSHA1 {
			return nil, fmt.Errorf("%s needs an ECDSA issuer key", alg)
		}
		// PKCS #1 v1.5 over the DigestInfo, built here so that no hash is
		// refused by crypto/rsa (crypto.Hash(0) signs the bytes as given).
		info, err := asn1.Marshal(struct {
			Alg    pkix.AlgorithmIdentifier
			Digest []byte
		}{pkix.AlgorithmIdentifier{Algorithm: hashOID, Parameters: asn1.NullRawValue}, digest})
		if err != nil {
			return nil, err
		}
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, 0, info); err != nil {
			return nil, err
		}
	case *ecdsa.PrivateKey:
		if alg != x509.ECDSAWithSHA1 {
			return nil, fmt.Errorf("%s needs an RSA issuer key", alg)
		}
		if sig, err = ecdsa.SignASN1(rand.Reader, k, digest); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported issuer key %T", key)
	}
	return asn1.Marshal(struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, asn1.RawValue{FullBytes: algDER}, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
}
