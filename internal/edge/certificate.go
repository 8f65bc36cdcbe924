package edge

import (
	"crypto/tls"
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

// compact returns the form of c the cache holds: the DER chain with the
// certificates above the leaf shared, and the key, without the parsed Leaf.
// crypto/tls needs Leaf only to choose among several Config.Certificates,
// never for a certificate GetCertificate returns, and a parsed
// x509.Certificate is some hundred pointers the collector scans on every
// cycle (28 MB of a 50 MB heap at 10,000 names). c is not modified.
func (ci *chainIntern) compact(c *tls.Certificate) *tls.Certificate {
	out := &tls.Certificate{
		PrivateKey:                   c.PrivateKey,
		SupportedSignatureAlgorithms: c.SupportedSignatureAlgorithms,
		OCSPStaple:                   c.OCSPStaple,
		SignedCertificateTimestamps:  c.SignedCertificateTimestamps,
		Certificate:                  make([][]byte, len(c.Certificate)),
	}
	for i, der := range c.Certificate {
		if i > 0 {
			der = ci.intern(der)
		}
		out.Certificate[i] = der
	}
	return out
}
