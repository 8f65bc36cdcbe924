package dnscheck

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/hallmark-dev/hallmark/finding"
)

// evaluation gathers the answers of one check and turns them into findings.
type evaluation struct {
	c      *Checker
	d      delegation
	name   string // canonical
	target string // canonical CNAME target, "" when not checked
	txt    []TXTRecord
	caaIDs []string // primary first
	// persist is the persistent record expected, nil when none; ready
	// when it is in place.
	persist      *PersistRecord
	persistReady bool

	results []result
	byKey   map[qkey]result

	control string // first label of the wildcard control names

	caaAnswers  []Answer
	caaFindings []finding.Finding

	answered map[string]bool       // question → some authoritative server gave the right answer
	faults   map[faultKey][]string // (id, server) → questions it failed
	fs       []finding.Finding
}

type qkey struct {
	addr  string
	name  string
	qtype uint16
}

type faultKey struct {
	id  string
	srv Server
}

func newEvaluation(c *Checker, d delegation, name string, e Expectation) *evaluation {
	ev := &evaluation{
		c: c, d: d, name: name, caaIDs: e.caaIdentities(),
		byKey:    make(map[qkey]result),
		answered: make(map[string]bool),
		faults:   make(map[faultKey][]string),
	}
	if e.CNAMETarget != "" {
		ev.target = dns.CanonicalName(strings.TrimSpace(e.CNAMETarget))
	}
	for _, t := range e.TXT {
		ev.txt = append(ev.txt, TXTRecord{Name: dns.CanonicalName(strings.TrimSpace(t.Name)), Value: t.Value})
	}
	if e.Persist != nil {
		p := *e.Persist
		p.Name = dns.CanonicalName(strings.TrimSpace(p.Name))
		ev.persist = &p
	}
	return ev
}

// collect asks the questions: the records on every authoritative server and
// resolver, then the follow-ups that explain a wrong answer (the doubled
// name, records blocking a CNAME), and CAA alongside.
func (ev *evaluation) collect(ctx context.Context) {
	var wg sync.WaitGroup
	if len(ev.caaIDs) > 0 || ev.persist != nil {
		wg.Go(func() { ev.caaAnswers, ev.caaFindings = ev.c.checkCAA(ctx, ev.name, ev.caaIDs, ev.persist) })
	}

	var jobs []job
	for _, s := range ev.d.servers {
		jobs = append(jobs, job{srv: s, name: ev.d.zone, qtype: dns.TypeSOA})
		jobs = append(jobs, ev.recordJobs(s)...)
	}
	for _, s := range ev.c.resolvers {
		jobs = append(jobs, ev.recordJobs(s)...)
	}
	ev.add(ev.c.run(ctx, jobs))

	jobs = jobs[:0]
	doubled := func(name string, qtype uint16) {
		for _, s := range ev.d.servers {
			jobs = append(jobs, job{srv: s, name: ev.doubled(name), qtype: qtype},
				job{srv: s, name: ev.wildcardControl(ev.doubled(name)), qtype: qtype})
		}
	}
	for _, t := range ev.txt {
		if ev.noneHas(t.Name, dns.TypeTXT, func(vs []string) bool { return len(vs) > 0 }) {
			doubled(t.Name, dns.TypeTXT)
		}
	}
	if p := ev.persist; p != nil && ev.noneHas(p.Name, dns.TypeTXT, func(vs []string) bool { return len(vs) > 0 }) {
		doubled(p.Name, dns.TypeTXT)
	}
	if ev.target != "" && ev.name != ev.d.zone {
		// A and AAAA are always asked: a right CNAME with an address
		// record beside it (a broken zone some DNS hosts serve) sends
		// resolvers asking for A to the other address.
		types := []uint16{dns.TypeA, dns.TypeAAAA}
		if !ev.allHave(ev.name, dns.TypeCNAME, func(vs []string) bool { return containsName(vs, ev.target) }) {
			types = append(types, dns.TypeMX, dns.TypeTXT)
			doubled(ev.name, dns.TypeCNAME)
		}
		for _, s := range ev.d.servers {
			for _, t := range types {
				jobs = append(jobs, job{srv: s, name: ev.name, qtype: t},
					job{srv: s, name: ev.wildcardControl(ev.name), qtype: t})
			}
		}
	}
	if len(jobs) > 0 {
		ev.add(ev.c.run(ctx, jobs))
	}
	ev.followChains(ctx)
	wg.Wait()
}

