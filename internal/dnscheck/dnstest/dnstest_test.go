package dnstest_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
)

func ask(t *testing.T, addr, name string, qtype uint16, tcp bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	if tcp {
		c.Net = "tcp"
	}
	r, _, err := c.ExchangeContext(t.Context(), m, addr)
	if err != nil {
		t.Fatalf("%s %s to %s: %v", dns.TypeToString[qtype], name, addr, err)
	}
	return r
}

func TestWorld(t *testing.T) {
	w := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "Acme.Test", Nameservers: 3})
	if got, want := w.Zone(), "acme.test."; got != want {
		t.Fatalf("got zone %q, want %q", got, want)
	}
	w.Set(`_x.login 300 IN TXT "all"`)
	w.SetOn(2, `only 60 IN A 192.0.2.1`)
	addrs := w.NameserverAddrs()
	if len(addrs) != 3 || len(w.Nameservers()) != 3 {
		t.Fatalf("got %d nameservers, want 3", len(addrs))
	}

	for i, addr := range addrs {
		for _, tcp := range []bool{false, true} {
			r := ask(t, addr, "_x.login.acme.test.", dns.TypeTXT, tcp)
			if !r.Authoritative || len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "all" {
				t.Errorf("ns%d tcp=%v: got %v, want one authoritative TXT \"all\"", i+1, tcp, r)
			}
		}
		r := ask(t, addr, "only.acme.test.", dns.TypeA, false)
		if got, want := len(r.Answer), map[bool]int{true: 1, false: 0}[i == 2]; got != want {
			t.Errorf("ns%d: got %d A records for only.acme.test, want %d", i+1, got, want)
		}
		if r := ask(t, addr, "elsewhere.example.", dns.TypeA, false); r.Rcode != dns.RcodeRefused {
			t.Errorf("ns%d: got rcode %s for a name outside the zone, want REFUSED", i+1, dns.RcodeToString[r.Rcode])
		}
	}

	res := w.Resolvers()[0]
	r := ask(t, res, "ns2.acme.test.", dns.TypeA, false)
	if !r.RecursionAvailable || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.3" {
		t.Errorf("resolver: got %v, want ns2.acme.test A 127.0.0.3 with RA", r)
	}
	r = ask(t, res, "nothing.acme.test.", dns.TypeTXT, false)
	if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Name != "acme.test." {
		t.Errorf("resolver: got %v, want NXDOMAIN with the SOA of acme.test.", r)
	}

	w.Remove("_x.login", "TXT")
	if r := ask(t, addrs[0], "_x.login.acme.test.", dns.TypeTXT, false); len(r.Answer) != 0 {
		t.Errorf("after Remove: got %v, want no TXT", r.Answer)
	}

	w.Fault(0, dnstest.FaultServfail)
	if r := ask(t, addrs[0], "acme.test.", dns.TypeSOA, false); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("FaultServfail: got %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	w.Fault(0, dnstest.FaultNotAuthoritative)
	if r := ask(t, addrs[0], "acme.test.", dns.TypeSOA, false); r.Authoritative || len(r.Answer) != 1 {
		t.Errorf("FaultNotAuthoritative: got %v, want an SOA without AA", r)
	}
	w.Fault(0, dnstest.FaultTruncateUDP)
	if r := ask(t, addrs[0], "acme.test.", dns.TypeSOA, false); !r.Truncated {
		t.Errorf("FaultTruncateUDP: got TC=false over UDP, want TC")
	}
	if r := ask(t, addrs[0], "acme.test.", dns.TypeSOA, true); r.Truncated || len(r.Answer) != 1 {
		t.Errorf("FaultTruncateUDP: got %v over TCP, want the SOA", r)
	}
	if udp, tcp := w.Queries(0); udp == 0 || tcp == 0 {
		t.Errorf("got %d UDP and %d TCP queries on ns1, want both > 0", udp, tcp)
	}
}

func TestWorldsShareNoPort(t *testing.T) {
	a := dnstest.NewWorld(t, dnstest.WorldConfig{})
	b := dnstest.NewWorld(t, dnstest.WorldConfig{})
	if a.NameserverPort() == b.NameserverPort() {
		t.Errorf("got port %d for both worlds, want different ports", a.NameserverPort())
	}
}
