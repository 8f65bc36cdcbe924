package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/api"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/issuance/pebbletest"
)

// persistRecord returns the persistent validation record among d's.
func persistRecord(t *testing.T, d e2eDomain) (fqdn, value string) {
	t.Helper()
	for _, r := range d.DNSRecords {
		if r.RecordType == "TXT" && strings.HasPrefix(r.FQDN, "_validation-persist.") {
			if len(r.Values) != 1 {
				t.Fatalf("persistent record %+v: want one value", r)
			}
			return r.FQDN, r.Values[0]
		}
	}
	t.Fatalf("%s: no _validation-persist record among %+v", d.Domain, d.DNSRecords)
	return "", ""
}

// pointElsewhere makes name a CNAME to another provider's host.
func pointElsewhere(world *dnstest.World, name string) {
	world.Remove(name+".", "CNAME")
	world.Set(name + ". 300 IN CNAME old-provider.example.")
}

// TestServeDNSPersistPebble moves a live name to Hallmark with no moment
// of errors, against Pebble whose HTTP-01 and TLS-ALPN-01 validations go
// to ports where nothing listens: only the persistent record
// (dns-persist-01) can validate. The certificate is issued while the
// CNAME points elsewhere and served by SNI; the CNAME flipped, the domain
// is COMPLETED and every handshake meanwhile got that certificate; a
// renewal forced through ARI succeeds without the HTTP path; a wildcard
// domain is served for two labels and an exact name under it wins; the
// account key rolled over keeps the records valid; a wrong record is
// named; deleting tells the tenant to remove the record.
func TestServeDNSPersistPebble(t *testing.T) {
	world := newWorld(t)
	h := &hallmark{httpPort: freePort(t), httpsPort: freePort(t)}
	p := startPebble(t, world, freePort(t), freePort(t), "PEBBLE_VA_NOSLEEP=1")
	startHallmark(t, h, world, append(pebbleFlags(p), "--acme-dns-persist", "--watch-interval", "500ms")...)
	roots := p.Roots()
	origin := strings.TrimSuffix(p.DirURL, "/dir")

	const name = "login.acme.test"
	d := h.create(e2eToken, name, "OKTA_MANAGED")
	fqdn, value := persistRecord(t, d)
	wantPrefix := pebbletest.CAAIdentity + "; accounturi=" + origin + "/my-account/"
	if fqdn != "_validation-persist."+name || !strings.HasPrefix(value, wantPrefix) || strings.ContainsAny(value, `"`) {
		t.Fatalf("persistent record %s %q, want _validation-persist.%s %q…", fqdn, value, name, wantPrefix)
	}
	accountURI := strings.TrimPrefix(value, pebbletest.CAAIdentity+"; accounturi=")
	publish(world, d)
	pointElsewhere(world, name)

	// Ownership and the persistent record in place, the CNAME elsewhere:
	// the certificate comes first.
	h.verify(e2eToken, d.ID)
	d = h.waitDomain(e2eToken, d.ID, 60*time.Second, "a certificate ahead of the CNAME", func(x e2eDomain) bool { return x.PublicCertificate != nil })
	if d.ValidationStatus != "VERIFIED" || !d.CertificateReady || d.StatusDetail != customdomain.ReadyDetail {
		t.Fatalf("status %s ready %v detail %q, want VERIFIED, ready, %q", d.ValidationStatus, d.CertificateReady, d.StatusDetail, customdomain.ReadyDetail)
	}
	if d.CertificateChallenge != "dns-persist-01" || !strings.Contains(d.CertificateChallengeReason, fqdn) {
		t.Errorf("challenge %q (%q), want dns-persist-01 naming %s", d.CertificateChallenge, d.CertificateChallengeReason, fqdn)
	}
	if _, ok := d.finding(finding.DNSCNAMEWrongTarget); !ok {
		t.Errorf("diagnosis %v, want %s saying where the CNAME still points", d.ids(), finding.DNSCNAMEWrongTarget)
	}
	leaf, err := h.handshake(name, roots)
	if err != nil {
		t.Fatalf("handshake with SNI %s before the CNAME moved: %v", name, err)
	}
	if fingerprint(leaf) != d.PublicCertificate.Fingerprint {
		t.Fatalf("the edge serves %s, publicCertificate says %s", fingerprint(leaf), d.PublicCertificate.Fingerprint)
	}

	t.Run("cname-flipped-without-a-gap", func(t *testing.T) {
		var (
			wg             sync.WaitGroup
			stop           = make(chan struct{})
			mu             sync.Mutex
			ok, bad        int
			firstBad       string
			served         = d.PublicCertificate.Fingerprint
			maxHandshakes  = 400
			handshakeEvery = 20 * time.Millisecond
		)
		wg.Go(func() {
			for range maxHandshakes {
				select {
				case <-stop:
					return
				case <-time.After(handshakeEvery):
				}
				got, err := h.handshake(name, roots)
				mu.Lock()
				switch {
				case err != nil:
					bad++
					firstBad = err.Error()
				case fingerprint(got) != served:
					bad++
					firstBad = "served " + fingerprint(got)
				default:
					ok++
				}
				mu.Unlock()
			}
		})
		time.Sleep(100 * time.Millisecond)
		world.Remove(name+".", "CNAME")
		world.Set(name + ". 300 IN CNAME " + e2eTarget + ".")
		c := h.verify(e2eToken, d.ID)
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		if c.ValidationStatus != "COMPLETED" || c.CertificateReady || c.StatusDetail != "" {
			t.Errorf("after the flip: status %s ready %v detail %q, want COMPLETED", c.ValidationStatus, c.CertificateReady, c.StatusDetail)
		}
		if c.PublicCertificate == nil || c.PublicCertificate.Fingerprint != served {
			t.Errorf("publicCertificate %+v, want the certificate served before the flip (%s)", c.PublicCertificate, served)
		}
		if bad > 0 || ok == 0 {
			t.Errorf("handshakes during the flip: %d right, %d wrong (%s); want all right", ok, bad, firstBad)
		}
	})

	t.Run("ari-renewal-without-the-http-path", func(t *testing.T) {
		p.ForceRenewal(leaf)
		r := h.waitDomain(e2eToken, d.ID, 60*time.Second, "a renewed certificate", func(x e2eDomain) bool {
			return x.PublicCertificate != nil && x.PublicCertificate.Fingerprint != d.PublicCertificate.Fingerprint
		})
		if r.CertificateChallenge != "dns-persist-01" {
			t.Errorf("renewal validated by %q, want dns-persist-01", r.CertificateChallenge)
		}
		got, err := h.handshake(name, roots)
		if err != nil || fingerprint(got) != r.PublicCertificate.Fingerprint {
			t.Errorf("after renewal the edge serves %v (%v), want %s", got, err, r.PublicCertificate.Fingerprint)
		}
	})

	t.Run("wildcard-two-labels-exact-wins", func(t *testing.T) {
		w := h.create(e2eToken, "*.apps.acme.test", "OKTA_MANAGED")
		wf, wv := persistRecord(t, w)
		if wf != "_validation-persist.apps.acme.test" || wv != value+"; policy=wildcard" {
			t.Fatalf("wildcard's persistent record %s %q, want _validation-persist.apps.acme.test %q", wf, wv, value+"; policy=wildcard")
		}
		publish(world, w)
		h.verify(e2eToken, w.ID)
		w = h.waitDomain(e2eToken, w.ID, 60*time.Second, "COMPLETED", status("COMPLETED"))
		if w.CertificateChallenge != "dns-persist-01" {
			t.Errorf("wildcard validated by %q, want dns-persist-01", w.CertificateChallenge)
		}
		for _, label := range []string{"a", "b"} {
			got, err := h.handshake(label+".apps.acme.test", roots)
			if err != nil || fingerprint(got) != w.PublicCertificate.Fingerprint {
				t.Errorf("%s.apps.acme.test: served %v (%v), want the wildcard's %s", label, got, err, w.PublicCertificate.Fingerprint)
			}
		}
		x := h.create(e2eToken, "x.apps.acme.test", "OKTA_MANAGED")
		publish(world, x)
		h.verify(e2eToken, x.ID)
		x = h.waitDomain(e2eToken, x.ID, 60*time.Second, "COMPLETED", status("COMPLETED"))
		got, err := h.handshake("x.apps.acme.test", roots)
		if err != nil || fingerprint(got) != x.PublicCertificate.Fingerprint || x.PublicCertificate.Fingerprint == w.PublicCertificate.Fingerprint {
			t.Errorf("x.apps.acme.test: served %v (%v), want its own %s", got, err, x.PublicCertificate.Fingerprint)
		}

		// Deleting tells the tenant to remove the persistent record: in
		// the response (a header beside Okta's empty 204) and the event.
		req, _ := http.NewRequest("DELETE", "http://"+h.api+"/api/v1/domains/"+w.ID, nil)
		req.Header.Set("Authorization", "SSWS "+e2eToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "TXT " + wf + " " + wv
		if got := resp.Header.Values(api.RemoveRecordHeader); resp.StatusCode != 204 || len(got) != 1 || got[0] != want {
			t.Errorf("delete: %d %s %q, want 204 and %q", resp.StatusCode, api.RemoveRecordHeader, got, want)
		}
		evs := h.waitEvents("system.custom_url_domain.delete", w.ID, 1)
		if len(evs) != 1 || !strings.Contains(fmt.Sprint(evs[0]["displayMessage"]), wf) || !strings.Contains(fmt.Sprint(evs[0]["debugContext"]), wv) {
			t.Errorf("delete events %v, want one naming %s and its value", evs, wf)
		}
	})

	t.Run("fail/record-of-another-account", func(t *testing.T) {
		const other = "staging.acme.test"
		s := h.create(e2eToken, other, "OKTA_MANAGED")
		publish(world, s)
		pointElsewhere(world, other)
		world.Remove("_validation-persist."+other+".", "TXT")
		world.Set(fmt.Sprintf("_validation-persist.%s. 300 IN TXT %q", other, pebbletest.CAAIdentity+"; accounturi=https://acme-staging.example/acct/1"))
		got := h.verify(e2eToken, s.ID)
		f, ok := got.finding(finding.DNSPersistAccountMismatch)
		if !ok || !strings.Contains(f, accountURI) {
			t.Errorf("diagnosis %v, want %s whose fix names %s", got.ids(), finding.DNSPersistAccountMismatch, accountURI)
		}
		if got.ValidationStatus == "VERIFIED" || got.PublicCertificate != nil {
			t.Errorf("status %s with certificate %v, want no pre-validation through a record of another account", got.ValidationStatus, got.PublicCertificate)
		}
	})

	t.Run("account-key-rollover-keeps-the-records", func(t *testing.T) {
		var out struct {
			AccountURL string `json:"accountUrl"`
		}
		if st := h.call("POST", "/api/v1/acme/account/keyRollover", e2eToken, nil, &out); st != 200 || out.AccountURL != accountURI {
			t.Fatalf("rollover: %d %q, want 200 and the account %s", st, out.AccountURL, accountURI)
		}
		if evs := h.waitEvents(api.AccountKeyRolloverEvent, accountURI, 1); len(evs) != 1 {
			t.Errorf("%s events for %s: %d, want 1", api.AccountKeyRolloverEvent, accountURI, len(evs))
		}
		const after = "after.acme.test"
		a := h.create(e2eToken, after, "OKTA_MANAGED")
		if _, v := persistRecord(t, a); v != value {
			t.Fatalf("record after rollover %q, want the same %q", v, value)
		}
		publish(world, a)
		pointElsewhere(world, after)
		h.verify(e2eToken, a.ID)
		a = h.waitDomain(e2eToken, a.ID, 60*time.Second, "a certificate ahead of the CNAME", func(x e2eDomain) bool { return x.PublicCertificate != nil })
		if a.CertificateChallenge != "dns-persist-01" {
			t.Errorf("after rollover validated by %q, want dns-persist-01", a.CertificateChallenge)
		}
	})
}
