package edge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/tls"
	"io"
	"math/big"
	"math/bits"
	"net/url"
	"sync"
)

// chainIntern shares what many cached names hold alike: the DER of the
// certificates above the leaf (every name issued by one CA carries the
// same intermediate), and the org's name, brand and upstream (one org
// serves many names). Without sharing each cached name held its own copy,
// and every copy is one more object for the collector to mark. It holds at
// most maxInterned distinct values of each kind (the CAs and orgs in use
// are few next to the names); beyond, a value is kept as it came.
type chainIntern struct {
	mu        sync.Mutex
	certs     map[string][]byte
	strs      map[string]string
	upstreams map[string]*url.URL
}

const maxInterned = 256

// intern returns the shared copy of v under key, storing v as it is when
// there is room.
func intern[V any](mu *sync.Mutex, m *map[string]V, key string, v V) V {
	mu.Lock()
	defer mu.Unlock()
	if shared, ok := (*m)[key]; ok {
		return shared
	}
	if *m == nil {
		*m = make(map[string]V)
	}
	if len(*m) < maxInterned {
		(*m)[key] = v
	}
	return v
}

func (ci *chainIntern) cert(der []byte) []byte {
	ci.mu.Lock()
	shared, ok := ci.certs[string(der)] // no copy of der to look up
	ci.mu.Unlock()
	if ok {
		return shared
	}
	return intern(&ci.mu, &ci.certs, string(der), der)
}

func (ci *chainIntern) str(s string) string {
	if s == "" {
		return ""
	}
	return intern(&ci.mu, &ci.strs, s, s)
}

// upstream shares u with the entries whose upstream is the same URL. The
// edge never modifies an Entry's URL.
func (ci *chainIntern) upstream(u *url.URL) *url.URL {
	if u == nil {
		return nil
	}
	return intern(&ci.mu, &ci.upstreams, u.String(), u)
}

// held is one cached name in one allocation: the entry, its certificate,
// the chain's slice headers (three certificates fit; a longer chain takes
// one allocation more) and, for a P-256 key, the key as bytes. Every
// object in the cache is one more for the collector to mark on each
// cycle, which a full handshake's 40 KB of allocation starts every few
// hundred handshakes.
type held struct {
	ent   Entry
	cert  tls.Certificate
	chain [3][]byte
	key   p256Signer
}

// hold returns the form of ent the cache keeps, in one allocation with
// the entry: the DER chain with the certificates above the leaf shared,
// the org's name, brand and upstream shared, a P-256 key as bytes (see
// p256Signer), and no parsed Leaf. crypto/tls needs Leaf only to choose
// among several Config.Certificates, never for a certificate
// GetCertificate returns, and a parsed x509.Certificate is some hundred
// pointers the collector scans on every cycle (28 MB of a 50 MB heap at
// 10,000 names). ent is not modified.
func (ci *chainIntern) hold(ent Entry) *Entry {
	ent.OrgName, ent.Brand, ent.Upstream = ci.str(ent.OrgName), ci.str(ent.Brand), ci.upstream(ent.Upstream)
	c := ent.Certificate
	if c == nil {
		bare := ent // a copy here, so ent itself is not moved to the heap
		return &bare
	}
	h := &held{ent: ent}
	h.cert = tls.Certificate{
		Certificate:                  h.chain[:0],
		PrivateKey:                   c.PrivateKey,
		SupportedSignatureAlgorithms: c.SupportedSignatureAlgorithms,
		OCSPStaple:                   c.OCSPStaple,
		SignedCertificateTimestamps:  c.SignedCertificateTimestamps,
	}
	if h.key.load(c.PrivateKey) {
		h.cert.PrivateKey = &h.key
	}
	for i, der := range c.Certificate {
		if i > 0 {
			der = ci.cert(der)
		}
		h.cert.Certificate = append(h.cert.Certificate, der)
	}
	h.ent.Certificate = &h.cert
	return &h.ent
}

