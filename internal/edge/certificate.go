package edge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"math/big"
	"math/bits"
	"sync"
)

// chainIntern shares the DER of the certificates above the leaf: every
// name issued by one CA carries the same intermediate, and without sharing
// each cached name held its own copy. It holds at most maxChainCerts
// distinct certificates (the CAs in use are few); beyond, a certificate is
// kept as it came.
type chainIntern struct {
	mu sync.Mutex
	m  map[string][]byte
}

const maxChainCerts = 256

func (ci *chainIntern) intern(der []byte) []byte {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	if shared, ok := ci.m[string(der)]; ok {
		return shared
	}
	if ci.m == nil {
		ci.m = make(map[string][]byte)
	}
	if len(ci.m) >= maxChainCerts {
		return der
	}
	ci.m[string(der)] = der
	return der
}

// held is one cached name in one allocation: the entry, its certificate
// and the chain's slice headers (three certificates fit; a longer chain
// takes one allocation more). Every object in the cache is one more for
// the collector to mark on each cycle, which a full handshake's 40 KB of
// allocation starts every few hundred handshakes.
type held struct {
	ent   Entry
	cert  tls.Certificate
	chain [3][]byte
}

// hold returns the form of ent the cache keeps, in one allocation with
// the entry: the DER chain with the certificates above the leaf shared,
// the key compacted (see compactKey), and no parsed Leaf. crypto/tls needs
// Leaf only to choose among several Config.Certificates, never for a
// certificate GetCertificate returns, and a parsed x509.Certificate is
// some hundred pointers the collector scans on every cycle (28 MB of a
// 50 MB heap at 10,000 names). ent is not modified.
func (ci *chainIntern) hold(ent Entry) *Entry {
	c := ent.Certificate
	if c == nil {
		return &ent
	}
	h := &held{ent: ent}
	h.cert = tls.Certificate{
		Certificate:                  h.chain[:0],
		PrivateKey:                   compactKey(c.PrivateKey),
		SupportedSignatureAlgorithms: c.SupportedSignatureAlgorithms,
		OCSPStaple:                   c.OCSPStaple,
		SignedCertificateTimestamps:  c.SignedCertificateTimestamps,
	}
	for i, der := range c.Certificate {
		if i > 0 {
			der = ci.intern(der)
		}
		h.cert.Certificate = append(h.cert.Certificate, der)
	}
	h.ent.Certificate = &h.cert
	return &h.ent
}

// p256Words is the length of a P-256 coordinate or scalar in big.Words.
const p256Words = 256 / bits.UintSize

// p256Key is a P-256 private key in one allocation: the key, its three
// big.Int and their words, seven allocations as x509 parses it. The key is
// the first field, so the pointer crypto/ecdsa caches its FIPS form under
// is the object's own.
type p256Key struct {
	k       ecdsa.PrivateKey
	x, y, d big.Int
	w       [3 * p256Words]big.Word
}

// compactKey returns k as a p256Key when it is a P-256 ECDSA key (what the
// built-in CA and ACME orders make), and k itself otherwise.
func compactKey(k crypto.PrivateKey) crypto.PrivateKey {
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() || ek.X == nil || ek.Y == nil || ek.D == nil ||
		ek.X.Sign() < 0 || ek.Y.Sign() < 0 || ek.D.Sign() <= 0 {
		return k
	}
	p := new(p256Key)
	dsts := [...]*big.Int{&p.x, &p.y, &p.d}
	for i, src := range [...]*big.Int{ek.X, ek.Y, ek.D} {
		words := src.Bits()
		if len(words) > p256Words {
			return k
		}
		w := p.w[i*p256Words : i*p256Words+len(words) : (i+1)*p256Words]
		copy(w, words)
		dsts[i].SetBits(w)
	}
	p.k = ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: ek.Curve, X: &p.x, Y: &p.y}, D: &p.d}
	return &p.k
}