// maxChain bounds how many CNAME hops are followed (resolvers give up
// around 8 to 16).
const maxChain = 8

// followChains asks a resolver, hop by hop, where the CNAME targets other
// than the expected one lead: a chain that ends at the expected target
// reaches it as resolvers see it (a CDN or a tenant's own alias in
// between), and is not a wrong target.
func (ev *evaluation) followChains(ctx context.Context) {
	if ev.target == "" || len(ev.c.resolvers) == 0 {
		return
	}
	res := ev.c.resolvers[0]
	seen := map[string]bool{ev.target: true}
	var next []string
	for _, s := range ev.d.servers {
		if r, ok := ev.get(s, ev.name, dns.TypeCNAME); ok && authFault(r) == "" {
			for _, v := range r.Values {
				next = append(next, dns.CanonicalName(v))
			}
		}
	}
	for hop := 0; hop < maxChain && len(next) > 0; hop++ {
		var jobs []job
		for _, n := range next {
			if !seen[n] {
				seen[n] = true
				jobs = append(jobs, job{srv: res, name: n, qtype: dns.TypeCNAME})
			}
		}
		next = nil
		rs := ev.c.run(ctx, jobs)
		ev.add(rs)
		for _, r := range rs {
			for _, v := range r.Values {
				next = append(next, dns.CanonicalName(v))
			}
		}
	}
}

// chainTo returns the chain from a CNAME target to the expected one, as
// the resolver answered it, or nil when it does not get there.
func (ev *evaluation) chainTo(first string) []string {
	if len(ev.c.resolvers) == 0 {
		return nil
	}
	chain := []string{bare(strings.ToLower(first))}
	cur := dns.CanonicalName(first)
	for range maxChain {
		r, ok := ev.get(ev.c.resolvers[0], cur, dns.TypeCNAME)
		if !ok || len(r.Values) != 1 {
			return nil
		}
		cur = dns.CanonicalName(r.Values[0])
		chain = append(chain, bare(cur))
		if cur == ev.target {
			return chain
		}
	}
	return nil
}

func (ev *evaluation) recordJobs(s Server) []job {
	var jobs []job
	if ev.target != "" {
		jobs = append(jobs, job{srv: s, name: ev.name, qtype: dns.TypeCNAME})
	}
	for _, t := range ev.txt {
		jobs = append(jobs, job{srv: s, name: t.Name, qtype: dns.TypeTXT})
	}
	if ev.persist != nil && s.Authoritative {
		jobs = append(jobs, job{srv: s, name: ev.persist.Name, qtype: dns.TypeTXT})
	}
	return jobs
}

func (ev *evaluation) add(rs []result) {
	for _, r := range rs {
		ev.results = append(ev.results, r)
		ev.byKey[qkey{r.Server.Addr, r.Name, dns.StringToType[r.Type]}] = r
	}
}

func (ev *evaluation) get(s Server, name string, qtype uint16) (result, bool) {
	r, ok := ev.byKey[qkey{s.Addr, name, qtype}]
	return r, ok
}

// noneHas reports whether no authoritative server answered name/qtype with
// values satisfying ok (faulty servers count as not having it).
func (ev *evaluation) noneHas(name string, qtype uint16, ok func([]string) bool) bool {
	for _, s := range ev.d.servers {
		if r, found := ev.get(s, name, qtype); found && authFault(r) == "" && ok(r.Values) {
			return false
		}
	}
	return true
}

// allHave reports whether every authoritative server answered name/qtype
// with values satisfying ok.
func (ev *evaluation) allHave(name string, qtype uint16, ok func([]string) bool) bool {
	for _, s := range ev.d.servers {
		if r, found := ev.get(s, name, qtype); !found || authFault(r) != "" || !ok(r.Values) {
			return false
		}
	}
	return true
}

