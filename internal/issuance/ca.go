package issuance

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// Lifetimes of the built-in CA's certificates.
const (
	CARootLifetime         = 20 * 365 * 24 * time.Hour
	CAIntermediateLifetime = 10 * 365 * 24 * time.Hour
	CALeafLifetime         = 90 * 24 * time.Hour
	// backdate absorbs small clock differences between Hallmark and clients.
	backdate = 5 * time.Minute
)

// Files of the built-in CA under its directory. root.pem is written last:
// when it exists, the others do.
const (
	caRootCert  = "root.pem"
	caRootKey   = "root.key.sealed"
	caInterCert = "intermediate.pem"
	caInterKey  = "intermediate.key.sealed"
)

// CA is the built-in certificate authority: a root and an intermediate,
// ECDSA P-256, created at first start and reloaded afterwards. It issues
// 90-day ECDSA P-256 leaves signed by the intermediate. Its keys are sealed
// with the master key on disk.
type CA struct {
	root     *x509.Certificate
	rootPEM  []byte
	inter    *x509.Certificate
	interKey crypto.Signer
	now      func() time.Time
}

var _ Issuer = (*CA)(nil)

// LoadOrCreateCA loads the CA kept in dir, or creates it there. The
// directory is made 0700 and the (sealed) key files 0600, also when they
// existed with wider modes.
func LoadOrCreateCA(dir string, box *sealed.Box) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("built-in CA %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("built-in CA %s: making the directory private: %w", dir, err)
	}
	for _, f := range []string{caRootKey, caInterKey} {
		if err := os.Chmod(filepath.Join(dir, f), 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("built-in CA %s: making %s private: %w", dir, f, err)
		}
	}
	ca, err := loadCA(dir, box)
	if errors.Is(err, fs.ErrNotExist) {
		return createCA(dir, box, time.Now())
	}
	return ca, err
}

func createCA(dir string, box *sealed.Box, now time.Time) (*CA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Hallmark Built-in Root CA " + now.UTC().Format("2006-01-02"), Organization: []string{"Hallmark"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CARootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("built-in CA: creating root: %w", err)
	}
	root, _ := x509.ParseCertificate(rootDER)

	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	interTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Hallmark Built-in Intermediate CA", Organization: []string{"Hallmark"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAIntermediateLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("built-in CA: creating intermediate: %w", err)
	}
	inter, _ := x509.ParseCertificate(interDER)

	for _, f := range []struct {
		name string
		key  crypto.Signer
	}{{caRootKey, rootKey}, {caInterKey, interKey}} {
		der, err := x509.MarshalPKCS8PrivateKey(f.key)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), box.Seal(der, caKeyAAD(f.name)), 0o600); err != nil {
			return nil, fmt.Errorf("built-in CA: %w", err)
		}
	}
	if err := writeFileAtomic(filepath.Join(dir, caInterCert), pemCert(interDER), 0o644); err != nil {
		return nil, fmt.Errorf("built-in CA: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, caRootCert), pemCert(rootDER), 0o644); err != nil {
		return nil, fmt.Errorf("built-in CA: %w", err)
	}
	return &CA{root: root, rootPEM: pemCert(rootDER), inter: inter, interKey: interKey, now: time.Now}, nil
}

func loadCA(dir string, box *sealed.Box) (*CA, error) {
	rootPEM, err := os.ReadFile(filepath.Join(dir, caRootCert))
	if err != nil {
		return nil, err // fs.ErrNotExist: create
	}
	root, err := parsePEMCert(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w", dir, caRootCert, err)
	}
	interPEM, err := os.ReadFile(filepath.Join(dir, caInterCert))
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: root exists but: %w", dir, err)
	}
	inter, err := parsePEMCert(interPEM)
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w", dir, caInterCert, err)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("built-in CA %s: the intermediate is not signed by the root: %w", dir, err)
	}
	sealedKey, err := os.ReadFile(filepath.Join(dir, caInterKey))
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %w", dir, err)
	}
	der, err := box.Open(sealedKey, caKeyAAD(caInterKey))
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w (is --master-key-file the key this CA was created with?)", dir, caInterKey, err)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w", dir, caInterKey, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(inter.PublicKey) {
		return nil, fmt.Errorf("built-in CA %s: %s does not match %s", dir, caInterKey, caInterCert)
	}
	return &CA{root: root, rootPEM: rootPEM, inter: inter, interKey: key, now: time.Now}, nil
}

// RootPEM is the root certificate, served at GET /api/v1/ca/root.pem.
func (ca *CA) RootPEM() []byte { return ca.rootPEM }

// Root is the root certificate.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// IssuesWildcards is true: the built-in CA signs for *.acme.com as for any
// name whose ownership the lifecycle proved.
func (ca *CA) IssuesWildcards() bool { return true }

// Issue signs a fresh ECDSA P-256 leaf for req.Name, valid 90 days.
func (ca *CA) Issue(ctx context.Context, req Request) (*Issued, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := strings.ToLower(strings.TrimSuffix(req.Name, "."))
	if name == "" || strings.ContainsAny(name, " /\\:@") {
		return nil, fmt.Errorf("built-in CA: %q is not a host name", req.Name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.sign(name, key.Public(), ca.now())
	if err != nil {
		return nil, fmt.Errorf("%s: built-in CA: %w", name, err)
	}
	return &Issued{Name: name, Chain: []*x509.Certificate{leaf, ca.inter}, Key: key, Issuer: "builtin"}, nil
}

func (ca *CA) sign(name string, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	notAfter := now.Add(CALeafLifetime)
	if notAfter.After(ca.inter.NotAfter) {
		notAfter = ca.inter.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, pub, ca.interKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func caKeyAAD(file string) []byte { return []byte("hallmark/ca/" + file) }

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err)
	}
	return n
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parsePEMCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
