package api

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
)

// TestDomainJSONBytes checks that the hand-written encoding of the domain
// view is byte for byte json.Marshal's, over views with every optional
// field present and absent and strings that need escaping.
func TestDomainJSONBytes(t *testing.T) {
	strs := []string{"", "plain", "login.acme.test", `q"uote`, `back\slash`, "<b>&amp;</b>", "new\nline\ttab\r",
		"\x00\x01\x1f\x7f", "é ü 日本", "\u2028\u2029", "bad\xffutf8", "\b\f", " "}
	for c := range 0x80 { // each ASCII byte alone in a string
		strs = append(strs, "a"+string(rune(c))+"b")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string { return strs[rng.IntN(len(strs))] }
	maybe := func() bool { return rng.IntN(2) == 0 }
	strList := func() []string {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		default:
			ss := make([]string, 1+rng.IntN(3))
			for i := range ss {
				ss[i] = str()
			}
			return ss
		}
	}
	link := func() linkJSON { return linkJSON{Href: str(), Hints: hintsJSON{Allow: strList()}} }
	view := func() domainJSON {
		v := domainJSON{
			ID: str(), Domain: str(), CertificateSourceType: str(), ValidationStatus: str(), BrandID: str(),
			Links: domainLinksJSON{Brand: link(), Self: link(), Verify: link()},
			Verification: verificationJSON{LastCheckedAt: str(), NextCheckAt: str(), WindowEndsAt: str(), VerifiedAt: str(),
				Attempts: rng.IntN(3) - 1},
			MovedSince: str(), StatusDetail: str(), CertificateReady: maybe(),
			CertificateChallenge: str(), CertificateChallengeReason: str(),
		}
		if maybe() {
			v.DNSRecords = []recordJSON{}
			for range rng.IntN(4) {
				v.DNSRecords = append(v.DNSRecords, recordJSON{RecordType: str(), FQDN: str(), Values: strList(), Expiration: str()})
			}
		}
		if maybe() {
			v.PublicCertificate = &certificateJSON{Subject: str(), Fingerprint: str(), Expiration: str()}
		}
		if maybe() {
			l := link()
			v.Links.Certificate = &l
		}
		switch rng.IntN(3) {
		case 0:
			v.Diagnosis = []finding.Finding{}
		case 1:
			v.Diagnosis = []finding.Finding{{ID: str(), Severity: "error", Summary: str(), Detail: str(), Fix: str(),
				Evidence: map[string]any{"b": str(), "a": []any{1, 2.5, str()}, "n": nil}}}
		}
		if maybe() {
			v.Renewal = &renewalJSON{RenewAt: str(), Attempts: rng.IntN(3), NextAttemptAt: str()}
		}
		return v
	}

	// Every field of the view is set in some generated view: a field added
	// to domainJSON without the generator (and likely without appendJSON)
	// fails here instead of going unencoded unnoticed.
	setSome := make([]bool, reflect.TypeFor[domainJSON]().NumField())
	for i := range 5000 {
		v := view()
		rv := reflect.ValueOf(v)
		for f := range setSome {
			setSome[f] = setSome[f] || !rv.Field(f).IsZero()
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.appendJSON(nil)
		if err != nil {
			t.Fatalf("view %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("view %d:\ngot  %s\nwant %s", i, got, want)
		}
	}

	for f, set := range setSome {
		if !set {
			t.Errorf("domainJSON.%s is never set by the generator: add it there and to appendJSON", reflect.TypeFor[domainJSON]().Field(f).Name)
		}
	}

	t.Run("fail/diagnosis-does-not-encode", func(t *testing.T) {
		v := view()
		v.Diagnosis = []finding.Finding{{ID: "x", Evidence: map[string]any{"nan": math.NaN()}}}
		if _, err := json.Marshal(v); err == nil {
			t.Fatal("json.Marshal: got no error, want one")
		}
		if _, err := v.appendJSON(nil); err == nil {
			t.Fatal("appendJSON: got no error, want one")
		}
	})
}

// TestOktaTime checks the hand-written format against time.Format.
func TestOktaTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	times := []time.Time{
		time.Date(2021, 11, 23, 2, 4, 28, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("x", -7*3600-1800)),
	}
	for range 10000 {
		times = append(times, time.Unix(0, rng.Int64()-rng.Int64()))
	}
	for _, tm := range times {
		if got, want := oktaTime(tm), tm.UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Fatalf("oktaTime(%v) = %q, want %q", tm, got, want)
		}
	}
	if got := oktaTime(time.Time{}); got != "" {
		t.Fatalf("oktaTime(zero) = %q, want \"\"", got)
	}
}