// wildcardControl is a sibling of name under the same parent that no one
// creates: when a server answers it with the same records as name, a
// wildcard synthesised both (RFC 4592 section 3.3.1), and nothing sits at
// name itself. A real record at name makes its parent exist, so a wildcard
// above no longer answers the sibling.
func (ev *evaluation) wildcardControl(name string) string {
	if ev.control == "" {
		var b [6]byte
		rand.Read(b[:])
		ev.control = "_hallmark-wildcard-probe-" + hex.EncodeToString(b[:])
	}
	i, _ := dns.NextLabel(name, 0)
	return ev.control + "." + name[i:]
}

// synthesised reports whether server s answered name/qtype with exactly
// what it answered the wildcard control: a wildcard's records.
func (ev *evaluation) synthesised(s Server, name string, qtype uint16) bool {
	r, ok := ev.get(s, name, qtype)
	c, cok := ev.get(s, ev.wildcardControl(name), qtype)
	return ok && cok && authFault(c) == "" && len(c.Values) > 0 && slices.Equal(uniq(r.Values), uniq(c.Values))
}

// atDoubled returns the servers holding a record of qtype at the doubled
// name of qname with its values, and apart the servers whose answer there
// a wildcard synthesised.
func (ev *evaluation) atDoubled(qname string, qtype uint16, norm func(string) string) (at []Server, vals []string, wild []Server, wildVals []string) {
	dbl := ev.doubled(qname)
	for _, s := range ev.d.servers {
		r, ok := ev.get(s, dbl, qtype)
		if !ok || authFault(r) != "" || len(r.Values) == 0 {
			continue
		}
		if ev.synthesised(s, dbl, qtype) {
			wild = append(wild, s)
			for _, v := range r.Values {
				wildVals = append(wildVals, norm(v))
			}
			continue
		}
		at = append(at, s)
		for _, v := range r.Values {
			vals = append(vals, norm(v))
		}
	}
	return at, uniq(vals), wild, uniq(wildVals)
}

// wildcardFinding notes that the doubled name was answered by a wildcard,
// so the record is not there: the missing record is the finding.
func (ev *evaluation) wildcardFinding(qtype, qname string, wild []Server, vals []string) finding.Finding {
	dbl := bare(ev.doubled(qname))
	return finding.Finding{
		ID: finding.DNSWildcardSynthesized, Severity: finding.Info,
		Summary: fmt.Sprintf("A wildcard record answers %s %s; no record sits there", qtype, dbl),
		Detail: fmt.Sprintf("%s answered %s %s with %s, and a made-up name beside it with the same: a wildcard (*.%s or below) synthesised the answer (RFC 4592), so the record was not created at the doubled name.",
			list(wild), qtype, dbl, quoteAll(vals), bare(ev.d.zone)),
		Fix:      fmt.Sprintf("Nothing to delete at %s: create the %s record at %s itself (see the finding beside this one).", dbl, qtype, bare(qname)),
		Evidence: map[string]any{"name": bare(qname), "doubledName": dbl, "type": qtype, "found": vals, "servers": labels(wild)},
	}
}

// doubled is name with the zone appended once more: what a registrar's form
// makes of a fully qualified name typed into its "host" field.
func (ev *evaluation) doubled(name string) string { return name + ev.d.zone }

func (ev *evaluation) answers() []Answer {
	out := make([]Answer, 0, len(ev.results)+len(ev.caaAnswers))
	for _, r := range ev.results {
		out = append(out, r.Answer)
	}
	return append(out, ev.caaAnswers...)
}

func (ev *evaluation) findings() []finding.Finding {
	ev.checkSOA()
	for _, t := range ev.txt {
		ev.checkTXT(t)
	}
	if ev.target != "" {
		ev.checkCNAME()
	}
	if ev.persist != nil {
		ev.checkPersist(time.Now())
		if slices.ContainsFunc(ev.caaFindings, func(f finding.Finding) bool {
			return f.ID == finding.CAAForbidsAccount || f.ID == finding.CAAForbidsMethod
		}) {
			ev.persistReady = false
		}
	}
	ev.checkResolvers()
	ev.faultFindings()
	return append(ev.fs, ev.caaFindings...)
}

// skip marks an answer that says nothing about the server (no IPv6 route
// from here).
const skip = "skip"

