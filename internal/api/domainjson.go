package api

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
)

// The domain view's JSON, appended by hand: a page of 200 domains spent
// most of its encoding time in encoding/json's reflection. The bytes are
// exactly those json.Marshal writes for the same value (TestDomainJSONBytes
// compares the two, TestListPageJSON pins a page); whatever is not plain
// printable ASCII, and the diagnosis, is still encoded by encoding/json.

// domainPage is a page of GET /api/v1/domains, {"domains":[...]}, each
// domain rendered as it is appended rather than all views built first.
type domainPage struct {
	s    *Server
	base string // baseURL of the request
	ds   []customdomain.Domain
}

// domainBytes is about the size of one domain's JSON, to make room for a
// page at once.
const domainBytes = 1200

func (p domainPage) appendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, 16+len(p.ds)*domainBytes)
	b = append(b, `{"domains":[`...)
	for i := range p.ds {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = p.s.domainJSONAt(p.base, p.ds[i]).appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

// appendJSON appends v as json.Marshal encodes it, failing only where
// json.Marshal would: on a diagnosis whose evidence does not encode.
func (v domainJSON) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, v.ID)
	b = append(b, `,"domain":`...)
	b = appendString(b, v.Domain)
	b = append(b, `,"certificateSourceType":`...)
	b = appendString(b, v.CertificateSourceType)
	b = append(b, `,"validationStatus":`...)
	b = appendString(b, v.ValidationStatus)
	b = append(b, `,"dnsRecords":`...)
	if v.DNSRecords == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range v.DNSRecords {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.DNSRecords[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if c := v.PublicCertificate; c != nil {
		b = append(b, `,"publicCertificate":{"subject":`...)
		b = appendString(b, c.Subject)
		b = append(b, `,"fingerprint":`...)
		b = appendString(b, c.Fingerprint)
		b = append(b, `,"expiration":`...)
		b = appendString(b, c.Expiration)
		b = append(b, '}')
	}
	b = append(b, `,"brandId":`...)
	b = appendString(b, v.BrandID)
	b = append(b, `,"_links":{"brand":`...)
	b = v.Links.Brand.appendJSON(b)
	if v.Links.Certificate != nil {
		b = append(b, `,"certificate":`...)
		b = v.Links.Certificate.appendJSON(b)
	}
	b = append(b, `,"self":`...)
	b = v.Links.Self.appendJSON(b)
	b = append(b, `,"verify":`...)
	b = v.Links.Verify.appendJSON(b)
	b = append(b, `},"diagnosis":`...)
	switch {
	case v.Diagnosis == nil:
		b = append(b, "null"...)
	case len(v.Diagnosis) == 0:
		b = append(b, "[]"...)
	default:
		js, err := json.Marshal(v.Diagnosis)
		if err != nil {
			return nil, err
		}
		b = append(b, js...)
	}
	b = append(b, `,"verification":{`...)
	vf := &v.Verification
	b = appendOmitString(b, `"lastCheckedAt":`, vf.LastCheckedAt)
	b = appendOmitString(b, `"nextCheckAt":`, vf.NextCheckAt)
	b = appendOmitString(b, `"windowEndsAt":`, vf.WindowEndsAt)
	b = appendOmitString(b, `"verifiedAt":`, vf.VerifiedAt)
	b = append(b, `"attempts":`...)
	b = strconv.AppendInt(b, int64(vf.Attempts), 10)
	b = append(b, '}')
	if v.MovedSince != "" {
		b = append(b, `,"movedSince":`...)
		b = appendString(b, v.MovedSince)
	}
	if r := v.Renewal; r != nil {
		b = append(b, `,"renewal":{`...)
		b = appendOmitString(b, `"renewAt":`, r.RenewAt)
		b = append(b, `"failedAttempts":`...)
		b = strconv.AppendInt(b, int64(r.Attempts), 10)
		if r.NextAttemptAt != "" {
			b = append(b, `,"nextAttemptAt":`...)
			b = appendString(b, r.NextAttemptAt)
		}
		b = append(b, '}')
	}
	if v.StatusDetail != "" {
		b = append(b, `,"statusDetail":`...)
		b = appendString(b, v.StatusDetail)
	}
	if v.CertificateReady {
		b = append(b, `,"certificateReady":true`...)
	}
	if v.CertificateChallenge != "" {
		b = append(b, `,"certificateChallenge":`...)
		b = appendString(b, v.CertificateChallenge)
	}
	if v.CertificateChallengeReason != "" {
		b = append(b, `,"certificateChallengeReason":`...)
		b = appendString(b, v.CertificateChallengeReason)
	}
	return append(b, '}'), nil
}

func (r *recordJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"recordType":`...)
	b = appendString(b, r.RecordType)
	b = append(b, `,"fqdn":`...)
	b = appendString(b, r.FQDN)
	b = append(b, `,"values":`...)
	b = appendStrings(b, r.Values)
	if r.Expiration != "" {
		b = append(b, `,"expiration":`...)
		b = appendString(b, r.Expiration)
	}
	return append(b, '}')
}

func (l *linkJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"href":`...)
	b = appendString(b, l.Href)
	b = append(b, `,"hints":{"allow":`...)
	b = appendStrings(b, l.Hints.Allow)
	return append(b, "}}"...)
}

// appendOmitString appends key and s and a comma, or nothing for "" (a
// field tagged omitempty followed by another field).
func appendOmitString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	b = appendString(b, s)
	return append(b, ',')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// plainJSON holds the bytes encoding/json writes as they are: printable
// ASCII but the quote, the backslash and <, > and & (escaped for HTML).
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s quoted. Printable ASCII other than the quote,
// the backslash and the HTML characters encoding/json escapes (<, >, &)
// is written as it is; any other string goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			js, _ := json.Marshal(s) // a string always encodes
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
