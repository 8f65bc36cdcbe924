package trust_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
	"github.com/hallmark-dev/hallmark/trust"
)

// TestUnusedExpiredCrossCertificate: a Verifier accepts a chain served
// with an expired cross-certificate beside the valid path (the AddTrust
// expiry of May 2020), as path-building clients do, and names the useless
// certificate in a warning.
func TestUnusedExpiredCrossCertificate(t *testing.T) {
	p := newPKI(t, nil)
	legacy := testpki.Issue(t, testpki.Template{CN: "AddTrust External CA Root", CA: true, Key: "other-root",
		NotBefore: testpki.Now.Add(-20 * 365 * 24 * time.Hour), NotAfter: testpki.Now.Add(-24 * time.Hour)}, nil)
	cross := testpki.Issue(t, testpki.Template{CN: "Acme Test Root", CA: true, Key: "root", Serial: 9,
		NotBefore: testpki.Now.Add(-5 * 365 * 24 * time.Hour), NotAfter: testpki.Now.Add(-24 * time.Hour)}, legacy)
	v := verifier(t, trust.Config{Roots: testpki.Pool(p.root, legacy), Revocation: trust.RevocationOff})
	res, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter, cross), nil)
	if err != nil {
		t.Fatalf("Verify: %v, want the valid path accepted", err)
	}
	if got := ids(res.Findings); len(got) != 1 || got[0] != finding.ChainUnusedExpired+"/warning" {
		t.Fatalf("findings = %v, want one chain.unused_expired warning", got)
	}
	if !res.Chain[len(res.Chain)-1].Equal(p.root.Cert) {
		t.Errorf("chain ends at %s, want the current root", res.Chain[len(res.Chain)-1].Subject)
	}
	if got := res.Findings[0].Evidence["pin"]; got != trust.Pin(cross.Cert) {
		t.Errorf("evidence pin = %v, want the cross-certificate's", got)
	}
}

// TestOCSPSignerAuthorisation: RFC 6960 section 4.2.2.2 authorises the
// issuer, or a certificate it issued with id-kp-OCSPSigning that is valid
// now; any other signer leaves the status unknown.
func TestOCSPSignerAuthorisation(t *testing.T) {
	tests := []struct {
		name   string
		signer func(p *pki) *testpki.Cert
		embed  bool
		want   string // id/severity of the OCSP finding
	}{
		{"ok/issuer", func(p *pki) *testpki.Cert { return nil }, false, finding.RevocationChecked + "/info"},
		{"ok/issuer-embedding-itself", func(p *pki) *testpki.Cert { return p.inter }, true, finding.RevocationChecked + "/info"},
		{"ok/delegated", func(p *pki) *testpki.Cert {
			return testpki.Issue(t, testpki.Template{CN: "OCSP", Key: "spare", Serial: 7, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, p.inter)
		}, true, finding.RevocationChecked + "/info"},
		{"fail/delegated-without-ocsp-signing", func(p *pki) *testpki.Cert {
			return testpki.Issue(t, testpki.Template{CN: "OCSP", Key: "spare", Serial: 7}, p.inter)
		}, true, finding.RevocationUnauthorizedSigner + "/error"},
		{"fail/delegated-expired", func(p *pki) *testpki.Cert {
			return testpki.Issue(t, testpki.Template{CN: "OCSP", Key: "spare", Serial: 7, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
				NotBefore: testpki.Now.Add(-48 * time.Hour), NotAfter: testpki.Now.Add(-time.Hour)}, p.inter)
		}, true, finding.RevocationUnauthorizedSigner + "/error"},
		{"fail/issued-by-another-ca", func(p *pki) *testpki.Cert {
			return testpki.Issue(t, testpki.Template{CN: "OCSP", Key: "spare", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, p.root)
		}, true, finding.RevocationUnauthorizedSigner + "/error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t, func(lt *testpki.Template) { lt.CRL = nil })
			if s := tc.signer(p); s != nil {
				p.rev.SetResponder(s, tc.embed)
			}
			v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationHardFail})
			res, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), nil)
			var leafOCSP string
			for _, f := range res.Findings {
				if f.Evidence["kind"] == trust.KindOCSP {
					leafOCSP = f.ID + "/" + string(f.Severity)
				}
			}
			if leafOCSP != tc.want {
				t.Fatalf("OCSP finding = %q, want %q (all: %v)", leafOCSP, tc.want, ids(res.Findings))
			}
			var te *trust.Error
			if failed := errors.As(err, &te); failed != (tc.want != finding.RevocationChecked+"/info") {
				t.Errorf("Verify error = %v, want one only for an unauthorised signer", err)
			}
		})
	}
}
