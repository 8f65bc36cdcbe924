package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/net/publicsuffix"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/api"
)

// domain is the API's domain as the CLI reads it.
type domain struct {
	ID                    string `json:"id"`
	Domain                string `json:"domain"`
	CertificateSourceType string `json:"certificateSourceType"`
	ValidationStatus      string `json:"validationStatus"`
	DNSRecords            []struct {
		RecordType string   `json:"recordType"`
		FQDN       string   `json:"fqdn"`
		Values     []string `json:"values"`
		Expiration string   `json:"expiration"`
	} `json:"dnsRecords"`
	PublicCertificate *struct {
		Subject     string `json:"subject"`
		Fingerprint string `json:"fingerprint"`
		Expiration  string `json:"expiration"`
	} `json:"publicCertificate"`
	Diagnosis                  []finding.Finding `json:"diagnosis"`
	StatusDetail               string            `json:"statusDetail"`
	CertificateReady           bool              `json:"certificateReady"`
	CertificateChallenge       string            `json:"certificateChallenge"`
	CertificateChallengeReason string            `json:"certificateChallengeReason"`
	Verification               struct {
		LastCheckedAt string `json:"lastCheckedAt"`
		NextCheckAt   string `json:"nextCheckAt"`
		WindowEndsAt  string `json:"windowEndsAt"`
	} `json:"verification"`
}

func newDomainsCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domains",
		Short: "Create, list, read, verify and delete custom domains through the API (HALLMARK_TOKEN)",
	}
	newClient := clientFlags(cmd)
	var asJSON bool
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print the API's JSON")

	show := func(raw json.RawMessage) error {
		if asJSON {
			_, err := stdout.Write(append(raw, '\n'))
			return err
		}
		var d domain
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		writeDomain(stdout, d)
		return nil
	}

	var source string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Ask for a custom domain and print the DNS records to publish",
		Args:  exactArgs(1, "give the domain name, such as login.example.com"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			body := map[string]string{"domain": args[0], "certificateSourceType": source}
			if _, err := cl.do(c.Context(), "POST", "/api/v1/domains", body, &raw); err != nil {
				return err
			}
			return show(raw)
		},
	}
	create.Flags().StringVar(&source, "source", "OKTA_MANAGED", "certificate source: OKTA_MANAGED (Hallmark obtains it) or MANUAL (you upload it)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List domains",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient()
			if err != nil {
				return err
			}
			var all []json.RawMessage
			next := "/api/v1/domains"
			for next != "" {
				var page struct {
					Domains []json.RawMessage `json:"domains"`
				}
				h, err := cl.do(c.Context(), "GET", next, nil, &page)
				if err != nil {
					return err
				}
				all = append(all, page.Domains...)
				next = nextLink(h)
			}
			if asJSON {
				return printJSON(stdout, map[string]any{"domains": all})
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDOMAIN\tSTATUS\tSOURCE\tLATEST FINDING")
			for _, raw := range all {
				var d domain
				if err := json.Unmarshal(raw, &d); err != nil {
					return err
				}
				latest := "-"
				for _, f := range d.Diagnosis {
					if f.Severity != finding.Info {
						latest = f.ID + ": " + f.Summary
						break
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, d.Domain, d.ValidationStatus, d.CertificateSourceType, latest)
			}
			return tw.Flush()
		},
	}

	byID := func(use, short, method, suffix string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  exactArgs(1, "give the domain id (see hallmark domains list)"),
			RunE: func(c *cobra.Command, args []string) error {
				cl, err := newClient()
				if err != nil {
					return err
				}
				var raw json.RawMessage
				h, err := cl.do(c.Context(), method, "/api/v1/domains/"+url.PathEscape(args[0])+suffix, nil, &raw)
				if err != nil {
					return err
				}
				if method == "DELETE" {
					fmt.Fprintf(stdout, "deleted %s\n", args[0])
					for _, rec := range h.Values(api.RemoveRecordHeader) {
						// The persistent record would go on letting
						// Hallmark's ACME account validate the name.
						fmt.Fprintf(stdout, "remove this record from your DNS: %s\n", rec)
					}
					return nil
				}
				if err := show(raw); err != nil {
					return err
				}
				if suffix == "/verify" {
					// Scripts can loop on the exit status: 0 once proven.
					var d domain
					if json.Unmarshal(raw, &d) == nil && d.ValidationStatus != "VERIFIED" && d.ValidationStatus != "COMPLETED" {
						return &exitError{Code: 1}
					}
				}
				return nil
			},
		}
	}
	cmd.AddCommand(create, list,
		byID("get", "Show a domain: status, records to publish, diagnosis", "GET", ""),
		byID("verify", "Check the domain's DNS records now and show the result (exit 1 until ownership is proven)", "POST", "/verify"),
		byID("delete", "Delete a domain", "DELETE", ""),
	)
	return cmd
}

