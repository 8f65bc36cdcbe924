package api

import (
	"net/http"
	"testing"
)

// TestUploadsUnavailableIs503 checks that a refusal the product raises
// itself (a server started without a certificate store) is Okta's error
// with a 503 and Retry-After, never a 500.
func TestUploadsUnavailableIs503(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDomain(e.operator, "nocerts.acme.test")
	e.publish(d)
	if r := e.do("POST", "/api/v1/domains/"+d.ID+"/verify", e.operator, nil); r.status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	r := e.do("PUT", "/api/v1/domains/"+d.ID+"/certificate", e.operator, map[string]string{
		"certificate": "x", "certificateChain": "", "privateKey": "y", "type": "PEM"})
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("upload without a certificate store: got %d %s, want 503", r.status, r.body)
	}
	if r.header.Get("Retry-After") == "" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers: Retry-After %q Content-Type %q", r.header.Get("Retry-After"), r.header.Get("Content-Type"))
	}
	var body Error
	r.decode(t, &body)
	if body.Code != "E0000010" || len(body.Causes) != 1 || body.ID == "" {
		t.Errorf("body: %+v, want E0000010 with a cause and an errorId", body)
	}
}

// TestWildcardDomainCreate: *.acme.test is a domain of its own, proven at
// its base name; a wildcard that is not the whole leftmost label is not.
func TestWildcardDomainCreate(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDomain(e.operator, "*.Acme.TEST")
	if d.Domain != "*.acme.test" {
		t.Fatalf("domain %q, want *.acme.test", d.Domain)
	}
	var txt, cname string
	for _, r := range d.DNSRecords {
		switch r.RecordType {
		case "TXT":
			txt = r.FQDN
		case "CNAME":
			cname = r.FQDN
		}
	}
	if txt != "_hallmark-challenge.acme.test" || cname != "*.acme.test" {
		t.Errorf("records TXT at %q and CNAME at %q, want _hallmark-challenge.acme.test and *.acme.test", txt, cname)
	}
	e.publish(d)
	r := e.do("POST", "/api/v1/domains/"+d.ID+"/verify", e.operator, nil)
	var v domainResp
	r.decode(t, &v)
	if v.ValidationStatus != "VERIFIED" {
		t.Errorf("verify: %s %v, want VERIFIED", v.ValidationStatus, v.findingIDs())
	}
}
