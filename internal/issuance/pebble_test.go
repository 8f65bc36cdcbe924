package issuance_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/issuance/certtest"
	"github.com/hallmark-dev/hallmark/internal/issuance/pebbletest"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// testDNS answers A queries like a recursive resolver would for Pebble:
// names under "unreachable." resolve to 127.0.0.2, where nothing listens;
// everything else to 127.0.0.1. TCP only, as Pebble asks.
func testDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		for _, qq := range q.Question {
			if qq.Qtype != dns.TypeA {
				continue // AAAA, CAA…: NOERROR, no data
			}
			ip := "127.0.0.1"
			if strings.HasPrefix(qq.Name, "unreachable.") {
				ip = "127.0.0.2"
			}
			rr, _ := dns.NewRR(fmt.Sprintf("%s 60 IN A %s", qq.Name, ip))
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{Listener: ln, Net: "tcp", Handler: h}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

func TestACMEAgainstPebble(t *testing.T) {
	box, _ := sealed.New(bytes.Repeat([]byte{3}, 32))
	st := issuance.NewMemStore()
	e, err := edge.New(edge.Config{}, certtest.EdgeSource{Certs: st, Box: box, OrgName: "Acme"}, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Serve(ctx, httpsLn, httpLn) }()
	t.Cleanup(func() { cancel(); <-served })

	p := pebbletest.Start(t, pebbletest.Config{DNSServer: testDNS(t), HTTPPort: httpLn.Addr().(*net.TCPAddr).Port,
		TLSPort: httpsLn.Addr().(*net.TCPAddr).Port, Env: []string{"PEBBLE_VA_NOSLEEP=1"}})
	newIssuer := func(ch issuance.ChallengeType) *issuance.ACME {
		a, err := issuance.NewACME(issuance.ACMEConfig{
			DirectoryURL: p.DirURL, Email: "ops@example.test", EAB: &p.EAB, Roots: p.ListenerRoots,
			Challenges: []issuance.ChallengeType{ch}, Timeout: 30 * time.Second,
		}, box, st, st)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	handshake := func(name string, roots *x509.CertPool) (*x509.Certificate, error) {
		d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots}}
		conn, err := d.DialContext(t.Context(), "tcp", httpsLn.Addr().String())
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
	}
	obtain := func(a *issuance.ACME, name string, replaces *x509.Certificate) issuance.Record {
		t.Helper()
		iss, err := a.Issue(t.Context(), issuance.Request{Name: name, Replaces: replaces})
		if err != nil {
			t.Fatalf("issue %s: %v", name, err)
		}
		plan := issuance.PlanRenewal(iss.Leaf(), nil, time.Now(), nil)
		rec, err := issuance.Seal(box, iss, plan.At)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutCertificate(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		e.Invalidate(name) // what the lifecycle does after storing
		return rec
	}

	httpIssuer := newIssuer(issuance.HTTP01)
	name := "www.e2e.test"
	if _, err := handshake(name, nil); err == nil {
		t.Fatal("handshake before issuance succeeded")
	}
	rec := obtain(httpIssuer, name, nil)
	pebbleRoots := p.Roots()
	leaf, err := handshake(name, pebbleRoots)
	if err != nil {
		t.Fatalf("handshake with SNI %s verified against Pebble's root: %v", name, err)
	}
	if got := issuance.Fingerprint(leaf); got != rec.Fingerprint {
		t.Errorf("served fingerprint %s, want the issued %s", got, rec.Fingerprint)
	}
	if acct, err := st.Account(t.Context(), p.DirURL); err != nil || acct.URL == "" || bytes.Contains(acct.SealedKey, []byte("PRIVATE")) {
		t.Errorf("stored account: %+v, %v; want a URL and a sealed key", acct.URL, err)
	}

	t.Run("ari-renewal", func(t *testing.T) {
		w, _, err := httpIssuer.RenewalWindow(t.Context(), leaf)
		if err != nil {
			t.Fatalf("renewal window: %v", err)
		}
		if !w.Start.After(time.Now()) {
			t.Errorf("fresh certificate's window starts %v, want in the future", w.Start)
		}
		p.ForceRenewal(leaf) // a window in the past, through Pebble's management API
		w, _, err = httpIssuer.RenewalWindow(t.Context(), leaf)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		plan := issuance.PlanRenewal(leaf, &w, now, nil)
		if plan.Reason != "ari" || plan.At.After(now) {
			t.Fatalf("plan: got %+v, want ari now", plan)
		}
		renewed := obtain(httpIssuer, name, leaf)
		got, err := handshake(name, pebbleRoots)
		if err != nil {
			t.Fatal(err)
		}
		if issuance.Fingerprint(got) != renewed.Fingerprint || renewed.Fingerprint == rec.Fingerprint {
			t.Errorf("after renewal the edge serves %s, want the renewed %s", issuance.Fingerprint(got), renewed.Fingerprint)
		}
	})

	t.Run("tls-alpn-01", func(t *testing.T) {
		obtain(newIssuer(issuance.TLSALPN01), "alpn.e2e.test", nil)
		if _, err := handshake("ALPN.e2e.test", pebbleRoots); err != nil {
			t.Fatalf("handshake: %v", err)
		}
	})

	t.Run("fail/challenge-unreachable", func(t *testing.T) {
		_, err := httpIssuer.Issue(t.Context(), issuance.Request{Name: "unreachable.e2e.test"})
		var ie *issuance.Error
		if !errors.As(err, &ie) {
			t.Fatalf("got %v, want *issuance.Error", err)
		}
		if got := finding.IDs(ie.Findings); len(got) != 1 || got[0] != finding.ACMEChallengeFailed {
			t.Fatalf("findings %v, want [%s]", got, finding.ACMEChallengeFailed)
		}
		if !strings.Contains(ie.Findings[0].Detail, "127.0.0.2") {
			t.Errorf("detail %q, want what the CA reached (127.0.0.2)", ie.Findings[0].Detail)
		}
	})

	t.Run("fail/unreachable-ca", func(t *testing.T) {
		a, _ := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: fmt.Sprintf("https://127.0.0.1:%d/dir", pebbletest.FreePort(t)), Roots: p.ListenerRoots}, box, issuance.NewMemStore(), st)
		_, err := a.Issue(t.Context(), issuance.Request{Name: "x.e2e.test"})
		var ie *issuance.Error
		if !errors.As(err, &ie) || ie.Findings[0].ID != finding.ACMEUnreachable {
			t.Fatalf("got %v, want %s", err, finding.ACMEUnreachable)
		}
	})

	t.Run("fail/untrusted-ca", func(t *testing.T) {
		a, _ := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: p.DirURL, Roots: x509.NewCertPool()}, box, issuance.NewMemStore(), st)
		_, err := a.Issue(t.Context(), issuance.Request{Name: "x.e2e.test"})
		var ie *issuance.Error
		if !errors.As(err, &ie) || ie.Findings[0].ID != finding.ACMEUnreachable || !strings.Contains(ie.Findings[0].Fix, "--acme-ca-root") {
			t.Fatalf("got %v, want %s naming --acme-ca-root", err, finding.ACMEUnreachable)
		}
	})
}
