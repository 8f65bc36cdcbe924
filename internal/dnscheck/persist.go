package dnscheck

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hallmark-dev/hallmark/finding"
)

// PersistRecord is the persistent validation record a domain may publish
// for dns-persist-01 (draft-ietf-acme-dns-persist-01 §3): at Name, a TXT
// record "<issuer-domain>; accounturi=<account>[; policy=wildcard]".
type PersistRecord struct {
	// Name is the record's owner (_validation-persist.acme.com).
	Name string `json:"name"`
	// IssuerDomain is the one the expected value names; IssuerDomains
	// are every issuer domain of the CA (a record naming any is the CA's).
	IssuerDomain  string   `json:"issuerDomain"`
	IssuerDomains []string `json:"issuerDomains,omitempty"`
	// AccountURI is Hallmark's ACME account URL, compared byte for byte.
	AccountURI string `json:"accountUri"`
	// Wildcard: the domain is a wildcard, so policy=wildcard is required.
	Wildcard bool `json:"wildcard,omitempty"`
}

// Value is the record's expected value.
func (p PersistRecord) Value() string {
	v := p.IssuerDomain + "; accounturi=" + p.AccountURI
	if p.Wildcard {
		v += "; policy=wildcard"
	}
	return v
}

// PersistExpiringWithin: a persistUntil closer than this is a warning
// (the renewals after it would fail).
const PersistExpiringWithin = 30 * 24 * time.Hour

// issueValue is a parsed RFC 8659 §4.2 issue-value, as
// draft-ietf-acme-dns-persist-01 §3 reads it.
type issueValue struct {
	issuer       string
	accountURI   string
	policy       string
	persistUntil time.Time
	hasUntil     bool
}

// parseIssueValue parses v the way Pebble and lego do: parts split on
// ';', trimmed of spaces and tabs; tags case-insensitive; an empty part,
// a part without '=', a duplicate tag, a value with characters outside
// 0x21-0x3A / 0x3C-0x7E, an empty or missing accounturi, or a persistUntil
// that is not a base-10 integer are errors; unknown tags are ignored.
func parseIssueValue(v string) (issueValue, error) {
	parts := strings.Split(v, ";")
	var iv issueValue
	iv.issuer = strings.ToLower(strings.TrimSuffix(strings.Trim(parts[0], " \t"), "."))
	if iv.issuer == "" {
		return iv, errors.New("no issuer domain before the first ';'")
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		p = strings.Trim(p, " \t")
		if p == "" {
			return iv, errors.New("an empty parameter or a trailing ';'")
		}
		tag, val, ok := strings.Cut(p, "=")
		tag = strings.ToLower(strings.Trim(tag, " \t"))
		val = strings.Trim(val, " \t")
		if !ok || tag == "" {
			return iv, fmt.Errorf("%q is not a tag=value pair", p)
		}
		if seen[tag] {
			return iv, fmt.Errorf("the parameter %q appears twice", tag)
		}
		seen[tag] = true
		for _, r := range val {
			if r < 0x21 || r > 0x7e || r == ';' {
				return iv, fmt.Errorf("the value of %q holds the character %q", tag, r)
			}
		}
		switch tag {
		case "accounturi":
			if val == "" {
				return iv, errors.New("accounturi is empty")
			}
			iv.accountURI = val
		case "policy":
			iv.policy = strings.ToLower(val)
		case "persistuntil":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return iv, fmt.Errorf("persistUntil %q is not a UNIX time in seconds", val)
			}
			iv.persistUntil, iv.hasUntil = time.Unix(n, 0).UTC(), true
		}
	}
	if iv.accountURI == "" {
		return iv, errors.New("the mandatory accounturi parameter is missing")
	}
	return iv, nil
}

// persistVerdict is what one server's TXT answer at the record's name says.
type persistVerdict struct {
	id     string // "" when a value matches
	found  []string
	reason string
	until  time.Time // a matching record's persistUntil, if any
}

