package api

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/issuance/certtest"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// recordingEdge is the edge as the lifecycle sees it.
type recordingEdge struct{ invalidated []string }

func (r *recordingEdge) Invalidate(name string) { r.invalidated = append(r.invalidated, name) }

// certEnv is an env whose lifecycle keeps certificates in the SQLite store,
// sealed, and trusts root as if it were public.
func certEnv(t *testing.T, root *x509.Certificate) (*env, *recordingEdge, *sealed.Box) {
	t.Helper()
	e := newEnv(t, envOptions{})
	box, err := sealed.New(bytes.Repeat([]byte{7}, sealed.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	keeper, err := issuance.NewKeeper(nil, box)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	edge := &recordingEdge{}
	e.domains.UseCertificates(customdomain.Certificates{Keeper: keeper, Edge: edge, Upload: issuance.CheckOptions{PublicRoots: roots}})
	return e, edge, box
}

func (e *env) verified(token, name string) domainResp {
	e.t.Helper()
	d := e.createDomain(token, name)
	e.publish(d)
	r := e.do("POST", "/api/v1/domains/"+d.ID+"/verify", token, nil)
	var v domainResp
	r.decode(e.t, &v)
	if v.ValidationStatus != "VERIFIED" {
		e.t.Fatalf("verify %s: %s %v, want VERIFIED", name, v.ValidationStatus, v.findingIDs())
	}
	return v
}

// certDomain is a domain response with the certificate fields.
type certDomain struct {
	domainResp
	PublicCertificate *struct {
		Subject     string `json:"subject"`
		Fingerprint string `json:"fingerprint"`
		Expiration  string `json:"expiration"`
	} `json:"publicCertificate"`
	MovedSince string `json:"movedSince"`
}

func (e *env) get(token, id string) certDomain {
	e.t.Helper()
	r := e.do("GET", "/api/v1/domains/"+id, token, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("get %s: %d %s", id, r.status, r.body)
	}
	var d certDomain
	r.decode(e.t, &d)
	return d
}

func TestCertificateUpload(t *testing.T) {
	const name = "login.acme.test"
	root := certtest.Root(t, "Test Root")
	inter := certtest.Intermediate(t, "Test Intermediate", root)
	leaf := certtest.Leaf(t, name, inter)
	e, edge, box := certEnv(t, root.Cert)
	_, org := e.newOrg("Acme")

	body := func(l *certtest.Cert, chain ...*certtest.Cert) map[string]string {
		u := certtest.Upload(t, l, chain...)
		return map[string]string{"certificate": u.Certificate, "certificateChain": u.CertificateChain, "privateKey": u.PrivateKey, "type": u.Type}
	}

	t.Run("fail/not-verified-E0000165", func(t *testing.T) {
		d := e.createDomain(org, "pending.acme.test")
		r := e.do("PUT", "/api/v1/domains/"+d.ID+"/certificate", org, body(leaf, inter))
		r.wantError(t, http.StatusForbidden, "E0000165")
	})

	t.Run("fail/unknown-domain", func(t *testing.T) {
		r := e.do("PUT", "/api/v1/domains/dom0000000000000000/certificate", org, body(leaf, inter))
		if r.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404; %s", r.status, r.body)
		}
	})

	d := e.verified(org, name)

	t.Run("fail/other-org-cannot-see-it", func(t *testing.T) {
		_, other := e.newOrg("Other")
		r := e.do("PUT", "/api/v1/domains/"+d.ID+"/certificate", other, body(leaf, inter))
		if r.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404; %s", r.status, r.body)
		}
	})

	otherKey := certtest.ECDSAKey(t, elliptic.P256())
	rsaInter := certtest.New(t, "RSA Intermediate", root, certtest.RSAKey(t, 2048), true)
	expired := certtest.Leaf(t, name, inter, certtest.Expired)
	future := certtest.Leaf(t, name, inter, certtest.NotYetValid)
	tooLong := certtest.Leaf(t, name, inter, certtest.ValidFor(11*365*24*time.Hour))
	wrongName := certtest.Leaf(t, "www.other.test", inter)
	weak := certtest.New(t, name, inter, certtest.RSAKey(t, 1024), false)
	sha1 := certtest.Leaf(t, name, rsaInter, certtest.SHA1)
	selfSigned := certtest.New(t, name, nil, nil, false)
	unrelated := certtest.Intermediate(t, "Unrelated Intermediate", certtest.Root(t, "Other Root"))

	with := func(m map[string]string, k, v string) map[string]string { m[k] = v; return m }
	big := `{"certificate":"` + strings.Repeat("A", 10<<20) + `","certificateChain":"","privateKey":"","type":"PEM"}`
	tests := []struct {
		name  string
		body  any
		cause string // a substring of one errorCauses entry
	}{
		{"fail/mismatched-key", with(body(leaf, inter), "privateKey", certtest.KeyPEM(t, otherKey)), "privateKey does not match"},
		{"fail/expired", body(expired, inter), "expired on"},
		{"fail/not-yet-valid", body(future, inter), "not valid yet"},
		{"fail/expiry-over-10-years", body(tooLong, inter), "more than 10 years"},
		{"fail/wrong-name", body(wrongName, inter), "does not cover " + name},
		{"fail/rsa-1024", body(weak, inter), "weak 1024-bit RSA key"},
		{"fail/sha1-signature", body(sha1, rsaInter), "SHA1-RSA"},
		{"fail/self-signed", body(selfSigned), "self-signed"},
		{"fail/broken-pem", with(body(leaf, inter), "certificate", "-----BEGIN CERTIFICATE-----\nnot base64\n"), "certificate is not PEM"},
		{"fail/broken-key-pem", with(body(leaf, inter), "privateKey", "garbage"), "privateKey is not PEM"},
		{"fail/empty-key", with(body(leaf, inter), "privateKey", ""), "privateKey is empty"},
		{"fail/chain-wrong-order", body(leaf, root, inter), "wrong order"},
		{"fail/chain-does-not-link", body(leaf, unrelated), "does not link"},
		{"fail/missing-intermediate", body(leaf), "neither in certificateChain nor a public root"},
		{"fail/type-not-pem", with(body(leaf, inter), "type", "DER"), `only "PEM"`},
		{"fail/unknown-field", `{"certificate":"x","extra":1}`, "unknown field"},
		{"fail/not-json", `certificate=x`, "not the expected JSON object"},
		{"fail/10-MiB-body", big, "larger than 256 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("PUT", "/api/v1/domains/"+d.ID+"/certificate", org, tc.body)
			er := r.wantError(t, http.StatusBadRequest, "E0000001")
			if !strings.Contains(er.causes(), tc.cause) {
				t.Errorf("causes %q, want one containing %q", er.causes(), tc.cause)
			}
		})
	}
	if len(edge.invalidated) != 0 {
		t.Fatalf("refused uploads touched the edge: %v", edge.invalidated)
	}
	if got := e.get(org, d.ID); got.ValidationStatus != "VERIFIED" || got.PublicCertificate != nil {
		t.Fatalf("after refusals: %s %+v, want VERIFIED without a certificate", got.ValidationStatus, got.PublicCertificate)
	}

	t.Run("ok/manual-completed-and-served", func(t *testing.T) {
		key := certtest.KeyPEM(t, leaf.Key)
		r := e.do("PUT", "/api/v1/domains/"+d.ID+"/certificate", org, body(leaf, inter))
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("upload: %d %s, want 204 and no body", r.status, r.body)
		}
		got := e.get(org, d.ID)
		if got.ValidationStatus != "COMPLETED" || got.CertificateSourceType != "MANUAL" {
			t.Errorf("domain %s %s, want COMPLETED MANUAL", got.ValidationStatus, got.CertificateSourceType)
		}
		want := issuance.Describe(leaf.Cert)
		if pc := got.PublicCertificate; pc == nil || pc.Fingerprint != want.Fingerprint || pc.Subject != "CN="+name ||
			pc.Expiration != oktaTime(leaf.Cert.NotAfter) {
			t.Errorf("publicCertificate %+v, want %+v", pc, want)
		}
		if len(edge.invalidated) != 1 || edge.invalidated[0] != name {
			t.Errorf("edge told %v, want [%s]", edge.invalidated, name)
		}
		rec, err := e.store.Certificate(t.Context(), name)
		if err != nil || rec.Fingerprint != want.Fingerprint || rec.Issuer != "manual" || !rec.RenewAt.IsZero() {
			t.Fatalf("stored %+v, %v", rec, err)
		}
		keyB64 := strings.Split(key, "\n")[1]
		if bytes.Contains(rec.SealedKey, []byte(keyB64)) || bytes.Contains(rec.SealedKey, []byte("PRIVATE")) {
			t.Error("the key is stored in the clear")
		}
		for _, path := range []string{"/api/v1/domains/" + d.ID, "/api/v1/domains", "/api/v1/logs"} {
			if r := e.do("GET", path, e.operator, nil); bytes.Contains(r.body, []byte(keyB64)) {
				t.Errorf("GET %s returns the private key", path)
			}
		}
		logs := e.do("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.custom_url_domain.cert_upload"`), e.operator, nil)
		if !bytes.Contains(logs.body, []byte(want.Fingerprint)) {
			t.Errorf("no cert_upload event with the fingerprint: %s", logs.body)
		}
	})

	t.Run("ok/replaced-atomically", func(t *testing.T) {
		next := certtest.Leaf(t, name, inter)
		r := e.do("PUT", "/api/v1/domains/"+d.ID+"/certificate", org, body(next, inter))
		if r.status != http.StatusNoContent {
			t.Fatalf("second upload: %d %s", r.status, r.body)
		}
		rec, _ := e.store.Certificate(t.Context(), name)
		if got := e.get(org, d.ID); got.PublicCertificate == nil || got.PublicCertificate.Fingerprint != rec.Fingerprint ||
			rec.Fingerprint != issuance.Fingerprint(next.Cert) {
			t.Errorf("after replacing: API %+v, store %s, want %s", got.PublicCertificate, rec.Fingerprint, issuance.Fingerprint(next.Cert))
		}
		c, err := rec.TLSCertificate(box)
		if err != nil || !c.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(next.Key.Public()) {
			t.Errorf("stored key: %v; want it to open and match the new certificate", err)
		}
	})

	t.Run("ok/delete-forgets-certificate", func(t *testing.T) {
		if r := e.do("DELETE", "/api/v1/domains/"+d.ID, org, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if _, err := e.store.Certificate(t.Context(), name); err == nil {
			t.Error("the certificate of a deleted domain is still stored")
		}
	})
}

func TestCARoot(t *testing.T) {
	t.Run("fail/acme-configured-404", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		r := e.do("GET", "/api/v1/ca/root.pem", "", nil)
		r.wantError(t, http.StatusNotFound, "E0000007")
	})
	t.Run("ok/built-in", func(t *testing.T) {
		root := certtest.Root(t, "Hallmark Built-in Root CA")
		rootPEM := []byte(certtest.PEM(root))
		reg := prometheus.NewRegistry()
		srv := httptest.NewServer(New(Config{}, Deps{Logger: slog.New(slog.DiscardHandler), Registry: reg, Gatherer: reg, CARoot: rootPEM}))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL + "/api/v1/ca/root.pem")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pem-file" || !bytes.Equal(b, rootPEM) {
			t.Errorf("got %d %q %q, want 200 application/x-pem-file and the root", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		resp2, err := srv.Client().Post(srv.URL+"/api/v1/ca/root.pem", "application/json", nil)
		if err == nil {
			resp2.Body.Close()
			if resp2.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST: %d, want 405", resp2.StatusCode)
			}
		}
	})
}