// authFault classifies an authoritative server's answer: "" when it is an
// authoritative answer, skip, or the id of the fault.
func authFault(r result) string {
	switch r.Rcode {
	case RcodeUnreachable:
		return skip
	case RcodeTimeout, RcodeError:
		return finding.DNSTimeout
	case "SERVFAIL":
		return finding.DNSServfail
	case "NOERROR", "NXDOMAIN":
		if !r.Authoritative {
			return finding.DNSLameDelegation
		}
		return ""
	}
	return finding.DNSLameDelegation // REFUSED, NOTIMP, FORMERR...
}

func (ev *evaluation) fault(s Server, id, question string) {
	if id == "" || id == skip {
		return
	}
	k := faultKey{id, s}
	ev.faults[k] = append(ev.faults[k], question)
}

func question(qtype, name string) string { return qtype + " " + bare(name) }

// checkSOA asks whether each nameserver serves the zone at all.
func (ev *evaluation) checkSOA() {
	q := question("SOA", ev.d.zone)
	for _, s := range ev.d.servers {
		r, _ := ev.get(s, ev.d.zone, dns.TypeSOA)
		id := authFault(r)
		if id == "" && (r.Rcode != "NOERROR" || len(r.Values) == 0) {
			id = finding.DNSLameDelegation
		}
		if id == "" {
			ev.answered[q] = true
		}
		ev.fault(s, id, q)
	}
}

func (ev *evaluation) checkTXT(t TXTRecord) {
	q := question("TXT", t.Name)
	var have, quoted, other, missing []Server
	var quotedVals, otherVals []string
	for _, s := range ev.d.servers {
		r, _ := ev.get(s, t.Name, dns.TypeTXT)
		if id := authFault(r); id != "" {
			ev.fault(s, id, q)
			continue
		}
		switch {
		case slices.Contains(r.Values, t.Value):
			have = append(have, s)
		case slices.ContainsFunc(r.Values, func(v string) bool { return looseEqual(v, t.Value) }):
			quoted = append(quoted, s)
			for _, v := range r.Values {
				if looseEqual(v, t.Value) {
					quotedVals = append(quotedVals, v)
				}
			}
		case len(r.Values) > 0:
			other = append(other, s)
			otherVals = append(otherVals, r.Values...)
		default:
			missing = append(missing, s)
		}
	}
	ev.answered[q] = len(have) > 0
	name := bare(t.Name)
	rel := ev.relative(t.Name)
	zone := bare(ev.d.zone)
	lacking := slices.Concat(quoted, other, missing)
	ev0 := map[string]any{"name": name, "type": "TXT", "expected": t.Value}

	switch {
	case len(have) > 0 && len(lacking) > 0:
		ev.fs = append(ev.fs, ev.partial("TXT", t.Name, fmt.Sprintf("the TXT record %s", name), have, lacking, ev0))
	case len(have) > 0:
	case len(quoted) > 0:
		found := uniq(quotedVals)
		ev.fs = append(ev.fs, finding.Finding{
			ID: finding.DNSValueQuoted, Severity: finding.Error,
			Summary: fmt.Sprintf("The TXT record %s holds %s: the value carries literal quotes or spaces", name, quoteAll(found)),
			Detail: fmt.Sprintf("Asked %s for TXT %s: the answer was %s; expected %q.",
				list(quoted), name, quoteAll(found), t.Value),
			Fix: fmt.Sprintf("At the DNS host of %s, edit the TXT record %q and enter the value as %s, with no quotes or spaces around it (the DNS host adds any quoting itself).",
				zone, rel, t.Value),
			Evidence: with(ev0, "found", found, "servers", labels(quoted)),
		})
	case len(other) > 0:
		found := uniq(otherVals)
		ev.fs = append(ev.fs, finding.Finding{
			ID: finding.DNSValueMismatch, Severity: finding.Error,
			Summary: fmt.Sprintf("The TXT record %s holds another value", name),
			Detail: fmt.Sprintf("Asked %s for TXT %s: the answer was %s; expected %q.",
				list(other), name, quoteAll(found), t.Value),
			Fix: fmt.Sprintf("At the DNS host of %s, set the value of the TXT record %q to %s (an old value from an earlier attempt can be deleted).",
				zone, rel, t.Value),
			Evidence: with(ev0, "found", found, "servers", labels(other)),
		})
	case len(missing) > 0:
		at, vals, wild, wildVals := ev.atDoubled(t.Name, dns.TypeTXT, func(v string) string { return v })
		if len(at) > 0 {
			ev.fs = append(ev.fs, ev.doubledFinding("TXT", t.Name, at, vals, ev0))
			return
		}
		if len(wild) > 0 {
			ev.fs = append(ev.fs, ev.wildcardFinding("TXT", t.Name, wild, wildVals))
		}
		ev.fs = append(ev.fs, finding.Finding{
			ID: finding.DNSRecordMissing, Severity: finding.Error,
			Summary: fmt.Sprintf("The TXT record %s does not exist", name),
			Detail:  fmt.Sprintf("Asked %s for TXT %s: %s.", list(missing), name, ev.said(missing, t.Name, dns.TypeTXT)),
			Fix: fmt.Sprintf("At the DNS host of %s, create a TXT record with name (host) %q and value %s. If the form wants the full name, enter %s. with a trailing dot.",
				zone, rel, t.Value, name),
			Evidence: with(ev0, "servers", labels(missing)),
		})
	}
}

