package customdomain_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/issuance/certtest"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

const cnameTarget = "edge.hallmark.test"

var operator = customdomain.Actor{Operator: true, ID: "test", Name: "test"}

// gatedIssuer is the built-in CA with a fault injected: when a gate is set,
// the next CAAIdentities or Issue call (as the gate says) reports that it
// started and waits until the gate is released, so a test can land an
// upload while an order is in flight.
type gatedIssuer struct {
	*issuance.CA
	ids []string

	mu   sync.Mutex
	gate *gate
}

type gate struct {
	at      string // "caa" (before the stored certificate is read) or "issue"
	started chan struct{}
	release chan struct{}
}

func (g *gatedIssuer) hold(at string) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = &gate{at: at, started: make(chan struct{}), release: make(chan struct{})}
	return g.gate
}

func (g *gatedIssuer) wait(ctx context.Context, at string) error {
	g.mu.Lock()
	gt := g.gate
	if gt != nil && gt.at == at {
		g.gate = nil
	} else {
		gt = nil
	}
	g.mu.Unlock()
	if gt == nil {
		return nil
	}
	close(gt.started)
	select {
	case <-gt.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gatedIssuer) CAAIdentities(ctx context.Context) ([]string, error) {
	if err := g.wait(ctx, "caa"); err != nil {
		return nil, err
	}
	return g.ids, nil
}

func (g *gatedIssuer) Issue(ctx context.Context, req issuance.Request) (*issuance.Issued, error) {
	if err := g.wait(ctx, "issue"); err != nil {
		return nil, err
	}
	return g.CA.Issue(ctx, req)
}

// harness is the certificate lifecycle over SQLite, a DNS world on
// loopback, the built-in CA and the real edge (handshakes over a pipe).
type harness struct {
	t      *testing.T
	st     *sqlite.Store
	world  *dnstest.World
	svc    *customdomain.Service
	issuer *gatedIssuer
	edge   *edge.Edge
	roots  *x509.CertPool
}

func newHarness(t *testing.T, caaIDs ...string) *harness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hallmark.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	world := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2})
	world.Set(cnameTarget + ". 300 IN A 127.0.0.1")
	box, err := sealed.New(make([]byte, sealed.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := issuance.LoadOrCreateCA(t.TempDir(), box)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, world: world, issuer: &gatedIssuer{CA: ca, ids: caaIDs}, roots: x509.NewCertPool()}
	h.roots.AddCert(ca.Root())
	h.svc = h.newService(box, true)
	return h
}

// newService is a lifecycle over the harness's store; without certs it
// has no certificate lifecycle (a server from before certificates).
func (h *harness) newService(box *sealed.Box, certs bool) *customdomain.Service {
	h.t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	checker, err := dnscheck.New(dnscheck.Config{Resolvers: h.world.Resolvers(), NameserverPort: h.world.NameserverPort(),
		Timeout: 500 * time.Millisecond, DiscoveryTTL: -1})
	if err != nil {
		h.t.Fatal(err)
	}
	svc, err := customdomain.New(customdomain.Config{CNAMETarget: cnameTarget}, h.st, checker, systemlog.New(h.st, logger, time.Now), logger)
	if err != nil {
		h.t.Fatal(err)
	}
	if !certs {
		return svc
	}
	keeper, err := issuance.NewKeeper(h.issuer, box)
	if err != nil {
		h.t.Fatal(err)
	}
	h.edge, err = edge.New(edge.Config{}, servingSource{svc, box}, h.st, logger)
	if err != nil {
		h.t.Fatal(err)
	}
	svc.UseCertificates(customdomain.Certificates{Certifier: keeper, Keeper: keeper, Edge: h.edge,
		Upload: issuance.CheckOptions{PublicRoots: h.roots}})
	return svc
}

// servingSource is the edge's Source as serve wires it: the lifecycle says
// which domain serves a name and with which certificate record.
type servingSource struct {
	svc *customdomain.Service
	box *sealed.Box
}

func (s servingSource) Lookup(ctx context.Context, name string) (edge.Entry, error) {
	_, rec, err := s.svc.Serving(ctx, name)
	if err != nil {
		return edge.Entry{}, err
	}
	cert, err := rec.TLSCertificate(s.box)
	if err != nil {
		return edge.Entry{}, err
	}
	return edge.Entry{Certificate: cert}, nil
}

