package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWriteDomainPersist: `hallmark domains get` shows the persistent
// record with the others, a zone-relative hint for each TXT record, the
// ready detail and the challenge of the certificate.
func TestWriteDomainPersist(t *testing.T) {
	var d domain
	if err := json.Unmarshal([]byte(`{"id":"dom1","domain":"login.acme.com","certificateSourceType":"OKTA_MANAGED",
		"validationStatus":"VERIFIED","statusDetail":"certificate ready: point the CNAME to switch traffic","certificateReady":true,
		"certificateChallenge":"dns-persist-01","certificateChallengeReason":"the persistent record is in place",
		"publicCertificate":{"subject":"CN=login.acme.com","fingerprint":"AA","expiration":"2027-01-01T00:00:00.000Z"},
		"dnsRecords":[{"recordType":"TXT","fqdn":"_hallmark-challenge.login.acme.com","values":["tok"]},
		{"recordType":"CNAME","fqdn":"login.acme.com","values":["edge.example.net"]},
		{"recordType":"TXT","fqdn":"_validation-persist.login.acme.com","values":["ca.example; accounturi=https://ca.example/acct/1"]}]}`), &d); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeDomain(&b, d)
	out := b.String()
	for _, want := range []string{
		"certificate ready: point the CNAME to switch traffic",
		"validated by dns-persist-01: the persistent record is in place",
		"TXT    _validation-persist.login.acme.com  ca.example; accounturi=https://ca.example/acct/1",
		`enter only "_hallmark-challenge.login" for the TXT record _hallmark-challenge.login.acme.com`,
		`enter only "_validation-persist.login" for the TXT record _validation-persist.login.acme.com`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
