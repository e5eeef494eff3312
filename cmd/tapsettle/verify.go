package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/settlement"
)

func newVerify() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR",
		Short: "Recompute every checksum, control total and net position of settlement output",
		Long: `verify checks a settlement day folder, or an output root holding day folders:
SHA-256 of every file and of the manifest, clearing file batch and file controls,
bilateral totals against the clearing files, net positions and their zero sum,
the rejects file against the summary's malformed count (exactly), every count and
amount within range (no sum can overflow), one producing build and one policy for
every file of a day, and status counts and totals against the ledger when present.
It names the first file and record that disagree. Exit status: 0 verified, 2 a
check failed, 1 error.`,
		Args: wantArgs(1, 1, "the output folder to verify (DIR)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := settlement.Verify(args[0])
			var ve *settlement.VerifyError
			if errors.As(err, &ve) {
				fmt.Fprintln(cmd.ErrOrStderr(), "verify FAILED:", err)
				return exitError(2)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "verified %s: every checksum, control total and net position agrees\n", args[0])
			return nil
		},
	}
}
