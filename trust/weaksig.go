package trust

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"time"
)

// weakSignature reports whether alg is a signature algorithm that current
// clients refuse: SHA-1 or MD5 (or MD2) based.
func weakSignature(alg x509.SignatureAlgorithm) bool {
	switch alg {
	case x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1, x509.MD5WithRSA, x509.MD2WithRSA:
		return true
	}
	return false
}

var (
	oidSHA1 = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
)

// weakSignatureValid checks child's SHA-1 or MD5 signature with parent's
// key. crypto/x509 refuses to check them at all (InsecureAlgorithmError),
// which would make a weakly signed chain look untrusted or incomplete; the
// diagnosis needs to know whether the signature is otherwise right, so that
// it can name the weak algorithm as the cause.
func weakSignatureValid(child, parent *x509.Certificate) bool {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	var hashOID asn1.ObjectIdentifier
	var digest []byte
	switch child.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		h := sha1.Sum(child.RawTBSCertificate)
		hashOID, digest = oidSHA1, h[:]
	case x509.MD5WithRSA:
		h := md5.Sum(child.RawTBSCertificate)
		hashOID, digest = oidMD5, h[:]
	default:
		return false
	}
	switch k := parent.PublicKey.(type) {
	case *rsa.PublicKey:
		if child.SignatureAlgorithm == x509.ECDSAWithSHA1 {
			return false
		}
		info, err := asn1.Marshal(struct {
			Alg    pkix.AlgorithmIdentifier
			Digest []byte
		}{pkix.AlgorithmIdentifier{Algorithm: hashOID, Parameters: asn1.NullRawValue}, digest})
		if err != nil {
			return false
		}
		// crypto.Hash(0): the DigestInfo is compared as given.
		return rsa.VerifyPKCS1v15(k, crypto.Hash(0), info, child.Signature) == nil
	case *ecdsa.PublicKey:
		return child.SignatureAlgorithm == x509.ECDSAWithSHA1 && ecdsa.VerifyASN1(k, digest, child.Signature)
	}
	return false
}

// signs reports whether parent signed child, accepting a weak algorithm
// whose signature is otherwise valid.
func signs(child, parent *x509.Certificate) bool {
	if child.CheckSignatureFrom(parent) == nil {
		return true
	}
	return weakSignature(child.SignatureAlgorithm) && weakSignatureValid(child, parent)
}

// weakPath builds the chain of a leaf whose own signature (or that of the
// intermediates above it) is weak, which crypto/x509 refuses to verify: it
// follows the weak links through the served and fetched certificates, then
// lets crypto/x509 verify the rest from the first strongly signed one. The
// weak links' name constraints and key usages are not checked; the chain is
// for the diagnosis only (checkKeys reports the weak signatures as errors).
func weakPath(leaf *x509.Certificate, pool []*x509.Certificate, roots *x509.CertPool, at time.Time) []*x509.Certificate {
	path := []*x509.Certificate{leaf}
	cur := leaf
	for range len(pool) + 1 {
		if !weakSignature(cur.SignatureAlgorithm) {
			break
		}
		i := slices.IndexFunc(pool, func(c *x509.Certificate) bool { return c != cur && weakSignatureValid(cur, c) })
		if i < 0 {
			return nil
		}
		cur = pool[i]
		path = append(path, cur)
	}
	if cur == leaf {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range pool {
		inter.AddCert(c)
	}
	chains, err := cur.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil
	}
	return append(path[:len(path)-1], chains[0]...)
}
