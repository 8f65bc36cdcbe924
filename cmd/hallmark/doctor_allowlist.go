package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/doctor"
)

// newDoctorAllowlistCmd is `hallmark doctor allowlist TARGET...`: the
// host:port list a client of the targets needs, derived from what the
// servers serve, tried from here and written as IT admins paste it.
func newDoctorAllowlistCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var o doctorOptions
	var format string
	cmd := &cobra.Command{
		Use:   "allowlist TARGET...",
		Short: "Write every host:port the clients of TARGETs need, and the hosts to exempt from TLS inspection",
		Long: `Derive, from what each TARGET really serves, every host:port a client needs: the
service itself, every CRL, OCSP and AIA host of every certificate of its chain (port 80
for http:// URLs), the entries of --profile, and the hosts that must be exempt from TLS
inspection (pinned with --pin, asking for a client certificate, or found re-signed).
Each entry is tried through the client's proxy (--proxy, or HTTPS_PROXY / NO_PROXY).
--format text or csv include whether each entry is reachable from here; pac writes a
proxy auto-config file that sends the exempt hosts direct; squid writes ACLs for
squid.conf. Exit status: 0 written, 2 bad arguments.`,
		Example: `  hallmark doctor allowlist https://acme.okta.com/app/sso acme.mtls.okta.com --format squid`,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("doctor allowlist: want at least one TARGET (an https URL, a host or host:port)")
			}
			if !slices.Contains(doctor.AllowlistFormats, format) {
				return usageError("doctor allowlist: --format %q: want one of %s", format, strings.Join(doctor.AllowlistFormats, ", "))
			}
			var targets []doctor.Target
			for _, a := range args {
				t, err := doctor.ParseTarget(a)
				if err != nil {
					return usageError("doctor allowlist: %v", err)
				}
				targets = append(targets, t)
			}
			cfg, err := o.config(getenv)
			if err != nil {
				return usageError("doctor allowlist: %v", err)
			}
			d, err := doctor.New(cfg)
			if err != nil {
				return usageError("doctor allowlist: %v", err)
			}
			if err := d.Allowlist(cmd.Context(), targets).Write(stdout, format); err != nil {
				return fmt.Errorf("doctor allowlist: writing: %w", err)
			}
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output format: "+strings.Join(doctor.AllowlistFormats, ", "))
	return cmd
}
