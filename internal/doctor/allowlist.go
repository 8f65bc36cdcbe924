package doctor

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/trust"
)

// Allowlist is every host:port a client of the targets needs, derived from
// what the servers really serve, with the hosts that must be exempt from
// TLS inspection, each tried from here as a client would.
type Allowlist struct {
	Targets []string     `json:"targets"`
	Entries []AllowEntry `json:"entries"`
	// Proxy is the proxy the entries were tried through ("" for none),
	// without credentials; the PAC file sends what is not exempt there.
	Proxy string `json:"proxy,omitempty"`
}

// AllowEntry is one host:port of the list.
type AllowEntry struct {
	Host string `json:"host"` // a name, or *.domain from a profile
	Port int    `json:"port"`
	// Protocol is "https" (a TLS service: CONNECT through a proxy) or
	// "http" (CRL, OCSP and AIA fetches: plain HTTP, port 80 mostly).
	Protocol string   `json:"protocol"`
	Why      []string `json:"why"`
	// Exempt says the host must be exempt from TLS inspection, and
	// ExemptWhy why: its clients pin its keys, or it asks for a client
	// certificate, or it was found re-signed.
	Exempt    bool   `json:"exemptFromInspection"`
	ExemptWhy string `json:"exemptWhy,omitempty"`
	// Status is "reachable" or "blocked" as tried from here; Error says
	// what failed.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Allowlist diagnoses each target, derives its list (the service on its
// port; every CRL, OCSP and AIA host of every certificate of each served
// chain; the profile's entries) and tries every entry through the client's
// proxy, as Diagnose tries a profile.
func (d *Doctor) Allowlist(ctx context.Context, targets []Target) *Allowlist {
	al := &Allowlist{}
	if rt, err := d.proxyFor(&url.URL{Scheme: "https", Host: "example.com:443"}); err == nil && rt.proxy != nil {
		al.Proxy = redact(rt.proxy)
	}
	inner := *d
	inner.cfg.Profile = nil
	reps := make([]*Report, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		al.Targets = append(al.Targets, t.String())
		wg.Go(func() { reps[i] = inner.Diagnose(ctx, t) })
	}
	wg.Wait()

	byKey := map[string]*AllowEntry{}
	var order []string
	add := func(host string, port int, protocol, why string) *AllowEntry {
		key := net.JoinHostPort(host, strconv.Itoa(port))
		e, ok := byKey[key]
		if !ok {
			e = &AllowEntry{Host: host, Port: port, Protocol: protocol}
			byKey[key] = e
			order = append(order, key)
		}
		if !slices.Contains(e.Why, why) {
			e.Why = append(e.Why, why)
		}
		return e
	}
	var probes []probe
	for i, t := range targets {
		e := add(t.Host, t.Port, "https", "the service "+t.String())
		if len(d.cfg.Pins) > 0 {
			e.Exempt, e.ExemptWhy = true, "its clients pin its keys (--pin)"
		}
		for _, f := range reps[i].Findings {
			switch f.ID {
			case finding.TLSClientCertificate:
				e.Exempt, e.ExemptWhy = true, "it asks for a client certificate, which TLS inspection cannot carry"
			case finding.TLSIntercepted, finding.PinMismatch:
				if !e.Exempt {
					e.Exempt, e.ExemptWhy = true, "its chain is re-signed on the way from here; pinned and strict clients fail under inspection"
				}
			}
		}
		for _, c := range reps[i].certs {
			for _, u := range slices.Concat(c.CRLDistributionPoints, c.OCSPServer, c.IssuingCertificateURL) {
				h, port := trust.HostPort(u)
				if h == "" {
					continue
				}
				proto := "https"
				if strings.HasPrefix(strings.ToLower(u), "http://") {
					proto = "http"
				}
				add(h, port, proto, kindOf(c, u)+" of "+trust.Name(c)+": "+u)
				probes = append(probes, probe{host: h, port: port, entry: "chain", plain: proto == "http", url: u})
			}
		}
	}
	if d.cfg.Profile != nil {
		name := cmp.Or(d.cfg.Profile.Name, "the profile")
		for _, h := range d.cfg.Profile.Hosts {
			ports := h.Ports
			if len(ports) == 0 {
				ports = d.cfg.Profile.Ports
			}
			for _, port := range ports {
				proto := "https"
				if h.HTTP || port == 80 {
					proto = "http"
				}
				why := "profile " + name
				if h.Note != "" {
					why += ": " + h.Note
				}
				add(h.Host, port, proto, why)
			}
		}
	}

	// Try each entry once, as a client would reach it.
	var tries []probe
	for _, key := range order {
		e := byKey[key]
		p := probe{host: e.Host, port: e.Port, entry: e.Host, plain: e.Protocol == "http"}
		if strings.HasPrefix(e.Host, "*.") {
			p.host = probeHost(d.cfg.Profile, e.Host)
		}
		for _, cp := range probes {
			if cp.host == e.Host && cp.port == e.Port && cp.url != "" {
				p.url = cp.url
				break
			}
		}
		tries = append(tries, p)
	}
	results := d.checkProbes(ctx, tries)
	for i, key := range order {
		e := byKey[key]
		if results[i].ID == finding.AllowlistOK {
			e.Status = "reachable"
		} else {
			e.Status = "blocked"
			e.Error = fmt.Sprint(results[i].Evidence["error"])
		}
		al.Entries = append(al.Entries, *e)
	}
	return al
}

// kindOf names what a URL of a certificate is for.
func kindOf(c *x509.Certificate, u string) string {
	switch {
	case slices.Contains(c.CRLDistributionPoints, u):
		return "CRL"
	case slices.Contains(c.OCSPServer, u):
		return "OCSP"
	}
	return "AIA (issuer certificate)"
}

// probeHost is the host dialled for a wildcard entry of the profile.
func probeHost(p *Profile, wildcard string) string {
	if p != nil {
		for _, h := range p.Hosts {
			if h.Host == wildcard && h.Probe != "" {
				return h.Probe
			}
		}
	}
	return strings.TrimPrefix(wildcard, "*.")
}

// Formats of an allowlist, as --format names them.
var AllowlistFormats = []string{"text", "csv", "pac", "squid"}

// Write writes the list in format: text (one host:port a line with the
// reasons), csv, pac (a proxy auto-config file sending the exempt hosts
// direct, past the inspecting proxy) or squid (ACLs to paste in
// squid.conf).
func (al *Allowlist) Write(w io.Writer, format string) error {
	switch format {
	case "text":
		return al.writeText(w)
	case "csv":
		return al.writeCSV(w)
	case "pac":
		return al.writePAC(w)
	case "squid":
		return al.writeSquid(w)
	}
	return fmt.Errorf("unknown allowlist format %q: want one of %s", format, strings.Join(AllowlistFormats, ", "))
}

func (al *Allowlist) header(w io.Writer, comment string) {
	fmt.Fprintf(w, "%s Allowlist by hallmark doctor allowlist for %s\n", comment, strings.Join(al.Targets, " "))
	fmt.Fprintf(w, "%s Derived from the chains the servers serve (service, CRL, OCSP and AIA hosts)%s.\n", comment,
		map[bool]string{true: " and tried through " + al.Proxy, false: " and tried from here"}[al.Proxy != ""])
}

func (al *Allowlist) writeText(w io.Writer) error {
	var b strings.Builder
	al.header(&b, "#")
	var blocked int
	b.WriteString("\n# Allow outbound (host:port  protocol  status  why)\n")
	for _, e := range al.Entries {
		if e.Status == "blocked" {
			blocked++
		}
		fmt.Fprintf(&b, "%-40s %-5s %-9s # %s\n", net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), e.Protocol, e.Status, strings.Join(e.Why, "; "))
	}
	exempt := false
	for _, e := range al.Entries {
		if !e.Exempt {
			continue
		}
		if !exempt {
			b.WriteString("\n# Exempt from TLS inspection (do not decrypt)\n")
			exempt = true
		}
		fmt.Fprintf(&b, "%-40s # %s\n", net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), e.ExemptWhy)
	}
	switch {
	case blocked == 1:
		b.WriteString("\n# 1 entry is blocked from here: allow it first.\n")
	case blocked > 1:
		fmt.Fprintf(&b, "\n# %d entries are blocked from here: allow them first.\n", blocked)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (al *Allowlist) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"host", "port", "protocol", "exempt_from_inspection", "exempt_why", "status", "why"})
	for _, e := range al.Entries {
		cw.Write([]string{e.Host, strconv.Itoa(e.Port), e.Protocol, strconv.FormatBool(e.Exempt), e.ExemptWhy, e.Status, strings.Join(e.Why, "; ")})
	}
	cw.Flush()
	return cw.Error()
}

