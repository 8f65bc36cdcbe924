package issuance

import (
	"bytes"
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
	"github.com/hallmark-dev/hallmark/internal/store"
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

// CARecord is the built-in CA as stored: its certificates in PEM and its
// keys (PKCS#8) sealed with the master key, each bound to its place by
// CAKeyAAD. The same sealed bytes live in files (an embedded installation
// from before the CA moved into the database) or in the database.
type CARecord struct {
	RootPEM               []byte
	IntermediatePEM       []byte
	SealedRootKey         []byte
	SealedIntermediateKey []byte
	Created               time.Time
}

// CAStore keeps the one built-in CA of an installation, shared by every
// node on the database:
//
//	builtin_ca(id = 1, root_pem, intermediate_pem, root_key, intermediate_key, created)
type CAStore interface {
	// CA returns store.ErrNotFound when none is stored.
	CA(ctx context.Context) (CARecord, error)
	// PutCAIfAbsent stores rec unless a CA is stored already, in one
	// transaction, and returns the CA stored: rec, or the one another node
	// stored first.
	PutCAIfAbsent(ctx context.Context, rec CARecord) (CARecord, error)
}

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
	rec, err := readCAFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if rec, err = NewCARecord(box, time.Now()); err != nil {
			return nil, err
		}
		if err := writeCAFiles(dir, rec); err != nil {
			return nil, fmt.Errorf("built-in CA: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	return openCA(rec, box, dir)
}

// LoadOrCreateStoredCA loads the CA kept in st, or creates one there.
// Nodes starting at once on an empty database each make one; the first
// stored is the CA of all, and the others open it.
func LoadOrCreateStoredCA(ctx context.Context, st CAStore, box *sealed.Box) (*CA, error) {
	rec, err := st.CA(ctx)
	if errors.Is(err, store.ErrNotFound) {
		fresh, err := NewCARecord(box, time.Now())
		if err != nil {
			return nil, err
		}
		if rec, err = st.PutCAIfAbsent(ctx, fresh); err != nil {
			return nil, fmt.Errorf("built-in CA: storing it: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("built-in CA: reading it: %w", err)
	}
	return openCA(rec, box, "in the database")
}

// OpenStoredCA opens the CA kept in st; an error matching
// store.ErrNotFound when none is stored.
func OpenStoredCA(ctx context.Context, st CAStore, box *sealed.Box) (*CA, error) {
	rec, err := st.CA(ctx)
	if err != nil {
		return nil, fmt.Errorf("built-in CA: reading it: %w", err)
	}
	return openCA(rec, box, "in the database")
}

// ImportCAFiles moves the CA kept in files under dir (where embedded
// installations kept it before it lived in the database) into st, unless
// st holds a CA already. The sealed keys move as they are: the master key
// that opened them opens them in the database. It reports whether it
// moved one; the files are left in place and no longer read.
func ImportCAFiles(ctx context.Context, st CAStore, dir string, box *sealed.Box) (bool, error) {
	switch _, err := st.CA(ctx); {
	case err == nil:
		return false, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("built-in CA: reading it: %w", err)
	}
	rec, err := readCAFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	// Refuse files this master key cannot open before storing them.
	if _, err := openCA(rec, box, dir); err != nil {
		return false, err
	}
	stored, err := st.PutCAIfAbsent(ctx, rec)
	if err != nil {
		return false, fmt.Errorf("built-in CA %s: moving it into the database: %w", dir, err)
	}
	return bytes.Equal(stored.RootPEM, rec.RootPEM), nil
}

// NewCARecord makes a new root and intermediate, their keys sealed with box.
func NewCARecord(box *sealed.Box, now time.Time) (CARecord, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CARecord{}, err
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
		return CARecord{}, fmt.Errorf("built-in CA: creating root: %w", err)
	}
	root, _ := x509.ParseCertificate(rootDER)

	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CARecord{}, err
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
		return CARecord{}, fmt.Errorf("built-in CA: creating intermediate: %w", err)
	}
	rec := CARecord{RootPEM: pemCert(rootDER), IntermediatePEM: pemCert(interDER), Created: now.UTC()}
	for _, k := range []struct {
		key  crypto.Signer
		file string
		dst  *[]byte
	}{{rootKey, caRootKey, &rec.SealedRootKey}, {interKey, caInterKey, &rec.SealedIntermediateKey}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return CARecord{}, err
		}
		*k.dst = box.Seal(der, caKeyAAD(k.file))
		clear(der)
	}
	return rec, nil
}

// readCAFiles reads the CA's files under dir; fs.ErrNotExist when there is
// no root.pem (no CA there).
func readCAFiles(dir string) (CARecord, error) {
	var rec CARecord
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{caRootCert, &rec.RootPEM}, {caInterCert, &rec.IntermediatePEM}, {caRootKey, &rec.SealedRootKey}, {caInterKey, &rec.SealedIntermediateKey}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			if f.name == caRootCert {
				return CARecord{}, err // fs.ErrNotExist: no CA here
			}
			return CARecord{}, fmt.Errorf("built-in CA %s: root exists but: %w", dir, err)
		}
		*f.dst = b
	}
	if fi, err := os.Stat(filepath.Join(dir, caRootCert)); err == nil {
		rec.Created = fi.ModTime().UTC()
	}
	return rec, nil
}

// writeCAFiles writes rec under dir, root.pem last.
func writeCAFiles(dir string, rec CARecord) error {
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{caRootKey, rec.SealedRootKey, 0o600}, {caInterKey, rec.SealedIntermediateKey, 0o600},
		{caInterCert, rec.IntermediatePEM, 0o644}, {caRootCert, rec.RootPEM, 0o644}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// openCA checks rec (the intermediate signed by the root, its key opening
// with box and matching it) and returns the CA; where names rec's place in
// errors.
func openCA(rec CARecord, box *sealed.Box, where string) (*CA, error) {
	root, err := parsePEMCert(rec.RootPEM)
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w", where, caRootCert, err)
	}
	inter, err := parsePEMCert(rec.IntermediatePEM)
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w", where, caInterCert, err)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("built-in CA %s: the intermediate is not signed by the root: %w", where, err)
	}
	der, err := box.Open(rec.SealedIntermediateKey, caKeyAAD(caInterKey))
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w (is --master-key-file the key this CA was created with?)", where, caInterKey, err)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("built-in CA %s: %s: %w", where, caInterKey, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(inter.PublicKey) {
		return nil, fmt.Errorf("built-in CA %s: %s does not match %s", where, caInterKey, caInterCert)
	}
	return &CA{root: root, rootPEM: rec.RootPEM, inter: inter, interKey: key, now: time.Now}, nil
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