// judgePersist judges the values one server holds at the record's name.
// A value matching the expectation wins; otherwise the most specific
// mistake is reported: one in a record naming the CA before one naming
// another CA.
func judgePersist(p PersistRecord, vals []string, now time.Time) persistVerdict {
	if len(vals) == 0 {
		return persistVerdict{id: finding.DNSPersistMissing}
	}
	ours := func(iss string) bool { return iss == p.IssuerDomain || slices.Contains(p.IssuerDomains, iss) }
	rank := map[string]int{
		finding.DNSPersistExpired: 1, finding.DNSPersistPolicyMissing: 2, finding.DNSPersistAccountMismatch: 3,
		finding.DNSPersistQuoted: 4, finding.DNSPersistMalformed: 5, finding.DNSPersistIssuerMismatch: 6,
	}
	best := persistVerdict{found: vals}
	consider := func(id, reason string) {
		if best.id == "" || rank[id] < rank[best.id] {
			best.id, best.reason = id, reason
		}
	}
	for _, v := range vals {
		iv, err := parseIssueValue(v)
		switch {
		case (err != nil || !ours(iv.issuer)) && looseMatch(p, v, now):
			consider(finding.DNSPersistQuoted, fmt.Sprintf("%q carries literal quotes or spaces", v))
		case err != nil:
			consider(finding.DNSPersistMalformed, fmt.Sprintf("%q: %v", v, err))
		case !ours(iv.issuer):
			consider(finding.DNSPersistIssuerMismatch, fmt.Sprintf("%q names the issuer domain %s, not %s", v, iv.issuer, p.IssuerDomain))
		case iv.accountURI != p.AccountURI:
			consider(finding.DNSPersistAccountMismatch, fmt.Sprintf("%q names the account %s, not %s", v, iv.accountURI, p.AccountURI))
		case p.Wildcard && iv.policy != "wildcard":
			consider(finding.DNSPersistPolicyMissing, fmt.Sprintf("%q has no policy=wildcard", v))
		case iv.hasUntil && !now.Before(iv.persistUntil):
			consider(finding.DNSPersistExpired, fmt.Sprintf("%q expired at %s (persistUntil)", v, iv.persistUntil.Format(time.RFC3339)))
		default:
			return persistVerdict{found: vals, until: iv.persistUntil}
		}
	}
	if best.id == finding.DNSPersistMalformed || best.id == finding.DNSPersistIssuerMismatch {
		// Parts of the value entered as TXT records of their own: each
		// is read alone, so none is the whole value.
		if len(vals) > 1 && (looseMatch(p, strings.Join(vals, "; "), now) || looseMatch(p, strings.Join(vals, ""), now) || looseMatch(p, strings.Join(vals, " "), now)) {
			best.id, best.reason = finding.DNSPersistQuoted, fmt.Sprintf("the value is split into %d TXT records (%s); each is read alone", len(vals), quoteAll(vals))
		}
	}
	return best
}

// looseMatch reports whether v matches once quotes and surrounding spaces
// are taken away.
func looseMatch(p PersistRecord, v string, now time.Time) bool {
	const cut = " \t\r\n\u00a0\"'“”"
	s := strings.Trim(strings.ReplaceAll(v, `"`, ""), cut)
	iv, err := parseIssueValue(s)
	return err == nil && (iv.issuer == p.IssuerDomain || slices.Contains(p.IssuerDomains, iv.issuer)) &&
		iv.accountURI == p.AccountURI && (!p.Wildcard || iv.policy == "wildcard") && (!iv.hasUntil || now.Before(iv.persistUntil))
}

