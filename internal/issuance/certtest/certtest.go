// Package certtest builds certificates for tests: private CAs, leaves,
// weak keys and SHA-1 signatures, the PEM of them, the upload bodies made
// of them, the certificate of a loopback TLS listener, and an edge source
// over a certificate store. Every failure ends the test.
package certtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Option changes a certificate's template before it is signed.
type Option func(*x509.Certificate)

var serial atomic.Int64

// New makes a certificate for cn signed by parent (self-signed when parent
// is nil) with key (a new ECDSA P-256 key when nil). A CA is valid 20
// years; a leaf 90 days, for the DNS name cn.
func New(t testing.TB, cn string, parent *Cert, key crypto.Signer, isCA bool, opts ...Option) *Cert {
	t.Helper()
	if key == nil {
		key = ECDSAKey(t, elliptic.P256())
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano() + serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage, tmpl.ExtKeyUsage = true, true, x509.KeyUsageCertSign, nil
		tmpl.NotAfter = time.Now().Add(20 * 365 * 24 * time.Hour)
	} else {
		tmpl.DNSNames = []string{cn}
	}
	for _, o := range opts {
		o(tmpl)
	}
	signer, issuer := key, tmpl
	if parent != nil {
		signer, issuer = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatalf("creating %s: %v", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing %s: %v", cn, err)
	}
	return &Cert{Cert: c, Key: key}
}

// Root makes a self-signed CA.
func Root(t testing.TB, cn string) *Cert { t.Helper(); return New(t, cn, nil, nil, true) }

// Intermediate makes a CA signed by parent.
func Intermediate(t testing.TB, cn string, parent *Cert) *Cert {
	t.Helper()
	return New(t, cn, parent, nil, true)
}

// Leaf makes a server certificate for name signed by parent.
func Leaf(t testing.TB, name string, parent *Cert, opts ...Option) *Cert {
	t.Helper()
	return New(t, name, parent, nil, false, opts...)
}

// ECDSAKey makes an ECDSA key on curve.
func ECDSAKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RSAKey makes an RSA key of bits (1024 for a weak one).
func RSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Expired: valid from 100 days ago until yesterday.
func Expired(c *x509.Certificate) {
	c.NotBefore, c.NotAfter = time.Now().Add(-100*24*time.Hour), time.Now().Add(-24*time.Hour)
}

// NotYetValid: valid from tomorrow.
func NotYetValid(c *x509.Certificate) { c.NotBefore = time.Now().Add(24 * time.Hour) }

// ValidFor: valid until d from now.
func ValidFor(d time.Duration) Option {
	return func(c *x509.Certificate) { c.NotAfter = time.Now().Add(d) }
}

// SHA1: signed with SHA-1 and RSA (the parent must hold an RSA key).
func SHA1(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA1WithRSA }

// PEM encodes the certificates, in order.
func PEM(cs ...*Cert) string {
	var b strings.Builder
	for _, c := range cs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
	}
	return b.String()
}

// KeyPEM encodes k as a PKCS#8 PEM block.
func KeyPEM(t testing.TB, k crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// Upload is the upload body of leaf with its chain (intermediates, then
// the root if wanted).
func Upload(t testing.TB, leaf *Cert, chain ...*Cert) issuance.Upload {
	t.Helper()
	return issuance.Upload{Certificate: PEM(leaf), CertificateChain: PEM(chain...), PrivateKey: KeyPEM(t, leaf.Key), Type: "PEM"}
}

// UploadOf is the upload body of an issued certificate; extraChain (PEM,
// for instance a private root) is added at the end of its chain.
func UploadOf(t testing.TB, iss *issuance.Issued, extraChain []byte) issuance.Upload {
	t.Helper()
	var chain []byte
	for _, c := range iss.Chain[1:] {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return issuance.Upload{
		Certificate:      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.Leaf().Raw})),
		CertificateChain: string(append(chain, extraChain...)),
		PrivateKey:       KeyPEM(t, iss.Key),
		Type:             "PEM",
	}
}

// Listener writes, under dir, a certificate and key for a TLS server on
// 127.0.0.1 (and localhost) and the PEM of the private root that signed
// it: what a test CA's own listeners serve, and what a client trusts
// (--acme-ca-root).
func Listener(t testing.TB, dir string) (certFile, keyFile, rootFile string, root *x509.Certificate) {
	t.Helper()
	ca := New(t, "test listener CA", nil, nil, true, ValidFor(24*time.Hour))
	leaf := New(t, "listener", ca, nil, false, ValidFor(24*time.Hour), func(c *x509.Certificate) {
		c.DNSNames, c.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	})
	certFile, keyFile, rootFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "root.pem")
	for f, body := range map[string]string{certFile: PEM(leaf), keyFile: KeyPEM(t, leaf.Key), rootFile: PEM(ca)} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, rootFile, ca.Cert
}

// EdgeSource is an edge.Source over a certificate store: the record of
// the name, its key opened with Box, served for the org OrgName.
type EdgeSource struct {
	Certs   issuance.CertStore
	Box     *sealed.Box
	OrgName string
}

var _ edge.Source = EdgeSource{}

func (s EdgeSource) Lookup(ctx context.Context, name string) (edge.Entry, error) {
	rec, err := s.Certs.Certificate(ctx, name)
	if err != nil {
		return edge.Entry{}, err
	}
	c, err := rec.TLSCertificate(s.Box)
	if err != nil {
		return edge.Entry{}, err
	}
	return edge.Entry{Certificate: c, OrgName: s.OrgName}, nil
}
