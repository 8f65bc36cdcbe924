// Package testpki builds throwaway PKIs and the loopback servers around them
// (TLS servers, a CRL/OCSP/AIA server, CONNECT proxies) for the tests of the
// trust and doctor packages. Everything listens on 127.0.0.1 only, and every
// proxy refuses to dial anything but loopback.
//
// Keys come from testdata so that pins are stable across runs (golden
// files); certificates are minted per test around the fixed clock Now.
package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// Now is the fixed clock of every test PKI.
var Now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

//go:embed testdata/keys.pem
var keysPEM []byte

var keys = sync.OnceValue(func() map[string]crypto.Signer {
	m := map[string]crypto.Signer{}
	rest := keysPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return m
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			panic(fmt.Sprintf("testpki: key %s: %v", b.Headers["Name"], err))
		}
		m[b.Headers["Name"]] = k.(crypto.Signer)
	}
})

// Key returns the fixed test key of that name: root, intermediate, leaf,
// other-root, other-intermediate, other-leaf, proxy-root, proxy-leaf, self,
// spare (ECDSA P-256), rsa1024, or rsa-intermediate (RSA 2048, for a CA that
// signs with RSA: see IssueWeak).
func Key(name string) crypto.Signer {
	k, ok := keys()[name]
	if !ok {
		panic("testpki: no key " + name)
	}
	return k
}

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// PEM returns the certificate in PEM form.
func (c *Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// Template describes a certificate to mint. Zero dates mean Now-24h and
// Now+90 days.
type Template struct {
	CN, Org        string
	DNSNames       []string
	IPs            []net.IP
	NotBefore      time.Time
	NotAfter       time.Time
	CA             bool
	Serial         int64
	Key            string // a Key name
	CRL, OCSP, AIA []string
	// ExtKeyUsage replaces the default usages of a leaf (serverAuth), as
	// an OCSP responder certificate (id-kp-OCSPSigning) or a client
	// certificate needs.
	ExtKeyUsage []x509.ExtKeyUsage
}

// Issue mints a certificate signed by issuer, or self-signed when issuer is
// nil.
func Issue(tb testing.TB, t Template, issuer *Cert) *Cert {
	tb.Helper()
	key := Key(t.Key)
	nb, na := t.NotBefore, t.NotAfter
	if nb.IsZero() {
		nb = Now.Add(-24 * time.Hour)
	}
	if na.IsZero() {
		na = Now.Add(90 * 24 * time.Hour)
	}
	serial := t.Serial
	if serial == 0 {
		serial = 1
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: t.CN},
		NotBefore:             nb,
		NotAfter:              na,
		DNSNames:              t.DNSNames,
		IPAddresses:           t.IPs,
		CRLDistributionPoints: t.CRL,
		OCSPServer:            t.OCSP,
		IssuingCertificateURL: t.AIA,
		BasicConstraintsValid: true,
	}
	if t.Org != "" {
		tmpl.Subject.Organization = []string{t.Org}
	}
	if t.CA {
		tmpl.IsCA = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if t.ExtKeyUsage != nil {
		tmpl.ExtKeyUsage = t.ExtKeyUsage
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		tb.Fatalf("testpki: minting %s: %v", t.CN, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("testpki: parsing %s: %v", t.CN, err)
	}
	return &Cert{Cert: c, Key: key}
}

// Pool returns a pool of the given certificates.
func Pool(cs ...*Cert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c.Cert)
	}
	return p
}

// Certs returns the x509 certificates of cs.
func Certs(cs ...*Cert) []*x509.Certificate {
	out := make([]*x509.Certificate, len(cs))
	for i, c := range cs {
		out[i] = c.Cert
	}
	return out
}

// ClosedPort returns a loopback address on which nothing listens: it
// listens, notes the port and closes.
func ClosedPort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
