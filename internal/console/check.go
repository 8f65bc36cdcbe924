package console

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
)

// recordView is one record to publish, as a person types it at a DNS host,
// with what each server answers for it when a check is at hand.
type recordView struct {
	// Key names the record's elements on the page: its type, and for a
	// second record of a type (the persistent TXT beside the ownership
	// one) the type and its rank, "TXT-2".
	Key   string
	Type  string
	FQDN  string
	Label string // relative to the zone; "@" for the apex
	Value string
	// Expiration is when the record may be removed (zero: keep it).
	Expiration time.Time
	Answers    []answerView
	// Mark is the record's ✓ or ✗ in the latest check.
	Mark markView
}

// answerView is one server's answer to one question.
type answerView struct {
	Server        string // ns1.acme.test, or "resolver"
	Addr          string
	Authoritative bool
	Name, Type    string
	Rcode         string
	Values        []string
	CNAME         string
	TTL           uint32
	Error         string
	// Verdict compares the answer with the record: ok, wrong, missing or
	// fault (no usable answer).
	Verdict string
}

// checkView is one DNS check: a live one when the page opened, or the one
// "Verify now" ran.
type checkView struct {
	CheckedAt   time.Time
	ByVerify    bool
	Findings    []finding.Finding
	Error       string
	Nameservers []string // "ns1.acme.com (192.0.2.1:53)"

	// Other holds answers to questions that are not one of the records:
	// the zone's discovery, a name doubled by the registrar, and so on.
	Other []answerView
}

// zoneOf is the zone the records live in: the one DNS reported, or else
// the registrable domain (which is the zone in most setups). fromDNS says
// which.
func zoneOf(name string, rep *dnscheck.Report) (zone string, fromDNS bool) {
	if rep != nil && rep.Zone != "" {
		return bare(rep.Zone), true
	}
	z, err := publicsuffix.EffectiveTLDPlusOne(name)
	if err != nil {
		return name, false
	}
	return z, false
}

func bare(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// relative is name as entered at a DNS host that appends the zone.
func relative(name, zone string) string {
	name = bare(name)
	switch {
	case name == zone:
		return "@"
	case strings.HasSuffix(name, "."+zone):
		return strings.TrimSuffix(name, "."+zone)
	}
	return name
}

// recordViews lays out d's records and, with a report, every server's
// answer to each; answers about anything else go to the check's Other.
func recordViews(recs []customdomain.Record, zone string, rep *dnscheck.Report, cv *checkView) []recordView {
	out := make([]recordView, 0, len(recs))
	used := make([]bool, 0)
	if rep != nil {
		used = make([]bool, len(rep.Answers))
	}
	seen := map[string]int{}
	for _, rec := range recs {
		seen[rec.Type]++
		key := rec.Type
		if n := seen[rec.Type]; n > 1 {
			key = fmt.Sprintf("%s-%d", rec.Type, n)
		}
		rv := recordView{
			Key: key, Type: rec.Type, FQDN: rec.FQDN, Label: relative(rec.FQDN, zone),
			Value: strings.Join(rec.Values, " "), Expiration: rec.Expiration,
		}
		if rep != nil {
			for i, a := range rep.Answers {
				if bare(a.Name) == bare(rec.FQDN) && strings.EqualFold(a.Type, rec.Type) {
					used[i] = true
					rv.Answers = append(rv.Answers, answerOf(a, rec))
				}
			}
		}
		out = append(out, rv)
	}
	if rep != nil && cv != nil {
		for i, a := range rep.Answers {
			if !used[i] {
				cv.Other = append(cv.Other, answerOf(a, customdomain.Record{}))
			}
		}
	}
	return out
}

func answerOf(a dnscheck.Answer, rec customdomain.Record) answerView {
	v := answerView{
		Server: bare(a.Server.Name), Addr: a.Server.Addr, Authoritative: a.Server.Authoritative,
		Name: bare(a.Name), Type: a.Type, Rcode: a.Rcode, Values: a.Values, CNAME: bare(a.CNAME),
		TTL: a.TTL, Error: a.Error,
	}
	if v.Server == "" {
		v.Server = "resolver"
	}
	switch {
	case a.Error != "" || (a.Rcode != "NOERROR" && a.Rcode != "NXDOMAIN"):
		v.Verdict = "fault"
	case rec.Type == "":
	case matches(rec, a):
		v.Verdict = "ok"
	case len(a.Values) == 0 && a.CNAME == "":
		v.Verdict = "missing"
	default:
		v.Verdict = "wrong"
	}
	return v
}

// matches reports whether the answer holds the record's value.
func matches(rec customdomain.Record, a dnscheck.Answer) bool {
	norm := func(s string) string {
		if rec.Type == "TXT" {
			return s // compared exactly: a quote or a space is the mistake
		}
		return strings.Join(strings.Fields(bare(s)), " ")
	}
	for _, want := range rec.Values {
		for _, got := range a.Values {
			if norm(got) == norm(want) {
				return true
			}
		}
		if rec.Type == "CNAME" && bare(a.CNAME) == bare(want) {
			return true
		}
	}
	return false
}
