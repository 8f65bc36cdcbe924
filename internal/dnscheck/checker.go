package dnscheck

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/hallmark-dev/hallmark/finding"
)

// Checker checks expectations against DNS. It is safe for concurrent use.
type Checker struct {
	resolvers    []Server
	timeout      time.Duration
	port         string
	concurrency  int
	discoveryTTL time.Duration
	udp, tcp     *dns.Client
	pool         udpPool

	mu    sync.Mutex
	cache map[string]delegation // by checked name
}

// New validates cfg and returns a Checker.
func New(cfg Config) (*Checker, error) {
	c := &Checker{
		timeout:      cmp.Or(cfg.Timeout, 2*time.Second),
		concurrency:  cmp.Or(cfg.Concurrency, 16),
		discoveryTTL: cmp.Or(cfg.DiscoveryTTL, 30*time.Second),
		cache:        make(map[string]delegation),
	}
	if c.timeout < 0 {
		return nil, fmt.Errorf("dnscheck: negative timeout %v", cfg.Timeout)
	}
	if c.concurrency < 0 {
		return nil, fmt.Errorf("dnscheck: negative concurrency %d", cfg.Concurrency)
	}
	port := cmp.Or(cfg.NameserverPort, 53)
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("dnscheck: nameserver port %d out of range", cfg.NameserverPort)
	}
	c.port = fmt.Sprint(port)

	addrs := cfg.Resolvers
	if len(addrs) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("dnscheck: reading system resolvers: %w", err)
		}
		for _, s := range cc.Servers {
			addrs = append(addrs, net.JoinHostPort(s, cc.Port))
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("dnscheck: /etc/resolv.conf names no resolver")
		}
	}
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(a))
		if err != nil {
			return nil, fmt.Errorf("dnscheck: resolver %q is not ip:port: %w", a, err)
		}
		c.resolvers = append(c.resolvers, Server{Addr: ap.String()})
	}
	c.udp = &dns.Client{Net: "udp", Timeout: c.timeout, UDPSize: ednsSize}
	c.tcp = &dns.Client{Net: "tcp", Timeout: c.timeout}
	return c, nil
}

// Check looks up everything e asks for and returns the answers and the
// findings. It does not return an error: a failure to look something up is
// a finding. When ctx ends early, Report.Error says so.
func (c *Checker) Check(ctx context.Context, e Expectation) Report {
	start := time.Now()
	r := Report{Name: e.Name, CheckedAt: start.UTC()}
	defer func() { r.Duration = time.Since(start) }()

	name := dns.CanonicalName(strings.TrimSpace(e.Name))
	if _, ok := dns.IsDomainName(name); !ok || name == "." {
		r.Findings = []finding.Finding{{
			ID: finding.DNSResolveFailed, Severity: finding.Error,
			Summary:  fmt.Sprintf("%q is not a valid domain name", e.Name),
			Fix:      "Enter the domain as a host name such as login.example.com.",
			Evidence: map[string]any{"name": e.Name},
		}}
		return r
	}

	d, answers, fs := c.discover(ctx, name)
	r.Answers = answers
	r.Zone = d.zone
	r.Nameservers = d.servers
	if len(fs) > 0 {
		r.Findings = fs
		c.finish(ctx, &r)
		return r
	}

	ev := newEvaluation(c, d, name, e)
	ev.collect(ctx)
	r.Answers = append(r.Answers, ev.answers()...)
	r.Findings = ev.findings()
	r.PersistReady = ev.persistReady
	c.finish(ctx, &r)
	return r
}

func (c *Checker) finish(ctx context.Context, r *Report) {
	if err := ctx.Err(); err != nil {
		r.Error = fmt.Sprintf("check interrupted: %v", err)
	}
	sortFindings(r.Findings)
}

var severityRank = map[finding.Severity]int{finding.Error: 0, finding.Warning: 1, finding.Info: 2}

// sortFindings orders findings by severity, id, name and summary, so that
// reports compare equal when DNS does.
func sortFindings(fs []finding.Finding) {
	slices.SortStableFunc(fs, func(a, b finding.Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank[a.Severity], severityRank[b.Severity]),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(fmt.Sprint(a.Evidence["name"]), fmt.Sprint(b.Evidence["name"])),
			cmp.Compare(a.Summary, b.Summary),
		)
	})
}
