package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/internal/buildinfo"
)

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the build: module version, commit, commit date, Go version",
		Long: `version prints what the Go toolchain recorded in this binary: the module version
(a release tag, or a pseudo-version naming the commit, "+dirty" when the tree had
uncommitted changes, "(devel)" for a build without version control information),
the commit and its date (Go records no build time: builds are reproducible), the Go
version and platform, and the producer string the settlement files carry
(summary.json's "producer", the clearing file header's producer field).
"tapsettle --version" prints the same.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), buildinfo.Read().String())
			return err
		},
	}
}
