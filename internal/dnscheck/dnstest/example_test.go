package dnstest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
)

// A test that checks a tenant's records against a world where one
// nameserver has not received the TXT record yet.
func ExampleWorld() {
	t := &testing.T{} // in a real test, the *testing.T (or *testing.B) at hand
	w := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2})
	w.Set(`login 300 IN CNAME edge.hallmark.test.`)
	w.SetOn(0, `_hallmark-challenge.login 300 IN TXT "token"`)

	c, _ := dnscheck.New(dnscheck.Config{Resolvers: w.Resolvers(), NameserverPort: w.NameserverPort()})
	r := c.Check(context.Background(), dnscheck.Expectation{
		Name:        "login.acme.test",
		TXT:         []dnscheck.TXTRecord{{Name: "_hallmark-challenge.login.acme.test", Value: "token"}},
		CNAMETarget: "edge.hallmark.test",
	})
	for _, f := range r.Findings {
		fmt.Println(f.Severity, f.ID)
	}
	// Output: warning dns.propagation_partial
}
