package issuance_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/issuance/certtest"
)

func TestCheckUpload(t *testing.T) {
	const name = "login.acme.test"
	root := certtest.Root(t, "Private Root")
	inter := certtest.Intermediate(t, "Private Intermediate", root)
	leaf := certtest.Leaf(t, name, inter)
	otherKey := certtest.ECDSAKey(t, elliptic.P256())
	rsaInter := certtest.New(t, "RSA Intermediate", root, certtest.RSAKey(t, 2048), true)
	unrelated := certtest.Intermediate(t, "Unrelated Intermediate", certtest.Root(t, "Other Root"))

	expired := certtest.Leaf(t, name, inter, certtest.Expired)
	future := certtest.Leaf(t, name, inter, certtest.NotYetValid)
	tooLong := certtest.Leaf(t, name, inter, certtest.ValidFor(11*365*24*time.Hour))
	wrongName := certtest.Leaf(t, "www.other.test", inter)
	weak := certtest.New(t, name, inter, certtest.RSAKey(t, 1024), false)
	curve := certtest.New(t, name, inter, certtest.ECDSAKey(t, elliptic.P521()), false)
	sha1 := certtest.Leaf(t, name, rsaInter, certtest.SHA1)
	selfSigned := certtest.New(t, name, nil, nil, false)

	ok := func(l *certtest.Cert, chain ...*certtest.Cert) issuance.Upload {
		return certtest.Upload(t, l, chain...)
	}
	tests := []struct {
		name     string
		upload   issuance.Upload
		wantErr  []string // substrings, one per expected cause
		wantWarn string
	}{
		{name: "ok/private-root-warns", upload: ok(leaf, inter, root), wantWarn: finding.ChainUntrusted},
		{name: "fail/mismatched-key", upload: func() issuance.Upload {
			u := ok(leaf, inter, root)
			u.PrivateKey = certtest.KeyPEM(t, otherKey)
			return u
		}(), wantErr: []string{"privateKey does not match"}},
		{name: "fail/expired", upload: ok(expired, inter, root), wantErr: []string{"expired on"}},
		{name: "fail/not-yet-valid", upload: ok(future, inter, root), wantErr: []string{"not valid yet"}},
		{name: "fail/expiry-over-10-years", upload: ok(tooLong, inter, root), wantErr: []string{"more than 10 years"}},
		{name: "fail/wrong-name", upload: ok(wrongName, inter, root), wantErr: []string{"does not cover login.acme.test: it is valid for www.other.test"}},
		{name: "fail/rsa-1024", upload: ok(weak, inter, root), wantErr: []string{"weak 1024-bit RSA key"}},
		{name: "fail/ecdsa-p521", upload: ok(curve, inter, root), wantErr: []string{"ECDSA P-521"}},
		{name: "fail/sha1-signature", upload: ok(sha1, rsaInter, root), wantErr: []string{"signed with SHA1-RSA"}},
		{name: "fail/self-signed", upload: ok(selfSigned), wantErr: []string{"self-signed"}},
		{name: "fail/broken-pem", upload: issuance.Upload{Certificate: "-----BEGIN CERTIFICATE-----\nnot base64!\n", PrivateKey: certtest.KeyPEM(t, leaf.Key), Type: "PEM"}, wantErr: []string{"certificate is not PEM"}},
		{name: "fail/broken-key-pem", upload: func() issuance.Upload { u := ok(leaf, inter, root); u.PrivateKey = "garbage"; return u }(), wantErr: []string{"privateKey is not PEM"}},
		{name: "fail/two-keys", upload: func() issuance.Upload {
			u := ok(leaf, inter, root)
			u.PrivateKey = certtest.KeyPEM(t, leaf.Key) + certtest.KeyPEM(t, otherKey)
			return u
		}(), wantErr: []string{"privateKey holds 2 PEM blocks"}},
		{name: "fail/key-with-text-before", upload: func() issuance.Upload {
			u := ok(leaf, inter, root)
			u.PrivateKey = "hidden text\n" + certtest.KeyPEM(t, leaf.Key)
			return u
		}(), wantErr: []string{"privateKey: text before PEM block 1"}},
		{name: "fail/chain-with-text-between", upload: func() issuance.Upload {
			u := ok(leaf, inter, root)
			u.CertificateChain = certtest.PEM(inter) + "not pem\n" + certtest.PEM(root)
			return u
		}(), wantErr: []string{"certificateChain: text before PEM block 2"}},
		{name: "fail/chain-wrong-order", upload: ok(leaf, root, inter), wantErr: []string{"wrong order"}},
		{name: "fail/chain-does-not-link", upload: ok(leaf, unrelated), wantErr: []string{"does not link"}},
		{name: "fail/missing-intermediate", upload: ok(leaf), wantErr: []string{`issued by "CN=Private Intermediate", which is neither in certificateChain nor a public root`}},
		{name: "fail/type-not-pem", upload: func() issuance.Upload { u := ok(leaf, inter, root); u.Type = "DER"; return u }(), wantErr: []string{`type is "DER"`}},
		{name: "fail/two-causes", upload: func() issuance.Upload {
			u := ok(expired, inter, root)
			u.PrivateKey = certtest.KeyPEM(t, otherKey)
			return u
		}(), wantErr: []string{"privateKey does not match", "expired on"}},
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
	c := certtest.New(t, "login.acme.test", nil, nil, false)
	d := issuance.Describe(c.Cert)
	if d.Subject != "CN=login.acme.test" {
		t.Errorf("subject %q, want CN=login.acme.test", d.Subject)
	}
	if len(d.Fingerprint) != 32*3-1 || strings.ToUpper(d.Fingerprint) != d.Fingerprint || strings.Count(d.Fingerprint, ":") != 31 {
		t.Errorf("fingerprint %q, want 32 upper-case hex pairs joined by colons", d.Fingerprint)
	}
	if !d.Expiration.Equal(c.Cert.NotAfter) {
		t.Errorf("expiration %v, want %v", d.Expiration, c.Cert.NotAfter)
	}
	b, _ := json.Marshal(d)
	if !bytes.Contains(b, []byte(`"fingerprint"`)) || !bytes.Contains(b, []byte(`"expiration"`)) {
		t.Errorf("JSON %s lacks the API's field names", b)
	}
}
