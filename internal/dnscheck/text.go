package dnscheck

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText renders r for people (`hallmark doctor dns`): the zone and its
// nameservers, what each server answered for each question, then the
// findings with their fixes.
func WriteText(w io.Writer, r Report) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "DNS check of %s\n", bare(r.Name))
	if r.Zone != "" {
		fmt.Fprintf(b, "Zone: %s\n", bare(r.Zone))
	}
	if len(r.Nameservers) > 0 {
		fmt.Fprintf(b, "Nameservers:\n")
		for _, s := range r.Nameservers {
			fmt.Fprintf(b, "  %s\n", list([]Server{s}))
		}
	}

	// Group answers by server, keeping the order they were asked in.
	var order []Server
	byServer := map[Server][]Answer{}
	for _, a := range r.Answers {
		if _, ok := byServer[a.Server]; !ok {
			order = append(order, a.Server)
		}
		byServer[a.Server] = append(byServer[a.Server], a)
	}
	if len(order) > 0 {
		fmt.Fprintf(b, "\nAnswers:\n")
	}
	for _, s := range order {
		kind := "resolver " + s.Addr
		if s.Authoritative {
			kind = "nameserver " + list([]Server{s})
		}
		fmt.Fprintf(b, "  %s\n", kind)
		for _, a := range byServer[s] {
			fmt.Fprintf(b, "    %-6s %s: %s\n", a.Type, bare(a.Name), describe(a))
		}
	}

	fmt.Fprintf(b, "\n")
	if len(r.Findings) == 0 {
		fmt.Fprintf(b, "No problem found.\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(b, "%s %s: %s\n", strings.ToUpper(string(f.Severity)), f.ID, f.Summary)
		if f.Detail != "" {
			fmt.Fprintf(b, "    %s\n", f.Detail)
		}
		if f.Fix != "" {
			fmt.Fprintf(b, "    Fix: %s\n", f.Fix)
		}
	}
	if r.Error != "" {
		fmt.Fprintf(b, "\nThe check did not complete: %s\n", r.Error)
	}
	return b.Flush()
}

// describe is one answer on one line: rcode, flags, TTL and values.
func describe(a Answer) string {
	var parts []string
	parts = append(parts, a.Rcode)
	if a.Authoritative {
		parts = append(parts, "aa")
	}
	if a.CNAME != "" {
		parts = append(parts, "via CNAME "+bare(a.CNAME))
	}
	if len(a.Values) > 0 {
		parts = append(parts, fmt.Sprintf("ttl=%d", a.TTL))
		parts = append(parts, quoteAll(a.Values))
	} else if a.Rcode == "NOERROR" {
		parts = append(parts, "(no record)")
	}
	if a.Error != "" {
		parts = append(parts, "("+a.Error+")")
	}
	if a.RTT > 0 {
		parts = append(parts, a.RTT.Round(10*time.Microsecond).String())
	}
	return strings.Join(parts, " ")
}
