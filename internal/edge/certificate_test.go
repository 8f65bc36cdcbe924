package edge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unsafe"
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

// A P-256 key is held as bytes in the entry's one allocation and signs as
// the original does, concurrently with others; other keys are kept as
// they came.
func TestHoldP256Key(t *testing.T) {
	var ci chainIntern
	keys := make([]*ecdsa.PrivateKey, 8)
	signers := make([]crypto.Signer, len(keys))
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		ent := ci.hold(Entry{Certificate: &tls.Certificate{Certificate: [][]byte{[]byte("leaf"), []byte("intermediate")}, PrivateKey: k}, OrgName: "Acme"})
		if fips140.Enabled() {
			// FIPS 140-3 mode keeps the key as it came (see p256Signer.load).
			if ent.Certificate.PrivateKey != k {
				t.Fatalf("FIPS mode: held key is %T, want the original", ent.Certificate.PrivateKey)
			}
			signers[i] = k
			continue
		}
		s, ok := ent.Certificate.PrivateKey.(*p256Signer)
		if !ok {
			t.Fatalf("held key is %T, want *p256Signer", ent.Certificate.PrivateKey)
		}
		if pub, ok := s.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(&k.PublicKey) {
			t.Fatalf("Public() = %v, want the original's public key", s.Public())
		}
		signers[i] = s
	}

	// Signatures from many goroutines at once, each key's checked with
	// its own public key: a scratch key shared by two signatures at a
	// time would sign with the other's scalar.
	digest := sha256.Sum256([]byte("handshake transcript"))
	var wg sync.WaitGroup
	errs := make(chan error, len(keys)*50)
	for i := range keys {
		for range 50 {
			wg.Go(func() {
				sig, err := signers[i].Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(&keys[i].PublicKey, digest[:], sig) {
					errs <- fmt.Errorf("key %d: signature %v does not verify with its public key", i, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// The intermediate and the org's name are shared by now: one
	// allocation a name, and signing allocates nothing beyond crypto/ecdsa.
	ent := Entry{Certificate: &tls.Certificate{Certificate: [][]byte{[]byte("leaf"), []byte("intermediate")}, PrivateKey: keys[0]}, OrgName: "Acme"}
	if n := testing.AllocsPerRun(100, func() { ci.hold(ent) }); n != 1 {
		t.Errorf("hold allocates %v times, want 1", n)
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
		if got := ci.hold(Entry{Certificate: &tls.Certificate{PrivateKey: other}}).Certificate.PrivateKey; got != other {
			t.Errorf("held %T as %T, want it unchanged", other, got)
		}
	}
}

// The org's name, brand and upstream are shared among the entries that
// have the same.
func TestHoldSharesOrg(t *testing.T) {
	var ci chainIntern
	u1, _ := url.Parse("https://app.acme.test:8443")
	u2, _ := url.Parse("https://app.acme.test:8443")
	a := ci.hold(Entry{OrgName: strings.Clone("Acme"), Brand: strings.Clone("Acme login"), Upstream: u1})
	b := ci.hold(Entry{OrgName: strings.Clone("Acme"), Brand: strings.Clone("Acme login"), Upstream: u2})
	if unsafe.StringData(a.OrgName) != unsafe.StringData(b.OrgName) || unsafe.StringData(a.Brand) != unsafe.StringData(b.Brand) {
		t.Error("the org's name or brand is held twice")
	}
	if a.Upstream != b.Upstream || a.Upstream.String() != "https://app.acme.test:8443" {
		t.Errorf("upstreams %p %p (%v), want one shared https://app.acme.test:8443", a.Upstream, b.Upstream, a.Upstream)
	}
	if c := ci.hold(Entry{OrgName: "Other"}); c.OrgName != "Other" || c.Upstream != nil {
		t.Errorf("another org: got %+v", c)
	}
}
