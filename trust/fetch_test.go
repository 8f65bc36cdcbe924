package trust_test

import (
	"slices"
	"testing"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
	"github.com/hallmark-dev/hallmark/trust"
)

// TestOCSPMethods: OCSP is asked with GET (RFC 6960 appendix A, the
// request base64 and URL-encoded in the path), and with POST when the
// responder refuses GET.
func TestOCSPMethods(t *testing.T) {
	tests := []struct {
		name           string
		refuseGet      bool
		revoked        bool
		wantGet, wantP int
		want           []string
	}{
		{"ok/get", false, false, 1, 0, []string{"revocation.checked/info"}},
		{"ok/get-refused-post", true, false, 1, 1, []string{"revocation.checked/info"}},
		{"fail/revoked-by-get", false, true, 1, 0, []string{"revocation.revoked/error"}},
		{"fail/revoked-by-post", true, true, 1, 1, []string{"revocation.revoked/error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t, func(lt *testpki.Template) { lt.CRL = nil })
			if tc.refuseGet {
				p.rev.RefuseOCSPGet()
			}
			if tc.revoked {
				p.rev.Revoke(100)
			}
			v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationHardFail})
			// The leaf only: the intermediate's CRL is not what is tested.
			res, _ := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), nil)
			var got []string
			for _, f := range res.Findings {
				if f.Evidence["kind"] == trust.KindOCSP {
					got = append(got, f.ID+"/"+string(f.Severity))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("OCSP findings = %v, want %v (all: %v)", got, tc.want, ids(res.Findings))
			}
			if g, po := p.rev.Hits("GET /ocsp/inter"), p.rev.Hits("POST /ocsp/inter"); g != tc.wantGet || po != tc.wantP {
				t.Errorf("OCSP requests: %d GET, %d POST; want %d GET, %d POST", g, po, tc.wantGet, tc.wantP)
			}
		})
	}
}

// TestAIAPKCS7: an intermediate published as a PKCS#7 bundle (.p7c) at the
// AIA URL is fetched and the chain built.
func TestAIAPKCS7(t *testing.T) {
	p := newPKI(t, nil)
	leaf := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 30, AIA: []string{p.rev.AIAP7CURL("inter")}}, p.inter)
	v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationOff})
	res, err := v.Verify(t.Context(), host, testpki.Certs(leaf), nil)
	if err != nil {
		t.Fatalf("err = %v, want nil (AIA fetches the intermediate): %v", err, res.Findings)
	}
	if got := ids(res.Findings); !slices.Equal(got, []string{"chain.incomplete/warning"}) {
		t.Fatalf("findings = %v, want chain.incomplete/warning", got)
	}
	f := res.Findings[0]
	if f.ID != finding.ChainIncomplete || f.Evidence["fetched"] != "CN=Acme Test Intermediate" || f.Evidence["url"] != p.rev.AIAP7CURL("inter") {
		t.Errorf("evidence = %v, want the intermediate fetched from the .p7c URL", f.Evidence)
	}
	if len(res.Chain) != 3 || !res.Chain[1].Equal(p.inter.Cert) || p.rev.Hits("/aia/inter.p7c") != 1 {
		t.Errorf("chain of %d, %d fetches; want leaf, intermediate, root from one fetch", len(res.Chain), p.rev.Hits("/aia/inter.p7c"))
	}
}
