package dnscheck_test

import (
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
)

func TestWriteText(t *testing.T) {
	w := dnstest.NewWorld(t, dnstest.WorldConfig{Records: []string{
		healthy[1], `_hallmark-challenge.login 300 IN TXT "\"` + token + `\""`,
	}})
	r := newChecker(t, w).Check(t.Context(), expectation())
	var b strings.Builder
	if err := dnscheck.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Zone: acme.test\n",
		"nameserver ns1.acme.test (" + w.NameserverAddrs()[0] + ")",
		"resolver " + w.Resolvers()[0],
		`TXT    _hallmark-challenge.login.acme.test: NOERROR aa ttl=300 "\"` + token + `\""`,
		"ERROR dns.value_quoted:",
		"Fix: At the DNS host of acme.test, edit the TXT record \"_hallmark-challenge.login\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("got text without %q:\n%s", want, out)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     dnscheck.Config
		wantErr bool
	}{
		{"ok/ipv4", dnscheck.Config{Resolvers: []string{"192.0.2.53:53"}}, false},
		{"ok/ipv6", dnscheck.Config{Resolvers: []string{"[2001:db8::53]:5353"}}, false},
		{"fail/no-port", dnscheck.Config{Resolvers: []string{"192.0.2.53"}}, true},
		{"fail/host-name", dnscheck.Config{Resolvers: []string{"dns.google:53"}}, true},
		{"fail/port-range", dnscheck.Config{Resolvers: []string{"192.0.2.53:53"}, NameserverPort: 70000}, true},
		{"fail/negative-timeout", dnscheck.Config{Resolvers: []string{"192.0.2.53:53"}, Timeout: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dnscheck.New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Errorf("got error %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestCheckDiscoveryCacheSeesFreshRecords(t *testing.T) {
	w := dnstest.NewWorld(t, dnstest.WorldConfig{Records: healthy[1:]})
	c := newChecker(t, w)
	if r := c.Check(t.Context(), expectation()); r.OK() {
		t.Fatalf("got OK before the TXT record exists, want an error")
	}
	w.Set(healthy[0])
	r := c.Check(t.Context(), expectation())
	if !r.OK() || len(r.Findings) != 0 {
		t.Fatalf("got findings %v after the TXT record was set, want none", r.Findings)
	}
	if r.Zone != "acme.test." || len(r.Nameservers) != 2 {
		t.Errorf("got zone %q with %d nameservers from the cache, want acme.test. with 2", r.Zone, len(r.Nameservers))
	}
}