func (ev *evaluation) checkCNAME() {
	name := bare(ev.name)
	target := bare(ev.target)
	zone := bare(ev.d.zone)
	ev0 := map[string]any{"name": name, "type": "CNAME", "expected": target}
	if ev.name == ev.d.zone {
		ev.fs = append(ev.fs, finding.Finding{
			ID: finding.DNSApexCNAME, Severity: finding.Error,
			Summary: fmt.Sprintf("%s is the apex of its zone, where a CNAME cannot exist", name),
			Detail: fmt.Sprintf("The zone of %s is %s itself; its apex must hold the SOA and NS records, and a CNAME cannot stand beside other records.",
				name, zone),
			Fix: fmt.Sprintf("Use a subdomain such as login.%s as the custom domain and create the CNAME there, or, if your DNS host offers it, an ALIAS/ANAME record or CNAME flattening at the apex pointing to %s.",
				name, target),
			Evidence: with(ev0, "zone", zone),
		})
		return
	}

	q := question("CNAME", ev.name)
	var have, wrong, missing, chained []Server
	var wrongVals, chain []string
	for _, s := range ev.d.servers {
		r, _ := ev.get(s, ev.name, dns.TypeCNAME)
		if id := authFault(r); id != "" {
			ev.fault(s, id, q)
			continue
		}
		var c []string
		if len(r.Values) == 1 {
			c = ev.chainTo(r.Values[0])
		}
		switch {
		case containsName(r.Values, ev.target):
			have = append(have, s)
		case c != nil:
			have, chained, chain = append(have, s), append(chained, s), c
		case len(r.Values) > 0:
			wrong = append(wrong, s)
			for _, v := range r.Values {
				wrongVals = append(wrongVals, bare(strings.ToLower(v)))
			}
		default:
			missing = append(missing, s)
		}
	}
	ev.answered[q] = len(have) > 0

	// Other records at the name (asked only when some server lacks the
	// right CNAME).
	others := map[string][]string{}
	var otherSrv []Server
	for _, s := range ev.d.servers {
		found := false
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT} {
			if r, ok := ev.get(s, ev.name, t); ok && authFault(r) == "" && r.CNAME == "" && len(r.Values) > 0 && !ev.synthesised(s, ev.name, t) {
				others[typeString(t)] = uniq(append(others[typeString(t)], r.Values...))
				found = true
			}
		}
		if found {
			otherSrv = append(otherSrv, s)
		}
	}
	otherTypes := slices.Sorted(func(yield func(string) bool) {
		for t := range others {
			if !yield(t) {
				return
			}
		}
	})
	rel := ev.relative(ev.name)

	switch {
	case len(have) > 0 && len(wrong)+len(missing) > 0:
		ev.fs = append(ev.fs, ev.partial("CNAME", ev.name, fmt.Sprintf("the CNAME %s → %s", name, target), have, slices.Concat(wrong, missing), ev0))
	case len(have) > 0:
		if len(chained) > 0 {
			path := strings.Join(append([]string{name}, chain...), " → ")
			ev.fs = append(ev.fs, finding.Finding{
				ID: finding.DNSCNAMEChain, Severity: finding.Info,
				Summary:  fmt.Sprintf("%s reaches %s through a chain of CNAMEs: %s", name, target, path),
				Detail:   fmt.Sprintf("%s answered CNAME %s with %s, which a resolver follows to %s. Resolvers and clients follow such a chain, so the name reaches the service; every link must keep pointing on.", list(chained), name, chain[0], target),
				Fix:      fmt.Sprintf("Nothing to change. If a link in between is not yours to keep (a CDN being left), point the CNAME %q at %s directly.", rel, target),
				Evidence: with(ev0, "chain", chain, "servers", labels(chained)),
			})
		}
	case len(wrong) > 0:
		found := uniq(wrongVals)
		ev.fs = append(ev.fs, finding.Finding{
			ID: finding.DNSCNAMEWrongTarget, Severity: finding.Error,
			Summary:  fmt.Sprintf("%s is a CNAME to %s, not to %s", name, strings.Join(found, ", "), target),
			Detail:   fmt.Sprintf("Asked %s for CNAME %s: the answer was %s; expected %s.", list(wrong), name, strings.Join(found, ", "), target),
			Fix:      fmt.Sprintf("At the DNS host of %s, change the CNAME record %q to point to %s.", zone, rel, target),
			Evidence: with(ev0, "found", found, "servers", labels(wrong)),
		})
	case len(missing) > 0 && len(others) == 0:
		at, vals, wild, wildVals := ev.atDoubled(ev.name, dns.TypeCNAME, func(v string) string { return bare(strings.ToLower(v)) })
		if len(at) > 0 {
			ev.fs = append(ev.fs, ev.doubledFinding("CNAME", ev.name, at, vals, ev0))
			return
		}
		if len(wild) > 0 {
			ev.fs = append(ev.fs, ev.wildcardFinding("CNAME", ev.name, wild, wildVals))
		}
		ev.fs = append(ev.fs, finding.Finding{
			ID: finding.DNSRecordMissing, Severity: finding.Error,
			Summary: fmt.Sprintf("The CNAME record %s → %s does not exist", name, target),
			Detail:  fmt.Sprintf("Asked %s for CNAME %s: %s.", list(missing), name, ev.said(missing, ev.name, dns.TypeCNAME)),
			Fix: fmt.Sprintf("At the DNS host of %s, create a CNAME record with name (host) %q pointing to %s.",
				zone, rel, target),
			Evidence: with(ev0, "servers", labels(missing)),
		})
	}
	if len(others) > 0 {
		var parts []string
		for _, t := range otherTypes {
			parts = append(parts, t+" "+strings.Join(others[t], ", "))
		}
		summary := fmt.Sprintf("Other records at %s (%s) block the CNAME", name, strings.Join(otherTypes, ", "))
		consequence := "A name that has a CNAME can have no other record."
		if len(have)+len(wrong) > 0 {
			summary = fmt.Sprintf("The CNAME at %s stands beside other records (%s)", name, strings.Join(otherTypes, ", "))
			consequence = "A name that has a CNAME can have no other record (RFC 1034 section 3.6.2, RFC 2181 section 10.1): resolvers asking for an address get these records instead of following the CNAME, so the name does not reach " + target + "."
		}
		ev.fs = append(ev.fs, finding.Finding{
			ID: finding.DNSCNAMEConflict, Severity: finding.Error,
			Summary: summary,
			Detail: fmt.Sprintf("Asked %s for other records at %s: the answer was %s. %s",
				list(otherSrv), name, strings.Join(parts, "; "), consequence),
			Fix: fmt.Sprintf("At the DNS host of %s, delete the %s records named %q, then create the CNAME %q pointing to %s.",
				zone, strings.Join(otherTypes, ", "), rel, rel, target),
			Evidence: with(ev0, "found", others, "servers", labels(otherSrv)),
		})
	}
}

