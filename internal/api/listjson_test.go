package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestListPageJSON pins the exact bytes of a page of GET /api/v1/domains
// (and its Link headers): every field the view can carry, a certificate,
// a diagnosis with characters encoding/json escapes, and each status.
// Speeding the list up must not change one byte.
func TestListPageJSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	at := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	ds := []customdomain.Domain{
		{
			ID: "dom00000000000000001", Name: "login.acme.test", CertSource: customdomain.Managed,
			Status: customdomain.InProgress, Token: "tok-in-progress", BrandID: "bndOne",
			Created: at, Updated: at, WindowStart: at, LastChecked: at.Add(time.Minute), NextCheck: at.Add(time.Hour),
			Attempts: 3,
			Diagnosis: []finding.Finding{{
				ID: finding.DNSResolveFailed, Severity: "error", Summary: `TXT "x" <missing> & stale`,
				Detail: "line\nbreak \u2028 é", Fix: "publish it",
				Evidence: map[string]any{"name": "_okta.login.acme.test", "answers": []any{"a", 1.5}, "z": nil},
			}},
		},
		{
			ID: "dom00000000000000002", Name: "verified.acme.test", CertSource: customdomain.Managed,
			Status: customdomain.Verified, Token: "tok-verified", BrandID: "bndOne",
			Created: at, Updated: at, WindowStart: at, VerifiedAt: at.Add(2 * time.Minute),
			NextCheck: at.Add(24 * time.Hour), IssueAttempts: 2, IssueRetryAt: at.Add(3 * time.Hour),
		},
		{
			ID: "dom00000000000000003", Name: "done.acme.test", CertSource: customdomain.Manual,
			Status: customdomain.Completed, Token: "tok-done", BrandID: "bndTwo",
			Created: at, Updated: at, WindowStart: at, VerifiedAt: at, MovedSince: at.Add(5 * time.Hour),
		},
		{
			ID: "dom00000000000000004", Name: "failed.acme.test", CertSource: customdomain.Manual,
			Status: customdomain.FailedToVerify, Token: "tok-failed",
			Created: at, Updated: at, WindowStart: at.Add(-72 * time.Hour), Attempts: 9,
		},
		{
			ID: "dom00000000000000005", Name: "*.wild.acme.test", CertSource: customdomain.Managed,
			Status: customdomain.Completed, Token: "tok-wild", BrandID: "bndOne",
			Created: at, Updated: at, WindowStart: at, VerifiedAt: at,
		},
	}
	for _, d := range ds {
		if err := e.store.CreateDomain(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	for _, rec := range []issuance.Record{
		{Name: "verified.acme.test", Issuer: "acme", ChainPEM: []byte("chain"), SealedKey: []byte("key"),
			NotBefore: at, NotAfter: at.Add(90 * 24 * time.Hour), Fingerprint: "AA:BB", Subject: "CN=verified.acme.test",
			RenewAt: at.Add(60 * 24 * time.Hour), Challenge: "dns-persist-01", ChallengeReason: "no <port> 80 & no 443"},
		{Name: "done.acme.test", Issuer: "manual", ChainPEM: []byte("chain"), SealedKey: []byte("key"),
			NotBefore: at, NotAfter: at.Add(30 * 24 * time.Hour), Fingerprint: "CC:DD", Subject: "CN=done.acme.test"},
		// A certificate of a name whose domain has not proven it is not shown.
		{Name: "failed.acme.test", Issuer: "manual", ChainPEM: []byte("chain"), SealedKey: []byte("key"),
			NotBefore: at, NotAfter: at.Add(30 * 24 * time.Hour), Fingerprint: "EE:FF", Subject: "CN=failed.acme.test"},
	} {
		if err := e.store.PutCertificate(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}

	h := e.srv.Config.Handler
	var got bytes.Buffer
	var lastBody []byte // the page of every domain
	for _, q := range []string{"?limit=2", "?limit=2&after=dom00000000000000002", "?limit=2&after=dom00000000000000004", ""} {
		req := httptest.NewRequest("GET", "/api/v1/domains"+q, nil)
		req.Header.Set("Authorization", "SSWS "+e.operator)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got.WriteString("GET /api/v1/domains" + q + "\n")
		got.WriteString("Status: " + strconv.Itoa(rec.Code) + "\n")
		got.WriteString("Content-Type: " + rec.Header().Get("Content-Type") + "\n")
		for _, l := range rec.Header().Values("Link") {
			got.WriteString("Link: " + l + "\n")
		}
		got.Write(rec.Body.Bytes())
		got.WriteString("\n")
		lastBody = rec.Body.Bytes()
	}
	// The list reads fewer columns than GET (ViewLister): each domain of
	// a page must still read as GET /api/v1/domains/{id} shows it.
	var page struct{ Domains []json.RawMessage }
	if err := json.Unmarshal(lastBody, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Domains) != len(ds) {
		t.Fatalf("page of %d domains, want %d", len(page.Domains), len(ds))
	}
	for i, d := range ds {
		req := httptest.NewRequest("GET", "/api/v1/domains/"+d.ID, nil)
		req.Header.Set("Authorization", "SSWS "+e.operator)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got, want := string(page.Domains[i]), strings.TrimSuffix(rec.Body.String(), "\n"); got != want {
			t.Errorf("domain %s in the list:\n%s\nwant what GET shows:\n%s", d.ID, got, want)
		}
	}

	golden := filepath.Join("testdata", "list_page.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("list pages differ from %s:\ngot:\n%s\nwant:\n%s", golden, got.Bytes(), want)
	}
}
