package main

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/issuance/pebbletest"
)

// startPebble runs Pebble with its validations sent to the edge's ports
// and its DNS to a dnstest world.
func startPebble(t *testing.T, world *dnstest.World, httpPort, tlsPort int, env ...string) *pebbletest.Pebble {
	t.Helper()
	return pebbletest.Start(t, pebbletest.Config{DNSServer: world.Resolvers()[0], HTTPPort: httpPort, TLSPort: tlsPort, Env: env})
}

// pebbleFlags are the serve flags that select Pebble.
func pebbleFlags(p *pebbletest.Pebble) []string {
	return []string{"--acme-directory", p.DirURL, "--acme-ca-root", p.RootFile, "--acme-email", "ops@hallmark.test",
		"--acme-eab-kid", p.EAB.KeyID, "--acme-eab-hmac", p.EAB.HMACKey}
}

// TestServeACMEPebble is Story 1 to the end against Pebble, through the
// API: create, publish, verify, COMPLETED, a handshake that verifies
// against Pebble's root, a renewal forced through ARI served without a
// restart; then each fault gives its finding and recovers when removed.
func TestServeACMEPebble(t *testing.T) {
	world := newWorld(t)
	h := &hallmark{httpPort: freePort(t), httpsPort: freePort(t)}
	p := startPebble(t, world, h.httpPort, h.httpsPort, "PEBBLE_VA_NOSLEEP=1")
	startHallmark(t, h, world, append(pebbleFlags(p), "--watch-interval", "500ms")...)

	const name = "login.acme.test"
	d := h.create(e2eToken, name, "OKTA_MANAGED")
	publish(world, d)
	h.verify(e2eToken, d.ID)
	d = h.waitDomain(e2eToken, d.ID, 60*time.Second, "COMPLETED", status("COMPLETED"))
	leaf, err := h.handshake(name, p.Roots())
	if err != nil {
		t.Fatalf("handshake with SNI %s verified against Pebble's root: %v", name, err)
	}
	if fp := fingerprint(leaf); d.PublicCertificate == nil || d.PublicCertificate.Fingerprint != fp {
		t.Fatalf("publicCertificate %+v, the edge serves %s", d.PublicCertificate, fp)
	}

	t.Run("ari-renewal-served-without-restart", func(t *testing.T) {
		p.ForceRenewal(leaf)
		r := h.waitDomain(e2eToken, d.ID, 60*time.Second, "a renewed certificate", func(x e2eDomain) bool {
			return x.PublicCertificate != nil && x.PublicCertificate.Fingerprint != d.PublicCertificate.Fingerprint
		})
		got, err := h.handshake(name, p.Roots())
		if err != nil {
			t.Fatal(err)
		}
		if fingerprint(got) != r.PublicCertificate.Fingerprint {
			t.Errorf("the edge serves %s, publicCertificate says %s", fingerprint(got), r.PublicCertificate.Fingerprint)
		}
		if evs := h.waitEvents("system.custom_url_domain.cert_renew", d.ID, 1); len(evs) != 1 {
			t.Errorf("cert_renew events: %d, want 1", len(evs))
		}
	})

	// each fault: a fresh name, the fault in place before verification;
	// its finding in the diagnosis and a cert_provision FAILURE event; the
	// fault removed and verify pressed again: COMPLETED.
	fault := func(t *testing.T, name, wantID string, inject, remove func(), check func(finding string)) {
		inject()
		d := h.create(e2eToken, name, "OKTA_MANAGED")
		publish(world, d)
		h.verify(e2eToken, d.ID)
		got := h.waitDomain(e2eToken, d.ID, 60*time.Second, wantID, hasFinding(wantID))
		if got.ValidationStatus != "VERIFIED" {
			t.Errorf("status %s, want VERIFIED while issuance fails", got.ValidationStatus)
		}
		f, _ := got.finding(wantID)
		check(f)
		evs := h.waitEvents("system.custom_url_domain.cert_provision", d.ID, 1)
		if len(evs) == 0 || !strings.Contains(fmt.Sprint(evs[0]), wantID) {
			t.Errorf("cert_provision events %v, want a FAILURE carrying %s", evs, wantID)
		}
		remove()
		h.verify(e2eToken, d.ID)
		h.waitDomain(e2eToken, d.ID, 60*time.Second, "COMPLETED after the fault is removed", status("COMPLETED"))
		if _, err := h.handshake(name, p.Roots()); err != nil {
			t.Errorf("handshake after recovery: %v", err)
		}
	}

	t.Run("fault/caa-forbids-issuer", func(t *testing.T) {
		fault(t, "caa.acme.test", "caa.forbids_issuer",
			func() { world.Set(`@ 300 IN CAA 0 issue "other-ca.example"`) },
			func() { world.Remove("@", "CAA") },
			func(f string) {
				if !strings.Contains(f, `CAA 0 issue \"pebble.letsencrypt.org\"`) {
					t.Errorf("finding %s, want the record that would allow pebble.letsencrypt.org", f)
				}
			})
	})
	t.Run("fault/challenge-unreachable", func(t *testing.T) {
		// An A record at the resolver the CA asks (not at the
		// authoritative servers, where verification would rightly call an
		// A beside the CNAME dns.cname_conflict) sends the CA's validation
		// to 127.0.0.2, where nothing listens.
		fault(t, "flaky.acme.test", "acme.challenge_failed",
			func() { world.SetOn(dnstest.Resolver, "flaky 300 IN A 127.0.0.2") },
			func() { world.Remove("flaky", "A") },
			func(f string) {
				if !strings.Contains(f, "127.0.0.2") {
					t.Errorf("finding %s, want what the CA reached (127.0.0.2)", f)
				}
			})
	})
	t.Run("fault/ca-stopped", func(t *testing.T) {
		fault(t, "down.acme.test", "acme.unreachable",
			p.Stop,
			p.Start, // a new Pebble: new root, and it forgot our account
			func(f string) {
				if !strings.Contains(f, p.DirURL) && !strings.Contains(f, "127.0.0.1") {
					t.Errorf("finding %s, want the directory it could not reach", f)
				}
			})
	})
}

func fingerprint(c *x509.Certificate) string {
	var b strings.Builder
	sum := sha256Sum(c.Raw)
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}