func (ev *evaluation) partial(qtype, qname, what string, have, lacking []Server, evidence map[string]any) finding.Finding {
	ttl := uint32(0)
	for _, s := range have {
		if r, ok := ev.get(s, qname, dns.StringToType[qtype]); ok && (ttl == 0 || r.TTL < ttl) {
			ttl = r.TTL
		}
	}
	return finding.Finding{
		ID: finding.DNSPropagationPartial, Severity: finding.Warning,
		Summary: fmt.Sprintf("Only some nameservers of %s have %s yet", bare(ev.d.zone), what),
		Detail: fmt.Sprintf("Asked every nameserver for %s %s. Right answer: %s. Not yet: %s (%s). A change can take up to 24 hours to reach every server; resolvers may keep the old answer for its TTL (%ds).",
			qtype, bare(qname), list(have), list(lacking), ev.said(lacking, qname, dns.StringToType[qtype]), ttl),
		Fix: fmt.Sprintf("Wait and check again. If the servers still disagree after 24 hours, check at the DNS host of %s that the change was saved, and that all its servers (%s) are the ones it operates.",
			bare(ev.d.zone), list(ev.d.servers)),
		Evidence: with(evidence, "have", labels(have), "lacking", labels(lacking), "ttl", ttl),
	}
}

func (ev *evaluation) doubledFinding(qtype, qname string, at []Server, vals []string, evidence map[string]any) finding.Finding {
	name := bare(qname)
	dbl := bare(ev.doubled(qname))
	rel := ev.relative(qname)
	return finding.Finding{
		ID: finding.DNSRecordAtDoubledName, Severity: finding.Error,
		Summary: fmt.Sprintf("The %s record is at %s instead of %s", qtype, dbl, name),
		Detail: fmt.Sprintf("No nameserver has %s %s, but %s answered %s %s with %s: the DNS host appended the zone to the full name that was typed.",
			qtype, name, list(at), qtype, dbl, quoteAll(vals)),
		Fix: fmt.Sprintf("At the DNS host of %s, edit the record: enter only %q as its name (the DNS host adds .%s itself), or the full name with a trailing dot (%s).",
			bare(ev.d.zone), rel, bare(ev.d.zone), name+"."),
		Evidence: with(evidence, "doubledName", dbl, "found", vals, "servers", labels(at)),
	}
}