// checkPersist judges the persistent record on every authoritative
// server. A missing record is info (HTTP-01 serves once the CNAME points
// here); a record that is there but wrong is a warning: the tenant meant
// it and it would not validate.
func (ev *evaluation) checkPersist(now time.Time) {
	p := ev.persist
	qname := dns.CanonicalName(p.Name)
	name := bare(qname)
	rel := ev.relative(qname)
	zone := bare(ev.d.zone)
	want := p.Value()
	q := question("TXT", qname)
	var have, lacking []Server
	verdicts := map[string][]Server{}
	var first persistVerdict
	var until time.Time
	for _, s := range ev.d.servers {
		r, _ := ev.get(s, qname, dns.TypeTXT)
		if id := authFault(r); id != "" {
			ev.fault(s, id, q)
			lacking = append(lacking, s)
			continue
		}
		v := judgePersist(*p, r.Values, now)
		if v.id == "" {
			have = append(have, s)
			until = v.until
			continue
		}
		lacking = append(lacking, s)
		if len(verdicts[v.id]) == 0 && first.id == "" {
			first = v
		}
		verdicts[v.id] = append(verdicts[v.id], s)
	}
	ev0 := map[string]any{"name": name, "type": "TXT", "expected": want}
	switch {
	case len(have) > 0 && len(lacking) > 0:
		ev.fs = append(ev.fs, ev.partial("TXT", qname, fmt.Sprintf("the persistent record %s", name), have, lacking, ev0))
		return
	case len(have) > 0:
		ev.persistReady = true
		if !until.IsZero() && until.Sub(now) < PersistExpiringWithin {
			ev.persistReady = until.Sub(now) > 24*time.Hour
			ev.fs = append(ev.fs, finding.Finding{
				ID: finding.DNSPersistExpiring, Severity: finding.Warning,
				Summary:  fmt.Sprintf("The persistent record %s expires on %s", name, until.Format(time.RFC3339)),
				Detail:   fmt.Sprintf("Its persistUntil parameter ends its use for new validations on %s; renewals after that cannot use it.", until.Format(time.RFC3339)),
				Fix:      fmt.Sprintf("At the DNS host of %s, set the value of the TXT record %q to %s (without persistUntil), or a later persistUntil.", zone, rel, want),
				Evidence: with(ev0, "persistUntil", until.Format(time.RFC3339)),
			})
		}
		return
	case first.id == "":
		return // every server failed: the fault findings say so
	}
	servers := verdicts[first.id]
	f := finding.Finding{ID: first.id, Severity: finding.Warning,
		Evidence: with(ev0, "found", first.found, "servers", labels(servers))}
	setFix := fmt.Sprintf("At the DNS host of %s, set the value of the TXT record %q to %s exactly, with no quotes around it.", zone, rel, want)
	switch first.id {
	case finding.DNSPersistMissing:
		at, vals, _, _ := ev.atDoubled(qname, dns.TypeTXT, func(v string) string { return v })
		if len(at) > 0 {
			f.ID = finding.DNSPersistAtDoubledName
			dbl := bare(ev.doubled(qname))
			f.Summary = fmt.Sprintf("The persistent record is at %s instead of %s", dbl, name)
			f.Detail = fmt.Sprintf("No nameserver has TXT %s, but %s answered TXT %s with %s: the DNS host appended the zone to the full name that was typed.", name, list(at), dbl, quoteAll(vals))
			f.Fix = fmt.Sprintf("At the DNS host of %s, edit the record: enter only %q as its name (the DNS host adds .%s itself), or the full name with a trailing dot (%s.).", zone, rel, zone, name)
			f.Evidence = with(ev0, "doubledName", dbl, "found", vals, "servers", labels(at))
			break
		}
		f.Severity = finding.Info
		f.Summary = fmt.Sprintf("The persistent record %s is not published: the certificate waits for the CNAME", name)
		f.Detail = fmt.Sprintf("Asked %s for TXT %s: %s. Without it the CA validates over HTTP, which needs the CNAME to point here first, and so does every renewal.", list(servers), name, ev.said(servers, qname, dns.TypeTXT))
		f.Fix = fmt.Sprintf("To get the certificate before moving traffic (and renew whatever sits in front), create at the DNS host of %s a TXT record with name (host) %q and value %s. Publish it once; it stays valid for every renewal.", zone, rel, want)
	case finding.DNSPersistQuoted:
		f.Summary = fmt.Sprintf("The persistent record %s is not one clean value: %s", name, first.reason)
		f.Detail = fmt.Sprintf("Asked %s for TXT %s: %s; expected %q.", list(servers), name, quoteAll(first.found), want)
		f.Fix = setFix + " Delete the extra TXT records holding pieces of it."
	case finding.DNSPersistMalformed:
		f.Summary = fmt.Sprintf("The persistent record %s is not a valid value", name)
		f.Detail = fmt.Sprintf("Asked %s for TXT %s: %s.", list(servers), name, first.reason)
		f.Fix = setFix
	case finding.DNSPersistIssuerMismatch:
		f.Summary = fmt.Sprintf("The persistent record %s names another certificate authority", name)
		f.Detail = fmt.Sprintf("Asked %s for TXT %s: %s. The CA reads only records that name one of its issuer domains (%s).", list(servers), name, first.reason, strings.Join(p.IssuerDomains, ", "))
		f.Fix = setFix + " A record for another CA you still use may stay beside it."
	case finding.DNSPersistAccountMismatch:
		f.Summary = fmt.Sprintf("The persistent record %s names another ACME account", name)
		f.Detail = fmt.Sprintf("Asked %s for TXT %s: %s. An accounturi copied from a staging CA or from an old account does not let this account validate.", list(servers), name, first.reason)
		f.Fix = setFix
	case finding.DNSPersistPolicyMissing:
		f.Summary = fmt.Sprintf("The persistent record %s lacks policy=wildcard, which a wildcard domain needs", name)
		f.Detail = fmt.Sprintf("Asked %s for TXT %s: %s. Without the policy the record covers %s only, not the names under it.", list(servers), name, first.reason, strings.TrimPrefix(name, "_validation-persist."))
		f.Fix = setFix
	case finding.DNSPersistExpired:
		f.Summary = fmt.Sprintf("The persistent record %s has expired", name)
		f.Detail = fmt.Sprintf("Asked %s for TXT %s: %s; after persistUntil a CA may not use it.", list(servers), name, first.reason)
		f.Fix = setFix + " Leave out persistUntil, or set a later one."
	}
	ev.fs = append(ev.fs, f)
}

