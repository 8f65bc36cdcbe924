package dnscheck

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/hallmark-dev/hallmark/finding"
)

// delegation is the zone a name belongs to and the addresses of its
// authoritative servers.
type delegation struct {
	zone    string
	servers []Server // sorted by name, then address
	expires time.Time
}

// maxCache bounds the discovery cache; it is emptied when full.
const maxCache = 10000

func (c *Checker) cached(name string) (delegation, bool) {
	if c.discoveryTTL < 0 {
		return delegation{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.cache[name]
	if !ok || time.Now().After(d.expires) {
		return delegation{}, false
	}
	return d, true
}

func (c *Checker) remember(name string, d delegation) {
	if c.discoveryTTL < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= maxCache {
		clear(c.cache)
	}
	d.expires = time.Now().Add(c.discoveryTTL)
	c.cache[name] = d
}

// discover finds the zone of name through the resolvers, then the zone's
// nameservers and their addresses. The findings it returns mean the check
// cannot go on.
func (c *Checker) discover(ctx context.Context, name string) (delegation, []Answer, []finding.Finding) {
	if d, ok := c.cached(name); ok {
		return d, nil, nil
	}
	var answers []Answer
	resolve := func(qs ...job) ([]result, bool) {
		rs, as := c.resolve(ctx, qs)
		answers = append(answers, as...)
		for _, r := range rs {
			if !usable(r) {
				return rs, false
			}
		}
		return rs, true
	}

	// Walk up from name asking for the SOA; the zone cut is the owner of
	// an SOA in the answer or, for NODATA and NXDOMAIN, in the authority
	// section. A CNAME at the name leads elsewhere (its target's zone), so
	// then the walk goes on with the parent.
	zone := ""
	for cand := name; cand != "." && zone == ""; cand = parent(cand) {
		rs, ok := resolve(job{name: cand, qtype: dns.TypeSOA})
		if !ok {
			return delegation{}, answers, []finding.Finding{unresolvable(name, "SOA", cand, rs[0])}
		}
		zone = zoneCut(rs[0].msg, cand)
	}
	if zone == "" || isPublicSuffix(zone) {
		return delegation{zone: zone}, answers, []finding.Finding{{
			ID: finding.DNSResolveFailed, Severity: finding.Error,
			Summary: fmt.Sprintf("%s is not in a registered domain", bare(name)),
			Detail: fmt.Sprintf("Walking up from %s asking the resolvers for an SOA record found no zone below the public suffix%s.",
				bare(name), ifNonEmpty(" (the closest was "+bare(zone)+")", zone)),
			Fix:      "Check the spelling of the domain, and that it is registered and delegated to nameservers (ask the registrar).",
			Evidence: map[string]any{"name": bare(name), "zone": bare(zone)},
		}}
	}

	rs, ok := resolve(job{name: zone, qtype: dns.TypeNS})
	if !ok {
		return delegation{zone: zone}, answers, []finding.Finding{unresolvable(name, "NS", zone, rs[0])}
	}
	var nsNames []string
	glue := map[string][]string{}
	for _, rr := range rs[0].msg.Answer {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) {
			nsNames = append(nsNames, dns.CanonicalName(ns.Ns))
		}
	}
	for _, rr := range rs[0].msg.Extra {
		owner := dns.CanonicalName(rr.Header().Name)
		switch a := rr.(type) {
		case *dns.A:
			glue[owner] = append(glue[owner], a.A.String())
		case *dns.AAAA:
			glue[owner] = append(glue[owner], a.AAAA.String())
		}
	}
	slices.Sort(nsNames)
	nsNames = slices.Compact(nsNames)
	if len(nsNames) == 0 {
		return delegation{zone: zone}, answers, []finding.Finding{{
			ID: finding.DNSLameDelegation, Severity: finding.Error,
			Summary:  fmt.Sprintf("The zone %s has no nameservers", bare(zone)),
			Detail:   fmt.Sprintf("The resolvers answered NS %s with no NS record.", bare(zone)),
			Fix:      fmt.Sprintf("At the registrar of %s, set the nameservers of your DNS host.", bare(zone)),
			Evidence: map[string]any{"name": bare(name), "zone": bare(zone)},
		}}
	}

	var qs []job
	for _, ns := range nsNames {
		if len(glue[ns]) == 0 {
			qs = append(qs, job{name: ns, qtype: dns.TypeA}, job{name: ns, qtype: dns.TypeAAAA})
		}
	}
	addrs := glue
	if len(qs) > 0 {
		rs, _ := resolve(qs...)
		for _, r := range rs {
			if r.msg == nil {
				continue
			}
			for _, rr := range r.msg.Answer {
				switch a := rr.(type) {
				case *dns.A:
					addrs[r.Name] = append(addrs[r.Name], a.A.String())
				case *dns.AAAA:
					addrs[r.Name] = append(addrs[r.Name], a.AAAA.String())
				}
			}
		}
	}
	d := delegation{zone: zone}
	var homeless []string
	for _, ns := range nsNames {
		ips := slices.Compact(slices.Sorted(slices.Values(addrs[ns])))
		if len(ips) == 0 {
			homeless = append(homeless, bare(ns))
		}
		for _, ip := range ips {
			d.servers = append(d.servers, Server{Name: ns, Addr: net.JoinHostPort(ip, c.port), Authoritative: true})
		}
	}
	if len(d.servers) == 0 {
		return d, answers, []finding.Finding{{
			ID: finding.DNSLameDelegation, Severity: finding.Error,
			Summary: fmt.Sprintf("No nameserver of %s has an address", bare(zone)),
			Detail: fmt.Sprintf("The zone is delegated to %s, but the resolvers found no A or AAAA record for any of them.",
				strings.Join(homeless, ", ")),
			Fix:      fmt.Sprintf("At the registrar of %s, set nameservers that exist (with glue addresses when they are inside the zone).", bare(zone)),
			Evidence: map[string]any{"name": bare(name), "zone": bare(zone), "nameservers": homeless},
		}}
	}
	slices.SortFunc(d.servers, func(a, b Server) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Addr, b.Addr)) })
	c.remember(name, d)
	return d, answers, nil
}

