package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/pipeline"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

func newDemo() *cobra.Command {
	var taps int
	var out string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Generate a day for 336 cities, settle it, verify it and print the summary",
		Long: `demo runs the whole batch clearing path on an embedded default, with no Kafka or
Redis: it generates a synthetic day of taps from all 336 cities (zstd CSV), settles
it with the ledger, verifies every output file and prints the summary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			day, _ := transit.ParseDay("2025-03-03")
			start := time.Now()
			d, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: taps, Seed: 20250303, Day: day})
			if err != nil {
				return err
			}
			input := filepath.Join(out, "taps-2025-03-03.csv.zst")
			if err := bench.WriteFile(input, ingest.FormatCSV, ingest.CompressionZstd, d); err != nil {
				return err
			}
			fmt.Fprintf(w, "1. generated %s: %d records from %d riders in %d cities' policies (%d interregional riders, %d Join in Cards, %d duplicates, %d malformed) in %v\n",
				input, len(d.Records), d.Riders, len(e.book.Cities()), d.Interregional, d.JoinIn, d.Duplicates, d.Malformed, time.Since(start).Round(time.Millisecond))

			settled := filepath.Join(out, "settlement")
			job := &pipeline.Settle{Book: e.book, Calendar: e.cal, Shards: e.cfg.Engine.Shards, OutDir: settled, Ledger: true, Log: e.log}
			rep, err := job.Run(cmd.Context(), []string{input})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "2. settled into %s\n\n", settled)
			printReport(w, rep, settled)

			if err := settlement.Verify(settled); err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			fmt.Fprintf(w, "\n3. verified %s: checksums, control totals, bilateral totals and zero-sum net positions agree\n", settled)
			return nil
		},
	}
	cmd.Flags().IntVar(&taps, "taps", 300_000, "records in the generated day")
	cmd.Flags().StringVar(&out, "out", "tapsettle-demo", "folder for the generated input and the settlement output")
	return cmd
}
