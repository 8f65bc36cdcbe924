package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store"
)

func sampleRecord(name, fp string) issuance.Record {
	return issuance.Record{
		Name: name, Issuer: "acme",
		ChainPEM:  []byte("-----BEGIN CERTIFICATE-----\n" + fp + "\n-----END CERTIFICATE-----\n"),
		SealedKey: []byte{1, 2, 3, 0, 255, byte(len(fp))},
		NotBefore: t0, NotAfter: t0.Add(90 * 24 * time.Hour), RenewAt: t0.Add(60 * 24 * time.Hour),
		Fingerprint: fp,
		Challenge:   issuance.DNSPersist01, ChallengeReason: "the persistent record _validation-persist." + name + " is in place",
	}
}

func sameRecord(t *testing.T, got, want issuance.Record) {
	t.Helper()
	if got.Name != want.Name || got.Issuer != want.Issuer || got.Fingerprint != want.Fingerprint ||
		!bytes.Equal(got.ChainPEM, want.ChainPEM) || !bytes.Equal(got.SealedKey, want.SealedKey) ||
		!got.NotBefore.Equal(want.NotBefore) || !got.NotAfter.Equal(want.NotAfter) ||
		!got.RenewAt.Equal(want.RenewAt) || got.RenewAt.IsZero() != want.RenewAt.IsZero() ||
		got.Challenge != want.Challenge || got.ChallengeReason != want.ChallengeReason {
		t.Errorf("certificate:\n got %+v\nwant %+v", got, want)
	}
}

func runCertificates(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("certificate-put-get-replace-delete", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if _, err := s.Certificate(ctx, "login.acme.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("before put: got %v, want ErrNotFound", err)
		}
		a := sampleRecord("login.acme.com", "AA:01")
		if err := s.PutCertificate(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.Certificate(ctx, "login.acme.com")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, got, a)

		// A manual certificate (no renewal time) replaces it as a whole.
		b := sampleRecord("login.acme.com", "BB:02")
		b.Issuer, b.RenewAt, b.Challenge, b.ChallengeReason = "manual", time.Time{}, "", ""
		if err := s.PutCertificate(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err = s.Certificate(ctx, "login.acme.com")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, got, b)

		if err := s.DeleteCertificate(ctx, "login.acme.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Certificate(ctx, "login.acme.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteCertificate(ctx, "login.acme.com"); err != nil {
			t.Errorf("deleting a missing certificate: got %v, want nil", err)
		}
	})

	t.Run("certificate-concurrent-replace-keeps-one-whole-record", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		recs := []issuance.Record{sampleRecord("a.acme.com", "01"), sampleRecord("a.acme.com", "02")}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if err := s.PutCertificate(ctx, recs[i%2]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := s.Certificate(ctx, "a.acme.com")
		if err != nil {
			t.Fatal(err)
		}
		want := recs[0]
		if got.Fingerprint == "02" {
			want = recs[1]
		}
		sameRecord(t, got, want) // never the chain of one and the key of the other
	})

	t.Run("certificate-replace-only-over-prev", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		a := sampleRecord("r.acme.com", "AA:01")
		if err := s.ReplaceCertificate(ctx, a, "XX:99"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("replacing a missing certificate named XX:99: got %v, want ErrConflict", err)
		}
		if err := s.ReplaceCertificate(ctx, a, ""); err != nil {
			t.Fatalf("first certificate (prev \"\"): %v", err)
		}
		// An upload lands while an order for r.acme.com is in flight.
		up := sampleRecord("r.acme.com", "UP:02")
		up.Issuer, up.RenewAt = "manual", time.Time{}
		if err := s.PutCertificate(ctx, up); err != nil {
			t.Fatal(err)
		}
		renewed := sampleRecord("r.acme.com", "BB:03")
		for _, prev := range []string{"", "AA:01"} {
			if err := s.ReplaceCertificate(ctx, renewed, prev); !errors.Is(err, store.ErrConflict) {
				t.Errorf("renewal over prev %q after the upload: got %v, want ErrConflict", prev, err)
			}
		}
		got, err := s.Certificate(ctx, "r.acme.com")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, got, up)
		if err := s.ReplaceCertificate(ctx, renewed, "UP:02"); err != nil {
			t.Fatalf("replacing over the stored fingerprint: %v", err)
		}
		got, _ = s.Certificate(ctx, "r.acme.com")
		sameRecord(t, got, renewed)
	})

	t.Run("account-put-get", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		dir := "https://ca.example/dir"
		if _, err := s.Account(ctx, dir); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("before put: got %v, want ErrNotFound", err)
		}
		a := issuance.Account{DirectoryURL: dir, Email: "ops@acme.com", URL: "https://ca.example/acct/1", SealedKey: []byte{9, 8, 7}}
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.URL, a.SealedKey = "https://ca.example/acct/2", []byte{6, 5} // re-registered
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.Account(ctx, dir)
		if err != nil || got.URL != a.URL || got.Email != a.Email || !bytes.Equal(got.SealedKey, a.SealedKey) {
			t.Errorf("got %+v, %v, want %+v", got, err, a)
		}
		if _, err := s.Account(ctx, "https://other.example/dir"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("other directory: got %v, want ErrNotFound", err)
		}
	})

	t.Run("challenges", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		exp := time.Now().Add(time.Hour)
		if err := s.PutChallenge(ctx, issuance.Challenge{Type: issuance.HTTP01, Key: "tok1", Name: "a.acme.com", KeyAuth: "tok1.thumb", Expires: exp}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutChallenge(ctx, issuance.Challenge{Type: issuance.TLSALPN01, Key: "B.Acme.com", Name: "B.Acme.com", KeyAuth: "alpn.thumb", Expires: exp}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.HTTP01KeyAuth(ctx, "tok1"); err != nil || got != "tok1.thumb" {
			t.Errorf("http-01: got %q, %v", got, err)
		}
		if _, err := s.HTTP01KeyAuth(ctx, "TOK1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("http-01 tokens are case-sensitive: got %v, want ErrNotFound", err)
		}
		if got, err := s.TLSALPN01KeyAuth(ctx, "b.ACME.com"); err != nil || got != "alpn.thumb" {
			t.Errorf("tls-alpn-01 by name in any case: got %q, %v", got, err)
		}
		if _, err := s.TLSALPN01KeyAuth(ctx, "tok1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("types are separate: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteChallenge(ctx, issuance.TLSALPN01, "B.ACME.COM"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TLSALPN01KeyAuth(ctx, "b.acme.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteChallenge(ctx, issuance.HTTP01, "missing"); err != nil {
			t.Errorf("deleting a missing challenge: got %v, want nil", err)
		}
	})

	t.Run("challenges-expired-are-absent-and-deleted", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		past := time.Now().Add(-time.Minute)
		if err := s.PutChallenge(ctx, issuance.Challenge{Type: issuance.HTTP01, Key: "old", Name: "a.acme.com", KeyAuth: "old.x", Expires: past}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.HTTP01KeyAuth(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired answer: got %v, want ErrNotFound", err)
		}
		// Putting another answer is when backends delete expired ones
		// (sqlite's own test counts the rows); the live one is unaffected.
		if err := s.PutChallenge(ctx, issuance.Challenge{Type: issuance.HTTP01, Key: "new", Name: "a.acme.com", KeyAuth: "new.x", Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.HTTP01KeyAuth(ctx, "new"); err != nil || got != "new.x" {
			t.Errorf("live answer: got %q, %v", got, err)
		}
	})
}