// checkResolvers reports resolvers that fail; the authoritative servers
// decide the findings about the records themselves.
func (ev *evaluation) checkResolvers() {
	for _, s := range ev.c.resolvers {
		var qs []string
		id := ""
		for _, r := range ev.results {
			if r.Server != s {
				continue
			}
			switch r.Rcode {
			case RcodeTimeout, RcodeError:
				id = finding.DNSTimeout
			case "SERVFAIL":
				id = finding.DNSServfail
			case "NOERROR", "NXDOMAIN", RcodeUnreachable:
				continue
			default:
				id = finding.DNSResolveFailed
			}
			qs = append(qs, question(r.Type, r.Name)+": "+r.Rcode)
		}
		if len(qs) == 0 {
			continue
		}
		ev.fs = append(ev.fs, finding.Finding{
			ID: id, Severity: finding.Warning,
			Summary:  fmt.Sprintf("The resolver %s fails to answer", s.Addr),
			Detail:   fmt.Sprintf("Asked the resolver %s: %s. The nameservers were asked directly, so the check itself stands.", s.Addr, strings.Join(qs, "; ")),
			Fix:      "Check the resolvers Hallmark uses (--dns-resolvers): they must be reachable on UDP and TCP port 53 and resolve public names.",
			Evidence: map[string]any{"name": bare(ev.name), "servers": []string{s.Addr}, "answers": qs},
		})
	}
}

