package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newACMECmd is the operator's ACME account actions.
func newACMECmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acme",
		Short: "The ACME account of the server (operator token, HALLMARK_TOKEN)",
	}
	newClient := clientFlags(cmd)
	rollover := &cobra.Command{
		Use:   "rollover",
		Short: "Replace the ACME account key (RFC 8555 §7.3.5); the account URL, and so every persistent validation record, stays valid",
		Args:  exactArgs(0, "takes no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := newClient()
			if err != nil {
				return err
			}
			var out struct {
				AccountURL   string `json:"accountUrl"`
				RolledOverAt string `json:"rolledOverAt"`
			}
			if _, err := cl.do(c.Context(), "POST", "/api/v1/acme/account/keyRollover", nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "account key replaced at %s; the account is still %s, so the published records stay valid\n", out.RolledOverAt, out.AccountURL)
			return nil
		},
	}
	cmd.AddCommand(rollover)
	return cmd
}
