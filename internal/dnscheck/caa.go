package dnscheck

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/hallmark-dev/hallmark/finding"
)

// knownCAATags are the property tags a CA understands; any other tag with
// the critical flag forbids issuance (RFC 8659 §4.1).
var knownCAATags = map[string]bool{
	"issue": true, "issuewild": true, "iodef": true,
	"issuemail": true, "contactemail": true, "contactphone": true,
}

// caaCritical is the Issuer Critical flag: bit 0, the most significant bit
// of the flags octet (RFC 8659 §4.1).
const caaCritical = 0x80

// checkCAA finds the relevant CAA record set for name as a CA does (RFC
// 8659 §3): the CAA records of the closest name, from name itself up to
// below its public suffix, that has any; the resolvers follow a CNAME at
// each name. It reports when that set forbids the CA, whose identities
// are ids (primary first).
//
// With persist set, the CAA parameters of RFC 8657 are judged too (may
// Hallmark's account use dns-persist-01?); without ids, only those.
func (c *Checker) checkCAA(ctx context.Context, name string, ids []string, persist *PersistRecord) ([]Answer, []finding.Finding) {
	if len(ids) == 0 {
		_, fs := c.checkCAAOf(ctx, name, append([]string{persist.IssuerDomain}, persist.IssuerDomains...), persist)
		return nil, slices.DeleteFunc(fs, func(f finding.Finding) bool {
			return f.ID != finding.CAAForbidsAccount && f.ID != finding.CAAForbidsMethod
		})
	}
	return c.checkCAAOf(ctx, name, ids, persist)
}

func (c *Checker) checkCAAOf(ctx context.Context, name string, ids []string, persist *PersistRecord) ([]Answer, []finding.Finding) {
	if len(ids) == 0 {
		return nil, nil
	}
	var qs []job
	for cand := name; cand != "." && !isPublicSuffix(cand); cand = parent(cand) {
		qs = append(qs, job{name: cand, qtype: dns.TypeCAA})
	}
	if len(qs) == 0 {
		return nil, nil
	}
	rs, answers := c.resolve(ctx, qs)
	for _, r := range rs {
		if !usable(r) {
			id := finding.DNSResolveFailed
			switch r.Rcode {
			case "SERVFAIL":
				id = finding.DNSServfail
			case RcodeTimeout:
				id = finding.DNSTimeout
			}
			return answers, []finding.Finding{{
				ID: id, Severity: finding.Warning,
				Summary: fmt.Sprintf("The CAA records of %s cannot be looked up, so a CA may refuse to issue", bare(r.Name)),
				Detail:  fmt.Sprintf("Asked the resolvers for CAA %s: %s %s.", bare(r.Name), r.Rcode, r.Error),
				Fix: fmt.Sprintf("A CA must be able to read CAA for %s: check that the nameservers of its zone answer CAA queries (an empty answer is fine; SERVFAIL or silence is not).",
					bare(r.Name)),
				Evidence: map[string]any{"name": bare(name), "question": question("CAA", r.Name), "rcode": r.Rcode},
			}}
		}
		var set []*dns.CAA
		for _, rr := range r.msg.Answer {
			if caa, ok := rr.(*dns.CAA); ok {
				set = append(set, caa)
			}
		}
		if len(set) > 0 {
			fs := caaFindings(name, r.Name, ids, set)
			if persist != nil && !finding.HasError(fs) {
				fs = append(fs, persistCAA(*persist, bare(name), bare(strings.ToLower(set[0].Hdr.Name)), set, caaRecords(set))...)
			}
			return answers, fs
		}
	}
	return answers, nil
}

// caaFindings judges the relevant record set found at at. The CA is
// allowed when an issue property names any of its identities ids (RFC 8659
// §4.2); a fix names the primary one, ids[0].
func caaFindings(name, at string, ids []string, set []*dns.CAA) []finding.Finding {
	identity := ids[0]
	records := caaRecords(set)
	var critical []string
	var issue []string
	allowed := false
	for _, caa := range set {
		tag := strings.ToLower(caa.Tag)
		if caa.Flag&caaCritical != 0 && !knownCAATags[tag] {
			critical = append(critical, caa.Tag)
		}
		if tag != "issue" {
			continue
		}
		issue = append(issue, caa.Value)
		domain, _, _ := strings.Cut(caa.Value, ";")
		domain = strings.ToLower(strings.TrimSpace(domain))
		if domain != "" && slices.Contains(ids, domain) {
			allowed = true
		}
	}
	owner := bare(strings.ToLower(set[0].Hdr.Name))
	add := fmt.Sprintf("%s CAA 0 issue %q", owner, identity)
	evidence := map[string]any{"name": bare(name), "caaName": owner, "records": records, "identity": identity}
	if len(ids) > 1 {
		evidence["identities"] = ids
	}
	switch {
	case len(critical) > 0:
		return []finding.Finding{{
			ID: finding.CAAForbidsIssuer, Severity: finding.Error,
			Summary: fmt.Sprintf("A critical CAA property (%s) at %s forbids every CA that does not understand it", strings.Join(critical, ", "), owner),
			Detail: fmt.Sprintf("The CAA records that govern %s are at %s: %s. A CA must refuse to issue when a property it does not know carries the critical flag (128).",
				bare(name), owner, strings.Join(records, "; ")),
			Fix: fmt.Sprintf("At the DNS host of %s, remove the critical flag from the %s record (set its flags to 0) or delete it, and make sure the set holds %s.",
				owner, strings.Join(critical, ", "), add),
			Evidence: evidence,
		}}
	case len(issue) == 0 || allowed:
		return nil
	}
	summary := fmt.Sprintf("The CAA records at %s do not allow %s to issue certificates for %s", owner, identity, bare(name))
	fix := fmt.Sprintf("At the DNS host of %s, add the record %s, keeping the issue records of other CAs you use.", owner, add)
	for _, v := range issue {
		if d, _, _ := strings.Cut(v, ";"); strings.TrimSpace(d) == "" {
			summary = fmt.Sprintf("A CAA record issue %q at %s forbids every CA, including %s", v, owner, identity)
			fix = fmt.Sprintf("At the DNS host of %s, replace the record %s CAA 0 issue %q with %s.", owner, owner, v, add)
			break
		}
	}
	return []finding.Finding{{
		ID: finding.CAAForbidsIssuer, Severity: finding.Error,
		Summary: summary,
		Detail: fmt.Sprintf("The CAA records that govern %s are at %s: %s. None of their issue properties names %s, so it must refuse to issue.",
			bare(name), owner, strings.Join(records, "; "), strings.Join(ids, " or ")),
		Fix:      fix,
		Evidence: evidence,
	}}
}

// caaRecords is the set in presentation form, for evidence.
func caaRecords(set []*dns.CAA) []string {
	var records []string
	for _, caa := range set {
		records = append(records, fmt.Sprintf("%s CAA %d %s %q", bare(strings.ToLower(caa.Hdr.Name)), caa.Flag, caa.Tag, caa.Value))
	}
	return records
}
