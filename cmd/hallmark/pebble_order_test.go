package main

import (
	"testing"
	"time"
)

// TestServeOneOrderAtATime presses verify again and again while the first
// ACME order of a name is in flight at Pebble: the CA issues exactly one
// certificate for the name (one order is sent), and one is provisioned.
func TestServeOneOrderAtATime(t *testing.T) {
	world := newWorld(t)
	h := &hallmark{httpPort: freePort(t), httpsPort: freePort(t)}
	p := startPebble(t, world, h.httpPort, h.httpsPort, "PEBBLE_VA_NOSLEEP=1")
	startHallmark(t, h, world, pebbleFlags(p)...)

	const name = "login.acme.test"
	const presses = 20
	d := h.create(e2eToken, name, "OKTA_MANAGED")
	publish(world, d)
	h.verify(e2eToken, d.ID)
	// lego polls the authorization 5s after presenting its answer, so the
	// order is in flight for seconds: press verify across them.
	inFlight := 0
	for range presses {
		if v := h.verify(e2eToken, d.ID); v.ValidationStatus == "VERIFIED" {
			inFlight++
		}
		time.Sleep(150 * time.Millisecond)
	}
	if inFlight == 0 {
		t.Fatalf("every verify came after the certificate: no press landed while the order was in flight (the case under test)")
	}
	got := h.waitDomain(e2eToken, d.ID, 60*time.Second, "COMPLETED", status("COMPLETED"))
	// Presses after the certificate order nothing new either.
	for range 3 {
		h.verify(e2eToken, d.ID)
	}
	time.Sleep(2 * time.Second) // a second order, had one been started, would be at Pebble by now
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble was sent %d orders for %s after %d presses (%d while the order was in flight), want 1", n, name, presses, inFlight)
	}
	if n := p.Issued(); n != 1 {
		t.Errorf("Pebble issued %d certificates for %s after %d presses (%d while the order was in flight), want 1", n, name, presses, inFlight)
	}
	if evs := h.waitEvents("system.custom_url_domain.cert_provision", d.ID, 1); len(evs) != 1 {
		t.Errorf("cert_provision events: %d, want 1", len(evs))
	}
	leaf, err := h.handshake(name, p.Roots())
	if err != nil {
		t.Fatal(err)
	}
	if fingerprint(leaf) != got.PublicCertificate.Fingerprint {
		t.Errorf("the edge serves %s, publicCertificate says %s", fingerprint(leaf), got.PublicCertificate.Fingerprint)
	}
}
