package main

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store/postgres"
	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
)

// TestServeBuiltInCA follows the README with the built-in CA: a name
// created, published and verified through the API is served over HTTPS by
// the edge with a certificate that verifies against GET /api/v1/ca/root.pem,
// and keeps being watched after activation.
func TestServeBuiltInCA(t *testing.T) {
	h := testServeBuiltInCA(t)
	if _, err := os.Stat(filepath.Join(h.dataDir, "hallmark.db")); err != nil {
		t.Errorf("the embedded database: %v", err)
	}
}

// TestServeBuiltInCAPostgres is the same story on PostgreSQL, selected by
// HALLMARK_DATABASE_URL (the environment form of --database-url): the
// domains are in PostgreSQL, and no SQLite file was made.
func TestServeBuiltInCAPostgres(t *testing.T) {
	url := pgtest.New(t)
	t.Setenv("HALLMARK_DATABASE_URL", url)
	// Required with PostgreSQL; made at this first start.
	t.Setenv("HALLMARK_MASTER_KEY_FILE", filepath.Join(t.TempDir(), "master.key"))
	h := testServeBuiltInCA(t)
	if _, err := os.Stat(filepath.Join(h.dataDir, "hallmark.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve on PostgreSQL made an SQLite file too (%v)", err)
	}
	st, err := postgres.Open(t.Context(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.DomainsByName(t.Context(), "login.acme.test")
	if err != nil || len(ds) != 1 || ds[0].Status != customdomain.Completed {
		t.Errorf("PostgreSQL holds %+v (%v), want login.acme.test COMPLETED", ds, err)
	}
}

// A --database-url that is not PostgreSQL's is refused with what to use,
// and without echoing the password in it.
func TestServeRefusesBadDatabaseURL(t *testing.T) {
	var out syncBuffer
	err := run(t.Context(), []string{"serve", "--data-dir", t.TempDir(), "--database-url", "mysql://u:hunter2@127.0.0.1/db"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--database-url") || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("serve --database-url mysql://...: %v, want a refusal naming --database-url and postgres://", err)
	}
	if strings.Contains(err.Error()+out.String(), "hunter2") {
		t.Errorf("the password was echoed: %v\n%s", err, out.String())
	}
}

func testServeBuiltInCA(t *testing.T) *hallmark {
	world := newWorld(t)
	h := startHallmark(t, &hallmark{}, world, "--watch-interval", "300ms")

	// The root, without a token.
	resp, err := http.Get("http://" + h.api + "/api/v1/ca/root.pem")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pem-file" || !strings.Contains(string(rootPEM), "BEGIN CERTIFICATE") {
		t.Fatalf("root.pem: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	roots := pool(rootPEM)

	// The console answers beside the API on the same address.
	resp, err = http.Get("http://" + h.api + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), "token") {
		t.Fatalf("console at /: %d %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("console at / has no Content-Security-Policy")
	}

	// An org with an upstream, and its token.
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		io.WriteString(w, "hello from acme")
	}))
	defer up.Close()
	var org struct{ ID string }
	if st := h.call("POST", "/api/v1/orgs", e2eToken, map[string]string{"name": "Acme", "upstream": up.URL}, &org); st != 201 {
		t.Fatalf("create org: %d", st)
	}
	var tok struct{ Token string }
	if st := h.call("POST", "/api/v1/orgs/"+org.ID+"/tokens", e2eToken, map[string]string{"name": "admin"}, &tok); st != 201 {
		t.Fatalf("create token: %d", st)
	}
	acme := tok.Token

	const name = "login.acme.test"
	d := h.create(acme, name, "OKTA_MANAGED")
	if _, err := h.handshake(name, roots); err == nil {
		t.Fatal("the edge served a name before it was verified")
	}
	publish(world, d)
	if v := h.verify(acme, d.ID); v.ValidationStatus != "VERIFIED" && v.ValidationStatus != "COMPLETED" {
		t.Fatalf("verify: %s %v", v.ValidationStatus, v.ids())
	}
	d = h.waitDomain(acme, d.ID, 20*time.Second, "COMPLETED", status("COMPLETED"))
	if d.PublicCertificate == nil || d.PublicCertificate.Subject != "CN="+name {
		t.Fatalf("publicCertificate %+v", d.PublicCertificate)
	}
	leaf, err := h.handshake(name, roots)
	if err != nil {
		t.Fatalf("handshake verified against root.pem: %v", err)
	}
	if got := issuance.Fingerprint(leaf); got != d.PublicCertificate.Fingerprint {
		t.Errorf("edge serves %s, publicCertificate says %s", got, d.PublicCertificate.Fingerprint)
	}
	if exp := leaf.NotAfter.UTC().Format("2006-01-02T15:04:05.000Z"); exp != d.PublicCertificate.Expiration {
		t.Errorf("expiration %s, edge serves one expiring %s", d.PublicCertificate.Expiration, exp)
	}
	if evs := h.waitEvents("system.custom_url_domain.cert_provision", d.ID, 1); len(evs) != 1 {
		t.Errorf("cert_provision events: %d, want 1", len(evs))
	}

	t.Run("edge/upper-case-sni", func(t *testing.T) {
		if _, err := h.handshake(strings.ToUpper(name), roots); err != nil {
			t.Errorf("handshake with SNI %s: %v", strings.ToUpper(name), err)
		}
	})
	t.Run("edge/unknown-sni", func(t *testing.T) {
		_, err := h.handshake("unknown.acme.test", nil)
		if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
			t.Errorf("got %v, want the unrecognized_name alert", err)
		}
	})
	t.Run("edge/http-redirect", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", "http://"+h.http+"/signin?x=1", nil)
		req.Host = name
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "https://" + name + ":" + strings.Split(h.https, ":")[1] + "/signin?x=1"
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("got %d %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})
	t.Run("edge/proxy-to-org-upstream", func(t *testing.T) {
		resp, err := h.edgeClient(roots).Get("https://" + name + "/app")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "hello from acme" {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
		if seen.Get("X-Forwarded-Host") != name || seen.Get("X-Forwarded-Proto") != "https" || seen.Get("X-Forwarded-For") != "127.0.0.1" {
			t.Errorf("forwarded headers %v", seen)
		}
	})

	t.Run("edge/page-shows-the-brand", func(t *testing.T) {
		// The operator's domain has no org, so no upstream: the edge shows
		// its page, titled with the domain's brand.
		const pageName = "page.acme.test"
		pd := h.create(e2eToken, pageName, "OKTA_MANAGED")
		publish(world, pd)
		h.verify(e2eToken, pd.ID)
		h.waitDomain(e2eToken, pd.ID, 20*time.Second, "COMPLETED", status("COMPLETED"))
		heading := func() string {
			resp, err := h.edgeClient(roots).Get("https://" + pageName + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s := string(b)
			if i, j := strings.Index(s, "<h1>"), strings.Index(s, "</h1>"); i >= 0 && j > i {
				return s[i+4 : j]
			}
			t.Fatalf("edge page %d %q has no heading", resp.StatusCode, s)
			return ""
		}
		if got := heading(); got != pageName {
			t.Errorf("heading with the brand the domain came with: got %q, want %q (the brand is named after the domain)", got, pageName)
		}
		var b struct{ ID string }
		if st := h.call("POST", "/api/v1/brands", e2eToken, map[string]string{"name": "Acme Sign-in"}, &b); st != 201 {
			t.Fatalf("create brand: %d", st)
		}
		if st := h.call("PUT", "/api/v1/domains/"+pd.ID, e2eToken, map[string]string{"brandId": b.ID}, nil); st != 200 {
			t.Fatalf("move the domain to the brand: %d", st)
		}
		if got := heading(); got != "Acme Sign-in" {
			t.Errorf("heading after the domain moved to brand Acme Sign-in: got %q", got)
		}
	})

	t.Run("moved-and-back", func(t *testing.T) {
		world.Remove(name+".", "CNAME")
		m := h.waitDomain(acme, d.ID, 20*time.Second, "moved", func(d e2eDomain) bool { return d.MovedSince != "" })
		f, ok := m.finding("domain.moved")
		if !ok || !strings.Contains(f, e2eTarget) || m.ValidationStatus != "COMPLETED" {
			t.Errorf("moved domain: %s %v, want COMPLETED with domain.moved naming %s", m.ValidationStatus, m.ids(), e2eTarget)
		}
		if evs := h.waitEvents("system.custom_url_domain.moved", d.ID, 1); len(evs) != 1 {
			t.Errorf("moved events: %d, want 1", len(evs))
		}
		if _, err := h.handshake(name, roots); err != nil {
			t.Errorf("the certificate in hand is no longer served: %v", err)
		}
		publish(world, d)
		h.waitDomain(acme, d.ID, 20*time.Second, "points here again", func(d e2eDomain) bool { return d.MovedSince == "" && len(d.Diagnosis) == 0 })
		if evs := h.waitEvents("system.custom_url_domain.moved", d.ID, 2); len(evs) != 2 {
			t.Errorf("moved events after recovery: %d, want 2 (moved, back)", len(evs))
		}
	})

	t.Run("manual-upload-served-without-restart", func(t *testing.T) {
		// A certificate from another built-in CA stands in for one bought
		// elsewhere.
		ca, err := issuance.LoadOrCreateCA(filepath.Join(t.TempDir(), "ca"), mustBox(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		otherRoot := ca.RootPEM()
		iss, err := ca.Issue(t.Context(), issuance.Request{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		body := uploadBody(t, iss, otherRoot)
		if st := h.call("PUT", "/api/v1/domains/"+d.ID+"/certificate", acme, body, nil); st != 204 {
			t.Fatalf("upload: %d", st)
		}
		got := h.get(acme, d.ID)
		if got.CertificateSourceType != "MANUAL" || got.ValidationStatus != "COMPLETED" || got.PublicCertificate.Fingerprint != issuance.Fingerprint(iss.Leaf()) {
			t.Fatalf("after upload: %s %s %+v", got.CertificateSourceType, got.ValidationStatus, got.PublicCertificate)
		}
		leaf, err := h.handshake(name, pool(otherRoot))
		if err != nil || issuance.Fingerprint(leaf) != got.PublicCertificate.Fingerprint {
			t.Errorf("after upload the edge serves %v (%v), want the uploaded certificate", leaf, err)
		}
		if evs := h.waitEvents("system.custom_url_domain.cert_upload", d.ID, 1); len(evs) != 1 {
			t.Errorf("cert_upload events: %d, want 1", len(evs))
		}
		if strings.Contains(h.log.String(), "PRIVATE KEY") {
			t.Error("the log holds a private key")
		}
	})
	return h
}

// A --edge-cache-size that holds no certificate is refused, naming the flag,
// with the usage exit status.
func TestServeRefusesBadEdgeCacheSize(t *testing.T) {
	for _, v := range []string{"0", "-5"} {
		var out syncBuffer
		err := run(t.Context(), []string{"serve", "--data-dir", t.TempDir(), "--edge-cache-size", v}, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "--edge-cache-size") {
			t.Fatalf("serve --edge-cache-size %s: %v, want a refusal naming --edge-cache-size", v, err)
		}
		if code := exitCode(err, io.Discard); code != 2 {
			t.Errorf("serve --edge-cache-size %s: exit status %d, want 2", v, code)
		}
	}
}
