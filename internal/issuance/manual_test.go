package issuance_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type certOpt func(*x509.Certificate)

func makeCert(t *testing.T, cn string, parent *testCert, key crypto.Signer, isCA bool, opts ...certOpt) *testCert {
	t.Helper()
	if key == nil {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
		tmpl.NotAfter = time.Now().Add(20 * 365 * 24 * time.Hour)
	} else {
		tmpl.DNSNames = []string{cn}
	}
	for _, o := range opts {
		o(tmpl)
	}
	signer, issuer := key, tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatalf("creating %s: %v", cn, err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCert{cert: c, key: key}
}

func pemOf(cs ...*testCert) string {
	var b strings.Builder
	for _, c := range cs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
	}
	return b.String()
}

func keyPEM(t *testing.T, k crypto.Signer) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestCheckUpload(t *testing.T) {
	const name = "login.acme.test"
	root := makeCert(t, "Private Root", nil, nil, true)
	inter := makeCert(t, "Private Intermediate", root, nil, true)
	leaf := makeCert(t, name, inter, nil, false)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaInter := makeCert(t, "RSA Intermediate", root, rsa2048, true)
	unrelated := makeCert(t, "Unrelated Intermediate", makeCert(t, "Other Root", nil, nil, true), nil, true)

	expired := makeCert(t, name, inter, nil, false, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-100*24*time.Hour), time.Now().Add(-24*time.Hour)
	})
	future := makeCert(t, name, inter, nil, false, func(c *x509.Certificate) { c.NotBefore = time.Now().Add(24 * time.Hour) })
	tooLong := makeCert(t, name, inter, nil, false, func(c *x509.Certificate) { c.NotAfter = time.Now().Add(11 * 365 * 24 * time.Hour) })
	wrongName := makeCert(t, "www.other.test", inter, nil, false)
	weak := makeCert(t, name, inter, rsa1024, false)
	curve := makeCert(t, name, inter, p521, false)
	sha1 := makeCert(t, name, rsaInter, nil, false, func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA1WithRSA })
	selfSigned := makeCert(t, name, nil, nil, false)

	ok := func(l *testCert, chain ...*testCert) issuance.Upload {
		return issuance.Upload{Certificate: pemOf(l), CertificateChain: pemOf(chain...), PrivateKey: keyPEM(t, l.key), Type: "PEM"}
	}
	tests := []struct {
		name     string
		upload   issuance.Upload
		wantErr  []string // substrings, one per expected cause
		wantWarn string
	}{
		{name: "ok/private-root-warns", upload: ok(leaf, inter, root), wantWarn: finding.ChainUntrusted},
		{name: "fail/mismatched-key", upload: func() issuance.Upload { u := ok(leaf, inter, root); u.PrivateKey = keyPEM(t, otherKey); return u }(), wantErr: []string{"privateKey does not match"}},
		{name: "fail/expired", upload: ok(expired, inter, root), wantErr: []string{"expired on"}},
		{name: "fail/not-yet-valid", upload: ok(future, inter, root), wantErr: []string{"not valid yet"}},
		{name: "fail/expiry-over-10-years", upload: ok(tooLong, inter, root), wantErr: []string{"more than 10 years"}},
		{name: "fail/wrong-name", upload: ok(wrongName, inter, root), wantErr: []string{"does not cover login.acme.test: it is valid for www.other.test"}},
		{name: "fail/rsa-1024", upload: ok(weak, inter, root), wantErr: []string{"RSA 1024 bits"}},
		{name: "fail/ecdsa-p521", upload: ok(curve, inter, root), wantErr: []string{"ECDSA P-521"}},
		{name: "fail/sha1-signature", upload: ok(sha1, rsaInter, root), wantErr: []string{"signed with SHA1-RSA"}},
		{name: "fail/self-signed", upload: ok(selfSigned), wantErr: []string{"self-signed"}},
		{name: "fail/broken-pem", upload: issuance.Upload{Certificate: "-----BEGIN CERTIFICATE-----\nnot base64!\n", PrivateKey: keyPEM(t, leaf.key), Type: "PEM"}, wantErr: []string{"certificate is not PEM"}},
		{name: "fail/broken-key-pem", upload: func() issuance.Upload { u := ok(leaf, inter, root); u.PrivateKey = "garbage"; return u }(), wantErr: []string{"privateKey is not PEM"}},
		{name: "fail/chain-wrong-order", upload: ok(leaf, root, inter), wantErr: []string{"wrong order"}},
		{name: "fail/chain-does-not-link", upload: ok(leaf, unrelated), wantErr: []string{"does not link"}},
		{name: "fail/missing-intermediate", upload: ok(leaf), wantErr: []string{`issued by "CN=Private Intermediate", which is neither in certificateChain nor a public root`}},
		{name: "fail/type-not-pem", upload: func() issuance.Upload { u := ok(leaf, inter, root); u.Type = "DER"; return u }(), wantErr: []string{`type is "DER"`}},
		{name: "fail/two-causes", upload: func() issuance.Upload { u := ok(expired, inter, root); u.PrivateKey = keyPEM(t, otherKey); return u }(), wantErr: []string{"privateKey does not match", "expired on"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := issuance.CheckUpload(name, tc.upload, issuance.CheckOptions{})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				if ids := finding.IDs(got.Warnings); len(ids) != 1 || ids[0] != tc.wantWarn {
					t.Errorf("warnings %v, want [%s]", ids, tc.wantWarn)
				}
				if len(got.Issued.Chain) != 2 || got.Issued.Issuer != "manual" {
					t.Errorf("served chain of %d (issuer %q), want leaf + intermediate without the root, manual", len(got.Issued.Chain), got.Issued.Issuer)
				}
				return
			}
			var ue *issuance.UploadError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want *UploadError", err)
			}
			if len(ue.Causes) != len(tc.wantErr) {
				t.Errorf("causes %q, want %d", ue.Causes, len(tc.wantErr))
			}
			for _, w := range tc.wantErr {
				found := false
				for _, c := range ue.Causes {
					found = found || strings.Contains(c, w)
				}
				if !found {
					t.Errorf("causes %q, want one containing %q", ue.Causes, w)
				}
			}
		})
	}
}