// pacHostTest is the PAC condition matching host (a name or *.domain).
func pacHostTest(host string) string {
	if d, ok := strings.CutPrefix(host, "*."); ok {
		return fmt.Sprintf("dnsDomainIs(host, %q)", "."+d)
	}
	return fmt.Sprintf("host == %q", host)
}

func (al *Allowlist) writePAC(w io.Writer) error {
	al.header(w, "//")
	proxy := "DIRECT"
	if al.Proxy != "" {
		if u, err := url.Parse(al.Proxy); err == nil {
			proxy = "PROXY " + u.Host
		}
	}
	var b strings.Builder
	b.WriteString("function FindProxyForURL(url, host) {\n")
	b.WriteString("  host = host.toLowerCase();\n")
	b.WriteString("  // Exempt from TLS inspection: straight to the server, past the inspecting proxy.\n")
	exempt := 0
	for _, e := range al.Entries {
		if e.Exempt {
			fmt.Fprintf(&b, "  if (%s) return \"DIRECT\"; // %s\n", pacHostTest(e.Host), e.ExemptWhy)
			exempt++
		}
	}
	if exempt == 0 {
		b.WriteString("  // (none)\n")
	}
	b.WriteString("  // Needed by the clients (the proxy must allow them):\n")
	for _, e := range al.Entries {
		if !e.Exempt {
			fmt.Fprintf(&b, "  //   %s (%s)\n", net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), e.Protocol)
		}
	}
	fmt.Fprintf(&b, "  return %q;\n}\n", proxy)
	_, err := io.WriteString(w, b.String())
	return err
}

