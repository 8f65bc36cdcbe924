package api

import (
	"slices"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/bindtest"
)

// TestBIND runs Story 1 against a real BIND 9: create a domain through the
// API, publish its records in a zone file that named reloads, verify; and a
// registrar mistake (the TXT value pasted with quotes) diagnosed end to end.
func TestBIND(t *testing.T) {
	if testing.Short() {
		t.Skip("BIND tier runs without -short")
	}
	named := bindtest.Start(t, "acme.test.")
	e := newEnv(t, envOptions{dns: &dnscheck.Config{
		Resolvers: []string{named.Addr()}, NameserverPort: named.Port, Timeout: time.Second,
	}})
	d := e.createDomain(e.operator, "login.acme.test")
	txtName, txt := d.record("TXT")
	_, target := d.record("CNAME")

	verify := func() domainResp {
		var got domainResp
		r := e.do("POST", "/api/v1/domains/"+d.ID+"/verify", e.operator, nil)
		if r.status != 200 {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
		r.decode(t, &got)
		return got
	}

	t.Run("fail/quoted-txt", func(t *testing.T) {
		named.SetRecords(
			txtName+`. 60 IN TXT "\"`+txt+`\""`,
			d.Domain+". 60 IN CNAME "+target+".",
		)
		got := verify()
		if got.ValidationStatus != "IN_PROGRESS" || !slices.Contains(got.findingIDs(), "dns.value_quoted") {
			t.Fatalf("verify = %s %v, want IN_PROGRESS with dns.value_quoted", got.ValidationStatus, got.findingIDs())
		}
	})

	t.Run("fail/doubled-name", func(t *testing.T) {
		named.SetRecords(
			txtName+`.acme.test. 60 IN TXT "`+txt+`"`,
			d.Domain+". 60 IN CNAME "+target+".",
		)
		got := verify()
		if !slices.Contains(got.findingIDs(), "dns.record_at_doubled_name") {
			t.Fatalf("verify = %s %v, want dns.record_at_doubled_name", got.ValidationStatus, got.findingIDs())
		}
	})

	t.Run("ok/verified", func(t *testing.T) {
		named.SetRecords(
			txtName+`. 60 IN TXT "`+txt+`"`,
			d.Domain+". 60 IN CNAME "+target+".",
		)
		got := verify()
		if got.ValidationStatus != "VERIFIED" {
			t.Fatalf("verify = %s %+v, want VERIFIED", got.ValidationStatus, got.Diagnosis)
		}
	})
}
