package issuance_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/issuance/pebbletest"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// TestACMEPersistAgainstPebble: orders validated through the persistent
// record (dns-persist-01) with Pebble's HTTP-01 and TLS-ALPN-01 ports
// closed: the record names the issuer domain of the directory and the
// account URL exactly as stored; exact and wildcard names are issued;
// each record the CA rejects gives the finding of its mistake; a key
// rollover keeps the URL, seals a new key and goes on issuing.
func TestACMEPersistAgainstPebble(t *testing.T) {
	world := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "persist.test.", Nameservers: 1})
	p := pebbletest.Start(t, pebbletest.Config{DNSServer: world.Resolvers()[0], HTTPPort: pebbletest.FreePort(t),
		TLSPort: pebbletest.FreePort(t), Env: []string{"PEBBLE_VA_NOSLEEP=1"}})
	box, _ := sealed.New(bytes.Repeat([]byte{5}, 32))
	st := issuance.NewMemStore()
	a, err := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: p.DirURL, EAB: &p.EAB, Roots: p.ListenerRoots,
		Challenges: []issuance.ChallengeType{issuance.DNSPersist01}, Timeout: 30 * time.Second}, box, st, st)
	if err != nil {
		t.Fatal(err)
	}
	if !a.IssuesWildcards() {
		t.Error("IssuesWildcards is false with dns-persist-01 configured")
	}
	id, err := a.PersistIdentity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.Account(t.Context(), p.DirURL)
	if err != nil {
		t.Fatal(err)
	}
	if id.IssuerDomain != pebbletest.CAAIdentity || id.AccountURI != acct.URL || acct.URL == "" {
		t.Fatalf("identity %+v, want issuer %s and the stored account %s", id, pebbletest.CAAIdentity, acct.URL)
	}
	txt := func(name, value string) {
		world.Set(fmt.Sprintf("%s. 300 IN TXT %q", issuance.PersistName(name), value))
	}
	issue := func(name string) (*issuance.Issued, error) {
		return a.Issue(t.Context(), issuance.Request{Name: name, Challenge: issuance.DNSPersist01, Reason: "test"})
	}

	for _, name := range []string{"login.persist.test", "*.apps.persist.test"} {
		t.Run("ok/"+name, func(t *testing.T) {
			txt(name, id.Value(name[0] == '*'))
			iss, err := issue(name)
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			if iss.Challenge != issuance.DNSPersist01 || !slices.Contains(iss.Leaf().DNSNames, name) {
				t.Errorf("issued %v by %q, want %s by dns-persist-01", iss.Leaf().DNSNames, iss.Challenge, name)
			}
		})
	}

	past := time.Now().Add(-time.Hour).Unix()
	for _, tc := range []struct {
		name, value, want string
	}{
		{"account.persist.test", id.IssuerDomain + "; accounturi=https://acme-staging.example/acct/1", finding.DNSPersistAccountMismatch},
		{"*.policy.persist.test", id.Value(false), finding.DNSPersistPolicyMissing},
		{"until.persist.test", fmt.Sprintf("%s; persistUntil=%d", id.Value(false), past), finding.DNSPersistExpired},
		{"missing.persist.test", "", finding.DNSPersistMissing},
		{"issuer.persist.test", "letsencrypt.org; accounturi=" + id.AccountURI, finding.DNSPersistIssuerMismatch},
		{"malformed.persist.test", id.Value(false) + ";", finding.DNSPersistMalformed},
	} {
		t.Run("fail/"+tc.want, func(t *testing.T) {
			if tc.value != "" {
				txt(tc.name, tc.value)
			}
			_, err := issue(tc.name)
			var ie *issuance.Error
			if !errors.As(err, &ie) || len(ie.Findings) != 1 || ie.Findings[0].ID != tc.want {
				t.Fatalf("got %v, want one finding %s", err, tc.want)
			}
			if f := ie.Findings[0]; f.Severity != finding.Error || f.Fix == "" || f.Evidence["name"] != issuance.PersistName(tc.name) {
				t.Errorf("finding %+v: want an error naming %s with a fix", f, issuance.PersistName(tc.name))
			}
		})
	}

	t.Run("rollover", func(t *testing.T) {
		// Another node, with the old key in memory.
		other, _ := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: p.DirURL, EAB: &p.EAB, Roots: p.ListenerRoots,
			Challenges: []issuance.ChallengeType{issuance.DNSPersist01}, Timeout: 30 * time.Second}, box, st, st)
		if _, err := other.Issue(t.Context(), issuance.Request{Name: "login.persist.test", Challenge: issuance.DNSPersist01}); err != nil {
			t.Fatalf("issue from the other node before the rollover: %v", err)
		}
		url, err := a.Rollover(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		after, err := st.Account(t.Context(), p.DirURL)
		if err != nil {
			t.Fatal(err)
		}
		if url != acct.URL || after.URL != acct.URL || bytes.Equal(after.SealedKey, acct.SealedKey) || bytes.Contains(after.SealedKey, []byte("PRIVATE")) {
			t.Fatalf("after rollover: URL %s (stored %s), key changed %v; want the same URL %s and a new sealed key",
				url, after.URL, !bytes.Equal(after.SealedKey, acct.SealedKey), acct.URL)
		}
		if _, err := issue("login.persist.test"); err != nil {
			t.Fatalf("issue with the new key: %v", err)
		}
		// A fresh issuer reads the stored (new) key: the CA knows it.
		b, _ := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: p.DirURL, EAB: &p.EAB, Roots: p.ListenerRoots,
			Challenges: []issuance.ChallengeType{issuance.DNSPersist01}, Timeout: 30 * time.Second}, box, st, st)
		if _, err := b.Issue(t.Context(), issuance.Request{Name: "login.persist.test", Challenge: issuance.DNSPersist01}); err != nil {
			t.Fatalf("issue from the stored key: %v", err)
		}
		// The other node's old key no longer works; it picks up the
		// stored one and the order goes through.
		if _, err := other.Issue(t.Context(), issuance.Request{Name: "login.persist.test", Challenge: issuance.DNSPersist01}); err != nil {
			t.Fatalf("issue from the other node after the rollover: %v", err)
		}
		if got, _ := st.Account(t.Context(), p.DirURL); got.URL != acct.URL {
			t.Errorf("the stored account moved to %s, want %s (no new registration)", got.URL, acct.URL)
		}
	})
}