// squidDomain is host as Squid's dstdomain and ssl::server_name take it.
func squidDomain(host string) string {
	if d, ok := strings.CutPrefix(host, "*."); ok {
		return "." + d
	}
	return host
}

func (al *Allowlist) writeSquid(w io.Writer) error {
	al.header(w, "#")
	var b strings.Builder
	ports := map[string][]string{} // protocol/port → domains
	var keys []string
	for _, e := range al.Entries {
		k := e.Protocol + "/" + strconv.Itoa(e.Port)
		if _, ok := ports[k]; !ok {
			keys = append(keys, k)
		}
		if d := squidDomain(e.Host); !slices.Contains(ports[k], d) {
			ports[k] = append(ports[k], d)
		}
	}
	slices.Sort(keys)
	b.WriteString("# Paste above the first http_access deny rule; an SSL_ports line belongs before \"http_access deny CONNECT !SSL_ports\".\n")
	for _, k := range keys {
		proto, port, _ := strings.Cut(k, "/")
		name := "hallmark_" + proto + "_" + port
		fmt.Fprintf(&b, "acl %s_dst dstdomain %s\n", name, strings.Join(ports[k], " "))
		fmt.Fprintf(&b, "acl %s_port port %s\n", name, port)
		if proto == "https" {
			if port != "443" {
				fmt.Fprintf(&b, "acl SSL_ports port %s\n", port)
			}
			fmt.Fprintf(&b, "http_access allow CONNECT %s_dst %s_port\n", name, name)
		} else {
			fmt.Fprintf(&b, "http_access allow %s_dst %s_port\n", name, name)
		}
	}
	var exempt []string
	for _, e := range al.Entries {
		if e.Exempt && !slices.Contains(exempt, squidDomain(e.Host)) {
			exempt = append(exempt, squidDomain(e.Host))
		}
	}
	if len(exempt) > 0 {
		b.WriteString("# Exempt from TLS inspection (SslBump): splice, never bump.\n")
		fmt.Fprintf(&b, "acl hallmark_no_inspect ssl::server_name %s\n", strings.Join(exempt, " "))
		b.WriteString("ssl_bump splice hallmark_no_inspect\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
