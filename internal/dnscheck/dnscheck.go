// Package dnscheck looks up the records a tenant must publish for a custom
// domain, against the configured resolvers and against every authoritative
// server of the zone (recursion off), and turns what each one answered into
// findings with evidence and a fix. Verification (internal/customdomain) and
// `hallmark doctor dns` share it.
package dnscheck

import (
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
)

// Config configures a Checker. Zero values mean defaults.
type Config struct {
	// Resolvers are ip:port addresses of recursive resolvers used to find
	// the zone, its nameservers and their addresses, and asked for the
	// records too. Empty means the system's resolvers (/etc/resolv.conf).
	Resolvers []string
	// Timeout bounds one query to one server (default 2s).
	Timeout time.Duration
	// NameserverPort is the port authoritative servers are queried on
	// (default 53). Tests run several authoritative servers on loopback
	// addresses that share one unprivileged port.
	NameserverPort int
	// Concurrency bounds the queries in flight for one check (default 16).
	Concurrency int
	// DiscoveryTTL is how long the zone and nameservers found for a name
	// are reused by later checks (default 30s; negative disables the
	// cache). Record values are always asked afresh.
	DiscoveryTTL time.Duration
}

// Expectation is what a domain should publish.
type Expectation struct {
	// Name is the custom domain, normalised ASCII without a trailing dot
	// (login.acme.com).
	Name string
	// TXT records that must exist, each at its own name with one value.
	TXT []TXTRecord
	// CNAMETarget is the host Name must be a CNAME to; empty skips the
	// CNAME check.
	CNAMETarget string
	// CAAIdentity is the issuer domain of the configured CA
	// (letsencrypt.org); empty skips the CAA check unless CAAIdentities
	// names some.
	CAAIdentity string
	// CAAIdentities are more issuer domains of the same CA (an ACME
	// directory's meta.caaIdentities). The CA may issue when an issue
	// property names any of them (RFC 8659 §4.2). The primary identity,
	// the one a fix names, is CAAIdentity when set, else the first of
	// these.
	CAAIdentities []string
	// Persist, when set, is the persistent validation record
	// (dns-persist-01) the domain may publish; Report.PersistReady says
	// whether it is in place.
	Persist *PersistRecord
}

// caaIdentities returns the CA's identities, primary first, lower case,
// without duplicates or empty ones.
func (e Expectation) caaIdentities() []string {
	var ids []string
	for _, id := range append([]string{e.CAAIdentity}, e.CAAIdentities...) {
		id = strings.ToLower(strings.TrimSpace(id))
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// TXTRecord is one expected TXT record.
type TXTRecord struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Server is one server that was asked.
type Server struct {
	// Name is the nameserver's host name (ns1.acme.com), empty for a resolver.
	Name string `json:"name,omitempty"`
	// Addr is ip:port.
	Addr string `json:"addr"`
	// Authoritative is true for the zone's nameservers, false for resolvers.
	Authoritative bool `json:"authoritative"`
}

// Answer is what one server answered for one question.
type Answer struct {
	Server Server `json:"server"`
	Name   string `json:"name"`
	Type   string `json:"type"` // TXT, CNAME, CAA
	// Rcode is NOERROR, NXDOMAIN, SERVFAIL, REFUSED..., or TIMEOUT / ERROR
	// when no answer came.
	Rcode string `json:"rcode"`
	// Values are the record data in presentation form without the owner
	// (for TXT the joined character strings, unquoted).
	Values []string `json:"values,omitempty"`
	// TTL is the smallest TTL of the answer, in seconds.
	TTL uint32 `json:"ttl,omitempty"`
	// CNAME is the target of a CNAME the server answered with instead of
	// (or before) records of the asked type.
	CNAME string `json:"cname,omitempty"`
	// Authoritative is the AA bit.
	Authoritative bool          `json:"aa"`
	Error         string        `json:"error,omitempty"`
	RTT           time.Duration `json:"rttNs,omitempty"`
}

// Report is the outcome of one check.
type Report struct {
	Name        string            `json:"name"`
	Zone        string            `json:"zone,omitempty"`
	Nameservers []Server          `json:"nameservers,omitempty"`
	Answers     []Answer          `json:"answers,omitempty"`
	Findings    []finding.Finding `json:"findings"`
	CheckedAt   time.Time         `json:"checkedAt"`
	Duration    time.Duration     `json:"durationNs"`
	// PersistReady: the expectation's persistent record is on every
	// authoritative server, valid for more than a day, and no CAA record
	// forbids its use.
	PersistReady bool `json:"persistReady,omitempty"`
	// Error is set when the check could not complete (its context ended);
	// the findings are then partial and must not be acted upon.
	Error string `json:"error,omitempty"`
}

// OK reports whether the expectation is met: no finding is an error.
func (r Report) OK() bool { return !finding.HasError(r.Findings) }
