package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "hallmark",
		Short:         "Make a name trustworthy end to end: custom domains, certificates and the trust doctor",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{Code: 2, Err: err}
	})
	root.AddCommand(
		newServeCmd(stdout, stderr),
		newMigrateCmd(stdout, stderr),
		newDomainsCmd(stdout),
		newACMECmd(stdout),
		newLogsCmd(stdout),
		newDoctorCmd(stdout, stderr),
		newVersionCmd(stdout),
	)
	return root
}

// version is set by the linker (-X main.version=...).
var version = "dev"

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := io.WriteString(stdout, "hallmark "+version+"\n")
			return err
		},
	}
}
