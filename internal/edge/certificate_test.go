package edge

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestCompactSharesChainAndDropsLeaf(t *testing.T) {
	var ci chainIntern
	leaf := &x509.Certificate{}
	a := &tls.Certificate{Certificate: [][]byte{[]byte("leaf-a"), []byte("intermediate")}, Leaf: leaf, PrivateKey: "key-a"}
	b := &tls.Certificate{Certificate: [][]byte{[]byte("leaf-b"), []byte("intermediate")}, Leaf: leaf, PrivateKey: "key-b"}
	ca, cb := ci.compact(a), ci.compact(b)
	if ca.Leaf != nil || cb.Leaf != nil {
		t.Error("compact kept the parsed leaf")
	}
	if a.Leaf != leaf {
		t.Error("compact modified its argument")
	}
	if &ca.Certificate[1][0] != &cb.Certificate[1][0] {
		t.Error("the intermediate is held twice; want one shared copy")
	}
	if string(cb.Certificate[0]) != "leaf-b" || cb.PrivateKey != "key-b" {
		t.Errorf("got leaf %q key %v, want leaf-b key-b", cb.Certificate[0], cb.PrivateKey)
	}
}