// faultFindings turns the faults of authoritative servers into findings: a
// warning when other servers gave the right answer to every question it
// failed, an error otherwise.
func (ev *evaluation) faultFindings() {
	keys := slices.SortedFunc(func(yield func(faultKey) bool) {
		for k := range ev.faults {
			if !yield(k) {
				return
			}
		}
	}, func(a, b faultKey) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.srv.Name, b.srv.Name), cmp.Compare(a.srv.Addr, b.srv.Addr))
	})
	for _, k := range keys {
		qs := ev.faults[k]
		sev := finding.Warning
		for _, q := range qs {
			if !ev.answered[q] {
				sev = finding.Error
			}
		}
		label := list([]Server{k.srv})
		var what []string
		timedOut := true
		for _, q := range qs {
			r, _ := ev.findResult(k.srv, q)
			w := q + ": " + r.Rcode
			if r.Rcode == RcodeError && r.Error != "" {
				w += " (" + r.Error + ")"
			}
			if r.Rcode != RcodeTimeout {
				timedOut = false
			}
			if r.Rcode == "NOERROR" || r.Rcode == "NXDOMAIN" {
				w += " without the authoritative (AA) bit"
				if r.Authoritative {
					w = q + ": " + r.Rcode + " with no SOA record"
				}
			}
			what = append(what, w)
		}
		f := finding.Finding{
			ID: k.id, Severity: sev,
			Detail:   fmt.Sprintf("Asked %s (recursion off): %s.", label, strings.Join(what, "; ")),
			Evidence: map[string]any{"name": bare(ev.name), "zone": bare(ev.d.zone), "servers": labels([]Server{k.srv}), "answers": what},
		}
		zone := bare(ev.d.zone)
		others := "the other nameservers answered correctly"
		if sev == finding.Error {
			others = "no other nameserver gave the right answer"
		}
		switch k.id {
		case finding.DNSServfail:
			f.Summary = fmt.Sprintf("The nameserver %s answers SERVFAIL (%s)", label, others)
			f.Fix = fmt.Sprintf("The server cannot serve the zone %s: check the zone at the DNS host (a zone that failed to load, or broken DNSSEC signatures), or remove the server from the NS records of %s at the registrar.", zone, zone)
		case finding.DNSTimeout:
			f.Summary = fmt.Sprintf("The nameserver %s does not answer within %v (%s)", label, ev.c.timeout, others)
			if !timedOut {
				f.Summary = fmt.Sprintf("The nameserver %s cannot be reached (%s)", label, others)
			}
			f.Fix = fmt.Sprintf("Check that the server is running and reachable on UDP and TCP port 53 (a firewall may drop DNS), or remove it from the NS records of %s at the registrar.", zone)
		case finding.DNSLameDelegation:
			f.Summary = fmt.Sprintf("The nameserver %s is listed for %s but does not serve it (%s)", label, zone, others)
			f.Fix = fmt.Sprintf("At the registrar of %s, set the nameservers to exactly those of the DNS host that holds the zone, or create the zone %s on %s.", zone, zone, bare(k.srv.Name))
		}
		ev.fs = append(ev.fs, f)
	}
}

func (ev *evaluation) findResult(s Server, q string) (result, bool) {
	for _, r := range ev.results {
		if r.Server == s && question(r.Type, r.Name) == q {
			return r, true
		}
	}
	return result{}, false
}

// said describes what servers answered for name/qtype.
func (ev *evaluation) said(servers []Server, name string, qtype uint16) string {
	var parts []string
	for _, s := range servers {
		r, _ := ev.get(s, name, qtype)
		w := r.Rcode
		switch {
		case r.Rcode == "NOERROR" && r.CNAME != "":
			w = "a CNAME to " + bare(r.CNAME)
		case r.Rcode == "NOERROR" && len(r.Values) == 0:
			w = "NOERROR with no " + typeString(qtype) + " record"
		case len(r.Values) > 0:
			w = quoteAll(r.Values)
		}
		parts = append(parts, list([]Server{s})+" answered "+w)
	}
	return strings.Join(parts, ", ")
}

// relative is name as it is typed at a DNS host: relative to the zone, "@"
// for the apex.
func (ev *evaluation) relative(name string) string {
	if name == ev.d.zone {
		return "@"
	}
	return strings.TrimSuffix(name, "."+ev.d.zone)
}

// looseEqual reports whether v is want once surrounding whitespace and
// quote characters are taken away.
func looseEqual(v, want string) bool {
	const cut = " \t\r\n\u00a0\"'“”"
	return v != want && (strings.Trim(v, cut) == want || strings.Trim(strings.ReplaceAll(v, `"`, ""), cut) == want)
}

func containsName(vs []string, name string) bool {
	return slices.ContainsFunc(vs, func(v string) bool { return strings.EqualFold(dns.Fqdn(v), dns.Fqdn(name)) })
}

// list is labels joined for a sentence.
func list(ss []Server) string { return strings.Join(labels(ss), ", ") }

// labels names servers for people: "ns1.acme.com (192.0.2.1:53)", or the
// address alone for a resolver.
func labels(ss []Server) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		if s.Name == "" {
			out[i] = s.Addr
		} else {
			out[i] = bare(s.Name) + " (" + s.Addr + ")"
		}
	}
	return out
}

func uniq(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// with returns a copy of m with the key/value pairs added.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
