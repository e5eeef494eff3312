package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/settlement"
)

func newVerify() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Recompute every checksum, control total and net position of settlement output",
		Long: `verify checks a settlement day folder, or an output root holding day folders:
SHA-256 of every file and of the manifest, clearing file batch and file controls,
bilateral totals against the clearing files, net positions and their zero sum,
the rejects file against the summary's malformed count (exactly), every count and
amount within range (no sum can overflow), one producing build and one policy for
every file of a day, and status counts and totals against the ledger when present.
It names the first file and record that disagree. Exit status: 0 verified, 2 a
check failed, 1 error. With --output json the verdict (and a failed check's
problem) is one JSON document on standard output, also when the check fails.`,
		Args: wantArgs(1, 1, "the output folder to verify (DIR)"),
	}
	output := addOutputFlag(cmd, outputJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := settlement.Verify(args[0])
		var ve *settlement.VerifyError
		failed := errors.As(err, &ve)
		if err != nil && !failed {
			return err
		}
		if output.format == outputJSON {
			doc := verifyDoc{Schema: schemaVerify, Dir: args[0], Verified: !failed, Problems: []verifyProblem{}}
			if failed {
				doc.Problems = append(doc.Problems, newVerifyProblem(ve))
			}
			if err := writeJSON(cmd.OutOrStdout(), doc); err != nil {
				return err
			}
		}
		if failed {
			fmt.Fprintln(cmd.ErrOrStderr(), "verify FAILED:", err)
			return exitError(2)
		}
		if output.format == outputText {
			fmt.Fprintf(cmd.OutOrStdout(), "verified %s: every checksum, control total and net position agrees\n", args[0])
		}
		return nil
	}
	return cmd
}

// verifyDoc is verify's --output json document (schema tapsettle.verify/1).
type verifyDoc struct {
	Schema string `json:"schema"`
	// Dir is the folder verified, as given.
	Dir string `json:"dir"`
	// Verified is true when every check passed (exit status 0).
	Verified bool `json:"verified"`
	// Problems are the checks that failed: empty when Verified. verify
	// stops at the first problem, so it holds one; a list lets a later
	// version report more without a new schema.
	Problems []verifyProblem `json:"problems"`
}

// verifyProblem is a settlement.VerifyError on the wire.
type verifyProblem struct {
	// File is the path of the file that disagrees.
	File string `json:"file"`
	// Record is the 1-based line of the record that disagrees, 0 when the
	// problem is not one record's.
	Record int `json:"record"`
	// Kind classifies the problem: checksum, format, mismatch or
	// missing (the sentinels of package settlement).
	Kind string `json:"kind"`
	// Reason says what disagrees.
	Reason string `json:"reason"`
	// Error is the whole message, as the text output prints it.
	Error string `json:"error"`
}

func newVerifyProblem(ve *settlement.VerifyError) verifyProblem {
	kind := "other"
	for _, k := range []struct {
		err  error
		name string
	}{
		{settlement.ErrChecksum, "checksum"},
		{settlement.ErrFormat, "format"},
		{settlement.ErrMismatch, "mismatch"},
		{settlement.ErrMissing, "missing"},
	} {
		if errors.Is(ve.Err, k.err) {
			kind = k.name
			break
		}
	}
	return verifyProblem{File: ve.File, Record: ve.Record, Kind: kind, Reason: ve.Reason, Error: ve.Error()}
}
