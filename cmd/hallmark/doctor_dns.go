package main

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
)

// newDoctorDNSCmd is `hallmark doctor dns DOMAIN`: the checks of a domain's
// verification, with the same dnscheck code the service runs.
func newDoctorDNSCmd(stdout, stderr io.Writer) *cobra.Command {
	var cnameTarget, caa string
	var txt, resolvers []string
	var asJSON bool
	var timeout time.Duration
	var nsPort int
	cmd := &cobra.Command{
		Use:   "dns DOMAIN",
		Short: "Check a custom domain's DNS records on every authoritative server and resolver",
		Example: `  hallmark doctor dns login.acme.com --cname-target edge.example.net \
      --txt _hallmark-challenge.login.acme.com=3f1c...`,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("doctor dns: give one domain name, such as login.acme.com")
			}
			name, err := customdomain.NormalizeName(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			e := dnscheck.Expectation{Name: name, CAAIdentity: caa}
			if cnameTarget != "" {
				t, err := customdomain.NormalizeName(cnameTarget)
				if err != nil {
					return usageError("--cname-target: %v", err)
				}
				e.CNAMETarget = t
			}
			for _, kv := range txt {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" || v == "" {
					return usageError("--txt %q: write NAME=VALUE, such as _hallmark-challenge.login.acme.com=3f1c", kv)
				}
				e.TXT = append(e.TXT, dnscheck.TXTRecord{Name: strings.TrimSuffix(strings.ToLower(k), "."), Value: v})
			}
			if e.CNAMETarget == "" && len(e.TXT) == 0 && e.CAAIdentity == "" {
				return usageError("doctor dns: say what to check with --cname-target, --txt NAME=VALUE or --caa-identity")
			}
			for _, r := range resolvers {
				if _, _, err := net.SplitHostPort(r); err != nil {
					return usageError("--dns-resolvers: %q is not ip:port", r)
				}
			}
			checker, err := dnscheck.New(dnscheck.Config{Resolvers: resolvers, Timeout: timeout, NameserverPort: nsPort})
			if err != nil {
				return usageError("%v", err)
			}
			rep := checker.Check(c.Context(), e)
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := dnscheck.WriteText(stdout, rep); err != nil {
				return err
			}
			if finding.HasError(rep.Findings) {
				return &exitError{Code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cnameTarget, "cname-target", "", "the host DOMAIN must be a CNAME to")
	f.StringArrayVar(&txt, "txt", nil, "expected TXT record NAME=VALUE (repeatable)")
	f.StringVar(&caa, "caa-identity", "", "issuer domain that CAA must allow (letsencrypt.org)")
	f.StringSliceVar(&resolvers, "dns-resolvers", nil, "ip:port,... resolvers (default: the system's)")
	f.BoolVar(&asJSON, "json", false, "machine-readable report")
	f.DurationVar(&timeout, "timeout", 2*time.Second, "per-query timeout")
	f.IntVar(&nsPort, "nameserver-port", 53, "port of the authoritative servers")
	f.MarkHidden("nameserver-port")
	return cmd
}