// persistCAA judges RFC 8657's parameters of the CAA issue properties
// that name the CA: accounturi and validationmethods may restrict the
// account and the methods, so as to forbid dns-persist-01 for Hallmark.
func persistCAA(p PersistRecord, name, owner string, set []*dns.CAA, records []string) []finding.Finding {
	tag := "issue"
	if p.Wildcard {
		for _, caa := range set {
			if strings.EqualFold(caa.Tag, "issuewild") {
				tag = "issuewild" // RFC 8659 §4.3: issuewild governs wildcards when present
				break
			}
		}
	}
	var accountForbid, methodForbid []string
	for _, caa := range set {
		if !strings.EqualFold(caa.Tag, tag) {
			continue
		}
		parts := strings.Split(caa.Value, ";")
		iss := strings.ToLower(strings.TrimSpace(parts[0]))
		if iss != p.IssuerDomain && !slices.Contains(p.IssuerDomains, iss) {
			continue
		}
		okAccount, okMethod := true, true
		for _, part := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "accounturi":
				okAccount = strings.TrimSpace(v) == p.AccountURI
			case "validationmethods":
				okMethod = slices.Contains(strings.Split(strings.ReplaceAll(v, " ", ""), ","), "dns-persist-01")
			}
		}
		switch {
		case okAccount && okMethod:
			return nil // one property that allows is enough
		case !okAccount:
			accountForbid = append(accountForbid, caa.Value)
		default:
			methodForbid = append(methodForbid, caa.Value)
		}
	}
	ev0 := map[string]any{"name": name, "caaName": owner, "records": records, "accountUri": p.AccountURI}
	add := fmt.Sprintf("%s CAA 0 %s \"%s; accounturi=%s\"", owner, tag, p.IssuerDomain, p.AccountURI)
	switch {
	case len(accountForbid) > 0:
		return []finding.Finding{{
			ID: finding.CAAForbidsAccount, Severity: finding.Warning,
			Summary: fmt.Sprintf("A CAA record at %s allows %s only for another ACME account", owner, p.IssuerDomain),
			Detail: fmt.Sprintf("The CAA records that govern %s are %s. Their accounturi parameter (RFC 8657) names %s, not Hallmark's account %s, so the CA must refuse it.",
				name, strings.Join(records, "; "), quoteAll(accountForbid), p.AccountURI),
			Fix:      fmt.Sprintf("At the DNS host of %s, add the record %s (keep the other one if that account is still used).", owner, add),
			Evidence: ev0,
		}}
	case len(methodForbid) > 0:
		return []finding.Finding{{
			ID: finding.CAAForbidsMethod, Severity: finding.Warning,
			Summary: fmt.Sprintf("A CAA record at %s does not allow dns-persist-01", owner),
			Detail: fmt.Sprintf("The CAA records that govern %s are %s. Their validationmethods parameter (RFC 8657) leaves out dns-persist-01, so the CA must not validate through the persistent record.",
				name, strings.Join(records, "; ")),
			Fix:      fmt.Sprintf("At the DNS host of %s, add dns-persist-01 to validationmethods (e.g. validationmethods=http-01,dns-persist-01), or remove the parameter.", owner),
			Evidence: ev0,
		}}
	}
	return nil
}