// resolve asks the resolvers each question, trying the next resolver for
// the questions the previous one could not answer. It returns the best
// result per question and every answer in the order asked.
func (c *Checker) resolve(ctx context.Context, qs []job) ([]result, []Answer) {
	best := make([]result, len(qs))
	pending := make([]int, len(qs))
	for i := range pending {
		pending[i] = i
	}
	var answers []Answer
	for _, res := range c.resolvers {
		if len(pending) == 0 || ctx.Err() != nil {
			break
		}
		jobs := make([]job, len(pending))
		for k, i := range pending {
			jobs[k] = job{srv: res, name: qs[i].name, qtype: qs[i].qtype}
		}
		rs := c.run(ctx, jobs)
		var again []int
		for k, i := range pending {
			answers = append(answers, rs[k].Answer)
			best[i] = rs[k]
			if !usable(rs[k]) {
				again = append(again, i)
			}
		}
		pending = again
	}
	return best, answers
}

// usable reports whether a resolver's result is an answer (positive or
// negative) rather than a failure.
func usable(r result) bool {
	return r.msg != nil && (r.msg.Rcode == dns.RcodeSuccess || r.msg.Rcode == dns.RcodeNameError)
}

// zoneCut returns the zone whose SOA the reply to "SOA cand" shows, or "".
func zoneCut(m *dns.Msg, cand string) string {
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == dns.TypeCNAME && strings.EqualFold(rr.Header().Name, cand) {
			return "" // the SOA that follows belongs to the CNAME's target
		}
	}
	for _, rr := range m.Answer {
		if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, cand) {
			return cand
		}
	}
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, cand) {
			return dns.CanonicalName(soa.Hdr.Name)
		}
	}
	return ""
}

func unresolvable(name, qtype, qname string, r result) finding.Finding {
	what := r.Rcode
	if r.Error != "" {
		what += " (" + r.Error + ")"
	}
	return finding.Finding{
		ID: finding.DNSResolveFailed, Severity: finding.Error,
		Summary: fmt.Sprintf("No resolver could look up the zone of %s", bare(name)),
		Detail:  fmt.Sprintf("Asked the resolvers for %s %s; the last one, %s, answered %s.", qtype, bare(qname), r.Server.Addr, what),
		Fix: "Check that the resolvers (--dns-resolvers) are reachable on UDP and TCP port 53 and resolve public names. " +
			"If they answer SERVFAIL for this domain only, its nameservers or its DNSSEC signatures are broken: ask the DNS host.",
		Evidence: map[string]any{"name": bare(name), "question": qtype + " " + bare(qname), "rcode": r.Rcode, "resolver": r.Server.Addr},
	}
}

func isPublicSuffix(zone string) bool {
	z := bare(zone)
	if z == "" {
		return true
	}
	ps, _ := publicsuffix.PublicSuffix(z)
	return ps == z
}

// parent returns the parent of a canonical name ("." for a TLD).
func parent(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 && i+1 < len(name) {
		return name[i+1:]
	}
	return "."
}

// bare is a name as people write it: no trailing dot.
func bare(name string) string { return strings.TrimSuffix(name, ".") }

func ifNonEmpty(s, cond string) string {
	if cond == "" {
		return ""
	}
	return s
}