func exactArgs(n int, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s: %s", cmd.CommandPath(), hint)
		}
		return nil
	}
}

// writeDomain prints a domain for a person: what to publish, where it
// stands, and what is wrong with the fix.
func writeDomain(w io.Writer, d domain) {
	fmt.Fprintf(w, "%s  %s\n", d.Domain, d.ValidationStatus)
	if d.StatusDetail != "" {
		fmt.Fprintf(w, "  %s\n", d.StatusDetail)
	}
	fmt.Fprintf(w, "  id: %s   certificate source: %s\n", d.ID, d.CertificateSourceType)
	if d.PublicCertificate != nil {
		fmt.Fprintf(w, "  certificate: %s, expires %s, sha256 %s\n", d.PublicCertificate.Subject, d.PublicCertificate.Expiration, d.PublicCertificate.Fingerprint)
		if d.CertificateChallenge != "" {
			fmt.Fprintf(w, "  validated by %s: %s\n", d.CertificateChallenge, d.CertificateChallengeReason)
		}
	}
	fmt.Fprintln(w, "\nRecords to publish at your DNS host:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range d.DNSRecords {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.RecordType, r.FQDN, strings.Join(r.Values, " "))
	}
	tw.Flush()
	if zone, err := publicsuffix.EffectiveTLDPlusOne(d.Domain); err == nil {
		// One hint per TXT record: the ownership one and the persistent
		// one sit at different names.
		for _, r := range d.DNSRecords {
			if label, ok := strings.CutSuffix(r.FQDN, "."+zone); ok && r.RecordType == "TXT" {
				fmt.Fprintf(w, "  (if your DNS host appends %s to names, enter only %q for the %s record %s)\n", zone, label, r.RecordType, r.FQDN)
			}
		}
	}
	v := d.Verification
	var when []string
	if v.LastCheckedAt != "" {
		when = append(when, "Last checked "+v.LastCheckedAt+".")
	}
	if v.NextCheckAt != "" {
		when = append(when, "Next check "+v.NextCheckAt+".")
	}
	if v.WindowEndsAt != "" {
		when = append(when, "Checks stop "+v.WindowEndsAt+".")
	}
	if len(when) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(when, " "))
	}
	switch d.ValidationStatus {
	case "NOT_STARTED", "IN_PROGRESS", "FAILED_TO_VERIFY":
		fmt.Fprintf(w, "\nPublish the records above, then run: hallmark domains verify %s\n", d.ID)
	}
	writeFindings(w, d.Diagnosis)
}

func writeFindings(w io.Writer, fs []finding.Finding) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nFindings:")
	for _, f := range fs {
		fmt.Fprintf(w, "  [%s] %s: %s\n", f.Severity, f.ID, f.Summary)
		if f.Detail != "" {
			fmt.Fprintf(w, "      %s\n", f.Detail)
		}
		if f.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", f.Fix)
		}
	}
}