func TestDecodeUploadCap(t *testing.T) {
	big := `{"certificate":"` + strings.Repeat("A", 10<<20) + `","type":"PEM"}`
	tests := []struct {
		name    string
		body    func() *http.Request
		wantErr string
	}{
		{"ok", func() *http.Request {
			return httptest.NewRequest("PUT", "/", strings.NewReader(`{"certificate":"c","certificateChain":"","privateKey":"k","type":"PEM"}`))
		}, ""},
		{"fail/10MiB-body", func() *http.Request { return httptest.NewRequest("PUT", "/", strings.NewReader(big)) }, "larger than 256 KiB"},
		{"fail/10MiB-body-behind-MaxBytesReader", func() *http.Request {
			r := httptest.NewRequest("PUT", "/", strings.NewReader(big))
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, issuance.MaxUploadBytes+1)
			return r
		}, "larger than 256 KiB"},
		{"fail/not-json", func() *http.Request { return httptest.NewRequest("PUT", "/", strings.NewReader("certificate=x")) }, "not the expected JSON"},
		{"fail/unknown-field", func() *http.Request { return httptest.NewRequest("PUT", "/", strings.NewReader(`{"cert":"x"}`)) }, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := issuance.DecodeUpload(tc.body().Body)
			if tc.wantErr == "" {
				if err != nil || u.Certificate != "c" || u.Type != "PEM" {
					t.Fatalf("got %+v, %v", u, err)
				}
				return
			}
			var ue *issuance.UploadError
			if !errors.As(err, &ue) || !strings.Contains(ue.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an UploadError containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	c := makeCert(t, "login.acme.test", nil, nil, false)
	d := issuance.Describe(c.cert)
	if d.Subject != "CN=login.acme.test" {
		t.Errorf("subject %q, want CN=login.acme.test", d.Subject)
	}
	if len(d.Fingerprint) != 32*3-1 || strings.ToUpper(d.Fingerprint) != d.Fingerprint || strings.Count(d.Fingerprint, ":") != 31 {
		t.Errorf("fingerprint %q, want 32 upper-case hex pairs joined by colons", d.Fingerprint)
	}
	if !d.Expiration.Equal(c.cert.NotAfter) {
		t.Errorf("expiration %v, want %v", d.Expiration, c.cert.NotAfter)
	}
	b, _ := json.Marshal(d)
	if !bytes.Contains(b, []byte(`"fingerprint"`)) || !bytes.Contains(b, []byte(`"expiration"`)) {
		t.Errorf("JSON %s lacks the API's field names", b)
	}
}
