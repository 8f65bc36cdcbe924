package trust_test

import (
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
	"github.com/hallmark-dev/hallmark/trust"
)

// TestWeakSignature verifies chains with SHA-1 and MD5 signatures, which
// x509.CreateCertificate no longer makes (testpki.IssueWeak signs the
// TBSCertificate itself). The weak signature must be named as the cause,
// not an untrusted or incomplete chain.
func TestWeakSignature(t *testing.T) {
	root := testpki.Issue(t, testpki.Template{CN: "Acme Test Root", CA: true, Key: "root", NotBefore: testpki.Now.Add(-365 * 24 * time.Hour), NotAfter: testpki.Now.Add(3650 * 24 * time.Hour)}, nil)
	rsaInter := testpki.Issue(t, testpki.Template{CN: "Acme RSA Intermediate", CA: true, Key: "rsa-intermediate", Serial: 20}, root)
	ecInter := testpki.Issue(t, testpki.Template{CN: "Acme Test Intermediate", CA: true, Key: "intermediate", Serial: 21}, root)
	leaf := testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 22}
	weakInter := testpki.IssueWeak(t, testpki.Template{CN: "Acme SHA-1 Intermediate", CA: true, Key: "intermediate", Serial: 23}, root, x509.ECDSAWithSHA1)

	tests := []struct {
		name    string
		chain   []*testpki.Cert
		alg     string // the weak certificate's signature algorithm
		subject string
		want    []string
		chainN  int // length of the chain built
	}{
		{"fail/sha1-rsa-leaf", []*testpki.Cert{testpki.IssueWeak(t, leaf, rsaInter, x509.SHA1WithRSA), rsaInter}, "SHA1-RSA", "CN=" + host, []string{"cert.weak_signature/error"}, 3},
		{"fail/md5-rsa-leaf", []*testpki.Cert{testpki.IssueWeak(t, leaf, rsaInter, x509.MD5WithRSA), rsaInter}, "MD5-RSA", "CN=" + host, []string{"cert.weak_signature/error"}, 3},
		{"fail/ecdsa-sha1-leaf", []*testpki.Cert{testpki.IssueWeak(t, leaf, ecInter, x509.ECDSAWithSHA1), ecInter}, "ECDSA-SHA1", "CN=" + host, []string{"cert.weak_signature/error"}, 3},
		// The root is only in the trust store: the weak link cannot be
		// followed, so the chain is untrusted too, and says why.
		{"fail/sha1-intermediate", []*testpki.Cert{testpki.Issue(t, leaf, weakInter), weakInter}, "ECDSA-SHA1", "CN=Acme SHA-1 Intermediate", []string{"cert.weak_signature/error", "chain.untrusted/error"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(t, trust.Config{Roots: testpki.Pool(root), PublicRoots: testpki.Pool(root), Revocation: trust.RevocationOff, DisableAIA: true})
			res, err := v.Verify(t.Context(), host, testpki.Certs(tc.chain...), nil)
			if got := ids(res.Findings); !slices.Equal(got, tc.want) {
				t.Fatalf("findings = %v, want %v", got, tc.want)
			}
			if err == nil {
				t.Fatal("err = nil, want a *trust.Error")
			}
			if len(res.Chain) != tc.chainN {
				t.Errorf("chain has %d certificates, want %d", len(res.Chain), tc.chainN)
			}
			for _, f := range res.Findings {
				switch f.ID {
				case finding.CertWeakSignature:
					if f.Evidence["signatureAlgorithm"] != tc.alg || f.Evidence["subject"] != tc.subject {
						t.Errorf("evidence = %v, want %s for %s", f.Evidence, tc.alg, tc.subject)
					}
					if !strings.Contains(f.Fix, "SHA-256") {
						t.Errorf("fix = %q, want a SHA-256 reissue", f.Fix)
					}
				case finding.ChainUntrusted:
					if !strings.Contains(f.Detail, tc.alg) {
						t.Errorf("chain.untrusted detail = %q, want it to name %s", f.Detail, tc.alg)
					}
				}
			}
		})
	}

	t.Run("fail/sha1-forged-signature", func(t *testing.T) {
		// A SHA-1 leaf whose issuer did not sign it: untrusted, not a
		// weak-but-valid chain.
		other := testpki.Issue(t, testpki.Template{CN: "Acme RSA Intermediate", CA: true, Key: "rsa1024", Serial: 24}, root)
		l := testpki.IssueWeak(t, leaf, other, x509.SHA1WithRSA)
		v := verifier(t, trust.Config{Roots: testpki.Pool(root), Revocation: trust.RevocationOff, DisableAIA: true})
		res, _ := v.Verify(t.Context(), host, testpki.Certs(l, rsaInter), nil)
		if got := ids(res.Findings); !slices.Equal(got, []string{"cert.weak_signature/error", "chain.untrusted/error"}) || res.Chain != nil {
			t.Fatalf("findings = %v, chain %d; want cert.weak_signature and chain.untrusted, no chain", got, len(res.Chain))
		}
	})
}