// verified creates a managed domain, publishes its records and verifies it.
func (h *harness) verified(svc *customdomain.Service, name string) customdomain.Domain {
	h.t.Helper()
	d, err := svc.Create(h.t.Context(), operator, name, customdomain.Managed)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range svc.Records(d) {
		switch r.Type {
		case "TXT":
			h.world.Set(fmt.Sprintf("%s. 300 IN TXT %q", r.FQDN, r.Values[0]))
		case "CNAME":
			h.world.Set(fmt.Sprintf("%s. 300 IN CNAME %s.", r.FQDN, r.Values[0]))
		}
	}
	d, _, err = svc.Verify(h.t.Context(), operator, d.ID)
	if err != nil || d.Status != customdomain.Verified {
		h.t.Fatalf("verify %s: %s %v %v, want VERIFIED", name, d.Status, finding.IDs(d.Diagnosis), err)
	}
	return d
}

func (h *harness) get(id string) customdomain.Domain {
	h.t.Helper()
	d, err := h.st.GetDomain(h.t.Context(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// served is the fingerprint of the leaf the edge serves for name.
func (h *harness) served(name string) string {
	h.t.Helper()
	srv, cli := net.Pipe()
	defer cli.Close()
	go func() {
		defer srv.Close()
		tls.Server(srv, h.edge.TLSConfig()).HandshakeContext(h.t.Context())
	}()
	c := tls.Client(cli, &tls.Config{ServerName: name, RootCAs: h.roots})
	if err := c.HandshakeContext(h.t.Context()); err != nil {
		h.t.Fatalf("handshake with SNI %s: %v", name, err)
	}
	return issuance.Fingerprint(c.ConnectionState().PeerCertificates[0])
}

// upload is a certificate from the same CA, uploaded through the lifecycle.
func (h *harness) upload(id, name string) string {
	h.t.Helper()
	iss, err := h.issuer.CA.Issue(h.t.Context(), issuance.Request{Name: name})
	if err != nil {
		h.t.Fatal(err)
	}
	d, err := h.svc.Upload(h.t.Context(), operator, id, certtest.UploadOf(h.t, iss, nil))
	if err != nil {
		h.t.Fatalf("upload: %v", err)
	}
	if d.CertSource != customdomain.Manual || d.Cert.Fingerprint != issuance.Fingerprint(iss.Leaf()) {
		h.t.Fatalf("after upload: %s %s, want MANUAL %s", d.CertSource, d.Cert.Fingerprint, issuance.Fingerprint(iss.Leaf()))
	}
	return d.Cert.Fingerprint
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(20 * time.Second):
		t.Fatalf("waited 20s for %s", what)
	}
}

// TestUploadWinsOverOrderInFlight lands an upload while the first issuance
// or a renewal of the same name is ordering: the upload must be what the
// store holds, the domain records and the edge serves.
func TestUploadWinsOverOrderInFlight(t *testing.T) {
	tests := []struct {
		name    string
		renewal bool
		at      string // where the order waits for the upload
	}{
		{"ok/first-issuance-upload-while-ordering", false, "issue"},
		{"ok/first-issuance-upload-before-the-order-reads-the-store", false, "caa"},
		{"ok/renewal-upload-while-ordering", true, "issue"},
		{"ok/renewal-upload-before-the-order-reads-the-store", true, "caa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			const name = "login.acme.test"
			d := h.verified(h.svc, name)
			before := ""
			if tc.renewal {
				h.svc.RunOnce(t.Context())
				d = h.get(d.ID)
				if d.Status != customdomain.Completed {
					t.Fatalf("first issuance: %s %v, want COMPLETED", d.Status, finding.IDs(d.Diagnosis))
				}
				before = d.Cert.Fingerprint
				if got := h.served(name); got != before {
					t.Fatalf("edge serves %s, want the issued %s", got, before)
				}
				// 70 days on, the 90-day certificate is due for renewal
				// (30 to 39 days before expiry) and not yet expiring.
				h.svc.SetClock(func() time.Time { return time.Now().Add(70 * 24 * time.Hour) })
			}

			g := h.issuer.hold(tc.at)
			done := make(chan struct{})
			go func() { defer close(done); h.svc.RunOnce(t.Context()) }()
			waitClosed(t, g.started, "the order to start")
			uploaded := h.upload(d.ID, name)
			close(g.release)
			waitClosed(t, done, "the order to end")

			rec, err := h.st.Certificate(t.Context(), name)
			if err != nil || rec.Fingerprint != uploaded || rec.Issuer != "manual" {
				t.Errorf("stored certificate %s (%s), %v; want the upload %s", rec.Fingerprint, rec.Issuer, err, uploaded)
			}
			got := h.get(d.ID)
			if got.Status != customdomain.Completed || got.CertSource != customdomain.Manual || got.Cert.Fingerprint != uploaded {
				t.Errorf("domain %s %s %s, want COMPLETED MANUAL %s", got.Status, got.CertSource, got.Cert.Fingerprint, uploaded)
			}
			if finding.HasError(got.Diagnosis) {
				t.Errorf("diagnosis %v, want no error: the upload won, nothing failed", finding.IDs(got.Diagnosis))
			}
			if fp := h.served(name); fp != uploaded {
				t.Errorf("edge serves %s, want the upload %s (before: %s)", fp, uploaded, before)
			}
			// The next scheduler steps leave the upload alone.
			h.svc.RunOnce(t.Context())
			if rec, _ := h.st.Certificate(t.Context(), name); rec.Fingerprint != uploaded {
				t.Errorf("after another step the store holds %s, want the upload %s", rec.Fingerprint, uploaded)
			}
		})
	}
}

// TestIssuanceCAAAnyIdentity: the CA may issue when CAA names any of its
// identities; when none is named, the finding asks for the primary one.
func TestIssuanceCAAAnyIdentity(t *testing.T) {
	tests := []struct {
		name   string
		caa    string
		wantOK bool
	}{
		{"ok/second-identity-allowed", `acme.test. 300 IN CAA 0 issue "second-ca.example"`, true},
		{"ok/first-identity-allowed", `acme.test. 300 IN CAA 0 issue "first-ca.example"`, true},
		{"fail/no-identity-allowed", `acme.test. 300 IN CAA 0 issue "other-ca.example"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "first-ca.example", "second-ca.example")
			h.world.Set(tc.caa)
			d := h.verified(h.svc, "login.acme.test")
			h.svc.RunOnce(t.Context())
			got := h.get(d.ID)
			if tc.wantOK {
				if got.Status != customdomain.Completed {
					t.Fatalf("got %s %v, want COMPLETED", got.Status, finding.IDs(got.Diagnosis))
				}
				return
			}
			if got.Status != customdomain.Verified || len(got.Diagnosis) != 1 || got.Diagnosis[0].ID != finding.CAAForbidsIssuer {
				t.Fatalf("got %s %v, want VERIFIED with %s", got.Status, finding.IDs(got.Diagnosis), finding.CAAForbidsIssuer)
			}
			if fix := got.Diagnosis[0].Fix; !strings.Contains(fix, `CAA 0 issue "first-ca.example"`) {
				t.Errorf("fix %q, want the record allowing the primary identity first-ca.example", fix)
			}
		})
	}
}

// TestSchedulerIssuesDomainsVerifiedBeforeCertificates: a managed domain
// verified by a server without a certificate issuer has nothing scheduled;
// a server with one issues its certificate without anyone pressing verify.
func TestSchedulerIssuesDomainsVerifiedBeforeCertificates(t *testing.T) {
	h := newHarness(t)
	box, _ := sealed.New(make([]byte, sealed.KeySize))
	old := h.newService(box, false)
	d := h.verified(old, "login.acme.test")
	if d = h.get(d.ID); !d.NextCheck.IsZero() {
		t.Fatalf("verified without an issuer: NextCheck %v, want none (the case under test)", d.NextCheck)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for d.Status != customdomain.Completed {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s of the scheduler: %s NextCheck %v %v, want COMPLETED", d.Status, d.NextCheck, finding.IDs(d.Diagnosis))
		}
		time.Sleep(20 * time.Millisecond)
		d = h.get(d.ID)
	}
	if fp := h.served("login.acme.test"); fp != d.Cert.Fingerprint {
		t.Errorf("edge serves %s, want %s", fp, d.Cert.Fingerprint)
	}
}
