package edge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestHoldSharesChainAndDropsLeaf(t *testing.T) {
	var ci chainIntern
	leaf := &x509.Certificate{}
	a := &tls.Certificate{Certificate: [][]byte{[]byte("leaf-a"), []byte("intermediate")}, Leaf: leaf, PrivateKey: "key-a"}
	b := &tls.Certificate{Certificate: [][]byte{[]byte("leaf-b"), []byte("intermediate")}, Leaf: leaf, PrivateKey: "key-b"}
	ea, eb := ci.hold(Entry{Certificate: a, OrgName: "Acme"}), ci.hold(Entry{Certificate: b, Brand: "B"})
	ca, cb := ea.Certificate, eb.Certificate
	if ca.Leaf != nil || cb.Leaf != nil {
		t.Error("hold kept the parsed leaf")
	}
	if a.Leaf != leaf || len(a.Certificate) != 2 {
		t.Error("hold modified its argument")
	}
	if &ca.Certificate[1][0] != &cb.Certificate[1][0] {
		t.Error("the intermediate is held twice; want one shared copy")
	}
	if string(cb.Certificate[0]) != "leaf-b" || cb.PrivateKey != "key-b" || ea.OrgName != "Acme" || eb.Brand != "B" {
		t.Errorf("got leaf %q key %v org %q brand %q, want leaf-b key-b Acme B", cb.Certificate[0], cb.PrivateKey, ea.OrgName, eb.Brand)
	}
	long := &tls.Certificate{Certificate: [][]byte{[]byte("1"), []byte("2"), []byte("3"), []byte("4")}}
	if got := ci.hold(Entry{Certificate: long}).Certificate.Certificate; len(got) != 4 || string(got[3]) != "4" {
		t.Errorf("a chain of 4: got %q", got)
	}
	if ent := ci.hold(Entry{OrgName: "none"}); ent.Certificate != nil || ent.OrgName != "none" {
		t.Errorf("an entry without a certificate: got %+v", ent)
	}
}

// A P-256 key is held in one allocation and signs as the original does;
// other keys are kept as they came.
func TestCompactKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := compactKey(k).(*ecdsa.PrivateKey)
	if !ok || c == k {
		t.Fatalf("compactKey(P-256) = %T %p, want a new *ecdsa.PrivateKey", c, c)
	}
	if !c.Equal(k) || !c.PublicKey.Equal(&k.PublicKey) {
		t.Fatal("the compact key is not the same key")
	}
	digest := sha256.Sum256([]byte("handshake transcript"))
	sig, err := c.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig) {
		t.Fatalf("signature of the compact key: %v; does not verify with the original's public key", err)
	}
	if n := testing.AllocsPerRun(100, func() { compactKey(k) }); n != 1 {
		t.Errorf("compactKey allocates %v times, want 1", n)
	}

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []crypto.PrivateKey{p384, r, "not a key"} {
		if got := compactKey(other); got != other {
			t.Errorf("compactKey(%T) = %T, want it unchanged", other, got)
		}
	}
}