// p256Signer is a P-256 private key held as bytes, the scalar and the
// public point, so that the collector has nothing in it to scan. It signs
// through crypto/ecdsa with a scratch key (see scratchKey).
//
// Why not keep the *ecdsa.PrivateKey: crypto/ecdsa caches the form it
// signs with (crypto/internal/fips140/ecdsa.PrivateKey) in a weak map keyed
// by the key's address, an entry, a weak handle and a cleanup for every
// key that ever signed. At 10,000 names that was 10 MB of a 19 MB live
// heap, most of it pointers, and looking the handle up walked the span's
// list of specials on every signature. The scratch keys are few, so the
// map holds few entries; each signature rebuilds the FIPS form from the
// bytes (the point is checked on the curve, the scalar reduced: about a
// microsecond), which the cache spared only for a key that signed before.
type p256Signer struct {
	d [32]byte // the scalar, big-endian
	q [65]byte // the public point, uncompressed (0x04 ‖ X ‖ Y)
}

// load stores k in s when it is a P-256 ECDSA key (what the built-in CA
// and ACME orders make) and FIPS 140-3 mode is off, and reports whether
// it did. In FIPS mode the key is kept as it came: a deployment that asks
// for it trades the collector's time for signing exactly as crypto/ecdsa
// does with the key it was given.
func (s *p256Signer) load(k crypto.PrivateKey) bool {
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || fips140.Enabled() || ek.Curve != elliptic.P256() || ek.X == nil || ek.Y == nil || ek.D == nil ||
		ek.X.Sign() < 0 || ek.Y.Sign() < 0 || ek.D.Sign() <= 0 ||
		ek.X.BitLen() > 256 || ek.Y.BitLen() > 256 || ek.D.BitLen() > 256 {
		return false
	}
	ek.D.FillBytes(s.d[:])
	s.q[0] = 4
	ek.X.FillBytes(s.q[1:33])
	ek.Y.FillBytes(s.q[33:])
	return true
}

// Public returns the public key, built anew: crypto/tls asks for it once
// a handshake, to pick the signature scheme.
func (s *p256Signer) Public() crypto.PublicKey {
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(s.q[1:33]), Y: new(big.Int).SetBytes(s.q[33:])}
}

// Sign signs digest as (*ecdsa.PrivateKey).Sign does.
func (s *p256Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k := getScratchKey()
	defer putScratchKey(k)
	k.x.SetBytes(s.q[1:33])
	k.y.SetBytes(s.q[33:])
	k.d.SetBytes(s.d[:])
	return k.k.Sign(rand, digest, opts)
}

// p256Words is the length of a P-256 coordinate or scalar in big.Words.
const p256Words = 256 / bits.UintSize

// scratchKey is an *ecdsa.PrivateKey that p256Signers load their key into
// to sign, one signature at a time, in one allocation: the key, its three
// big.Int and their words. SetBytes reuses the words, so loading a key
// allocates nothing. The key is the first field, so the pointer
// crypto/ecdsa caches its FIPS form under is the object's own.
type scratchKey struct {
	k       ecdsa.PrivateKey
	x, y, d big.Int
	w       [3 * p256Words]big.Word
}

// scratchKeys are the idle scratch keys: as many as signatures ran at
// once, up to its capacity (more than the handshakes two cores sign at
// once; a signature beyond takes a new key, dropped after).
var scratchKeys = make(chan *scratchKey, 64)

func getScratchKey() *scratchKey {
	select {
	case k := <-scratchKeys:
		return k
	default:
	}
	k := new(scratchKey)
	for i, b := range [...]*big.Int{&k.x, &k.y, &k.d} {
		b.SetBits(k.w[i*p256Words : i*p256Words : (i+1)*p256Words])
	}
	k.k = ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: elliptic.P256(), X: &k.x, Y: &k.y}, D: &k.d}
	return k
}

func putScratchKey(k *scratchKey) {
	select {
	case scratchKeys <- k:
	default:
	}
}
