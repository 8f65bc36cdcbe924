package issuance_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// rootsOf trusts an httptest TLS server's certificate.
func rootsOf(t *testing.T, url string) *x509.CertPool {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pool := x509.NewCertPool()
	for _, c := range conn.ConnectionState().PeerCertificates {
		pool.AddCert(c)
	}
	return pool
}

func TestBuiltinCA(t *testing.T) {
	dir := t.TempDir()
	box, _ := sealed.New(bytes.Repeat([]byte{9}, 32))
	ca, err := issuance.LoadOrCreateCA(dir, box)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"root.key.sealed", "intermediate.key.sealed"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a plaintext key", f)
		}
		if fi, _ := os.Stat(filepath.Join(dir, f)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", f, fi.Mode().Perm())
		}
	}

	// Reloaded, it is the same CA.
	again, err := issuance.LoadOrCreateCA(dir, box)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.RootPEM(), ca.RootPEM()) {
		t.Fatal("reloaded CA has another root")
	}
	other, _ := sealed.New(bytes.Repeat([]byte{8}, 32))
	if _, err := issuance.LoadOrCreateCA(dir, other); err == nil || !strings.Contains(err.Error(), "master-key-file") {
		t.Errorf("wrong master key: got %v, want an error naming --master-key-file", err)
	}

	iss, err := again.Issue(t.Context(), issuance.Request{Name: "Login.Acme.Test."})
	if err != nil {
		t.Fatal(err)
	}
	leaf := iss.Leaf()
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got < 90*24*time.Hour || got > 90*24*time.Hour+10*time.Minute {
		t.Errorf("lifetime %v, want 90 days", got)
	}
	k, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		t.Errorf("leaf key %T, want ECDSA P-256", leaf.PublicKey)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.RootPEM()) {
		t.Fatal("RootPEM is not PEM")
	}
	inter := x509.NewCertPool()
	for _, c := range iss.Chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "login.acme.test", Roots: roots, Intermediates: inter}); err != nil {
		t.Errorf("leaf does not verify against the root: %v", err)
	}
	if len(iss.Chain) != 2 {
		t.Errorf("chain length %d, want leaf + intermediate", len(iss.Chain))
	}

	// Sealed into a record and back, it is a working tls.Certificate.
	rec, err := issuance.Seal(box, iss, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := rec.TLSCertificate(box)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tc.Leaf.Raw, leaf.Raw) || len(tc.Certificate) != 2 {
		t.Error("record round trip changed the chain")
	}
	rec.Name = "other.acme.test" // a key moved to another name's row
	if _, err := rec.TLSCertificate(box); err == nil {
		t.Error("a key sealed for one name opened under another")
	}
}

// The CA in a store: created once, reopened from the store, refused with
// another master key, and an earlier CA's files moved in with the same root.
func TestStoredCA(t *testing.T) {
	box, _ := sealed.New(bytes.Repeat([]byte{9}, 32))
	t.Run("create-then-load", func(t *testing.T) {
		st := issuance.NewMemStore()
		ca, err := issuance.LoadOrCreateStoredCA(t.Context(), st, box)
		if err != nil {
			t.Fatal(err)
		}
		again, err := issuance.LoadOrCreateStoredCA(t.Context(), st, box)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.RootPEM(), ca.RootPEM()) {
			t.Error("reloaded CA has another root")
		}
		rec, _ := st.CA(t.Context())
		if bytes.Contains(rec.SealedIntermediateKey, []byte("PRIVATE")) || bytes.Contains(rec.SealedRootKey, []byte("PRIVATE")) {
			t.Error("a stored CA key is not sealed")
		}
		other, _ := sealed.New(bytes.Repeat([]byte{8}, 32))
		if _, err := issuance.LoadOrCreateStoredCA(t.Context(), st, other); err == nil || !strings.Contains(err.Error(), "master-key-file") {
			t.Errorf("opening with another key: %v, want an error naming --master-key-file", err)
		}
	})
	t.Run("import-files", func(t *testing.T) {
		dir := t.TempDir()
		files, err := issuance.LoadOrCreateCA(dir, box)
		if err != nil {
			t.Fatal(err)
		}
		st := issuance.NewMemStore()
		moved, err := issuance.ImportCAFiles(t.Context(), st, dir, box)
		if err != nil || !moved {
			t.Fatalf("ImportCAFiles = %v, %v; want moved", moved, err)
		}
		ca, err := issuance.LoadOrCreateStoredCA(t.Context(), st, box)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ca.RootPEM(), files.RootPEM()) {
			t.Error("the CA moved into the store has another root")
		}
		leaf, err := ca.Issue(t.Context(), issuance.Request{Name: "a.acme.com"})
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(files.Root())
		if _, err := leaf.Leaf().Verify(x509.VerifyOptions{Roots: roots, Intermediates: poolOf(leaf.Chain[1:])}); err != nil {
			t.Errorf("a leaf of the moved CA does not verify against the files' root: %v", err)
		}
		if moved, err := issuance.ImportCAFiles(t.Context(), st, dir, box); err != nil || moved {
			t.Errorf("second ImportCAFiles = %v, %v; want nothing moved", moved, err)
		}
		if moved, err := issuance.ImportCAFiles(t.Context(), issuance.NewMemStore(), t.TempDir(), box); err != nil || moved {
			t.Errorf("ImportCAFiles of an empty dir = %v, %v; want nothing moved", moved, err)
		}
		other, _ := sealed.New(bytes.Repeat([]byte{8}, 32))
		fresh := issuance.NewMemStore()
		if _, err := issuance.ImportCAFiles(t.Context(), fresh, dir, other); err == nil {
			t.Error("files sealed with another key were moved")
		}
		if _, err := fresh.CA(t.Context()); err == nil {
			t.Error("files that do not open were stored")
		}
	})
}

func poolOf(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
