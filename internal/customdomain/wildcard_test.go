package customdomain_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// TestWildcardDomain creates *.acme.test, proves it at its base name over
// DNS on the wire, gets its certificate from the built-in CA and has the
// edge serve it for any single label under it; an exact domain under it
// wins; deleting the wildcard stops the names it covered.
func TestWildcardDomain(t *testing.T) {
	h := newHarness(t)
	w := h.verified(h.svc, "*.acme.test")
	recs := h.svc.Records(w)
	if recs[0].FQDN != "_hallmark-challenge.acme.test" || recs[1].FQDN != "*.acme.test" {
		t.Fatalf("records %+v, want the TXT at the base name and a wildcard CNAME", recs)
	}
	h.svc.RunOnce(t.Context())
	w = h.get(w.ID)
	if w.Status != customdomain.Completed {
		t.Fatalf("wildcard after the scheduler: %s %v, want COMPLETED", w.Status, finding.IDs(w.Diagnosis))
	}
	for _, name := range []string{"a.acme.test", "login.acme.test"} {
		if fp := h.served(name); fp != w.Cert.Fingerprint {
			t.Errorf("%s: edge serves %s, want the wildcard's %s", name, fp, w.Cert.Fingerprint)
		}
	}
	// The base name has no domain of its own here, and two labels down is
	// not covered by *.acme.test (RFC 6125).
	for _, name := range []string{"acme.test", "x.y.acme.test"} {
		if !h.refused(name) {
			t.Errorf("%s served, want it refused", name)
		}
	}

	exact := h.verified(h.svc, "login.acme.test")
	h.svc.RunOnce(t.Context())
	exact = h.get(exact.ID)
	if exact.Status != customdomain.Completed || exact.Cert.Fingerprint == w.Cert.Fingerprint {
		t.Fatalf("exact domain: %s cert %s", exact.Status, exact.Cert.Fingerprint)
	}
	if fp := h.served("login.acme.test"); fp != exact.Cert.Fingerprint {
		t.Errorf("login.acme.test: edge serves %s, want the exact domain's %s", fp, exact.Cert.Fingerprint)
	}
	if fp := h.served("a.acme.test"); fp != w.Cert.Fingerprint {
		t.Errorf("a.acme.test: edge serves %s, want the wildcard's", fp)
	}

	if err := h.svc.Delete(t.Context(), operator, w.ID); err != nil {
		t.Fatal(err)
	}
	if !h.refused("a.acme.test") {
		t.Error("a.acme.test still served after its wildcard domain was deleted")
	}
	if fp := h.served("login.acme.test"); fp != exact.Cert.Fingerprint {
		t.Errorf("login.acme.test after the wildcard's deletion: %s, want the exact domain's", fp)
	}
}

// refused reports whether the edge refuses a handshake for name.
func (h *harness) refused(name string) bool {
	h.t.Helper()
	srv, cli := net.Pipe()
	defer cli.Close()
	go func() {
		defer srv.Close()
		tls.Server(srv, h.edge.TLSConfig()).HandshakeContext(h.t.Context())
	}()
	c := tls.Client(cli, &tls.Config{ServerName: name, RootCAs: h.roots})
	return c.HandshakeContext(h.t.Context()) != nil
}

// plainIssuer hides the built-in CA's IssuesWildcards, as an ACME issuer
// driven by HTTP-01 and TLS-ALPN-01 is.
type plainIssuer struct{ iss issuance.Issuer }

func (p plainIssuer) Issue(ctx context.Context, req issuance.Request) (*issuance.Issued, error) {
	return p.iss.Issue(ctx, req)
}

// TestWildcardWithoutDNSChallenge: a CA that cannot prove a wildcard gives
// cert.wildcard_unsupported with its fix, not an order that fails later.
func TestWildcardWithoutDNSChallenge(t *testing.T) {
	h := newHarness(t)
	box, _ := sealed.New(make([]byte, sealed.KeySize))
	keeper, err := issuance.NewKeeper(plainIssuer{h.issuer}, box)
	if err != nil {
		t.Fatal(err)
	}
	h.svc.UseCertificates(customdomain.Certificates{Certifier: keeper, Keeper: keeper, Edge: h.edge})
	d := h.verified(h.svc, "*.acme.test")
	h.svc.RunOnce(t.Context())
	d = h.get(d.ID)
	f, ok := findingByID(d.Diagnosis, customdomain.FindingWildcardUnsupported)
	if d.Status != customdomain.Verified || !ok || f.Fix == "" {
		t.Fatalf("status %s diagnosis %v, want VERIFIED with %s and its fix", d.Status, finding.IDs(d.Diagnosis), customdomain.FindingWildcardUnsupported)
	}
}

func findingByID(fs []finding.Finding, id string) (finding.Finding, bool) {
	for _, f := range fs {
		if f.ID == id {
			return f, true
		}
	}
	return finding.Finding{}, false
}
