package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/stream"
	"github.com/tapsettle/tapsettle/transit"
)

func newClear() *cobra.Command {
	var dayFlag string
	cmd := &cobra.Command{
		Use:   "clear --day YYYY-MM-DD --out DIR [--allow-mixed-producers] INSTANCE_DIR...",
		Short: "Merge the streaming instances' parts of a day into the day's files",
		Long: `clear is the clearing house's batch job for a streamed day: it reads every
partition's part of the day from the instances' output folders (the segments they
list, checked by SHA-256) and writes the day's ledger, clearing files, summary and
manifest under --out: the same bytes one instance, or the batch job, of the same
build would write (the files name the build that wrote them). It fails naming the
partitions whose parts are missing, and, unless --allow-mixed-producers, when the
parts were closed by different builds (an upgrade that overlapped the day's close).`,
		Args: wantArgs(1, -1, "the instances' output folders (DIR...)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			day, err := transit.ParseDay(dayFlag)
			if err != nil {
				return fmt.Errorf("--day: %w", err)
			}
			out := e.cfg.Output.Dir
			mixed, _ := cmd.Flags().GetBool("allow-mixed-producers")
			d, m, err := stream.Clear(day, args, out, stream.ClearOptions{
				Participants: e.book.Participants(), Calendar: e.cal, Ledger: e.cfg.Output.Ledger,
				AllowMixedProducers: mixed,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cleared %s from %s: %d records, %d files in %s\n",
				dayFlag, strings.Join(args, ", "), d.Records, len(m.Files), filepath.Join(out, settlement.DirName(day)))
			return nil
		},
	}
	cmd.Flags().StringVar(&dayFlag, "day", "", "settlement day YYYY-MM-DD (required)")
	cmd.Flags().String("out", "", "output root of the merged day (default \"out\")")
	cmd.Flags().Bool("ledger", false, "also write the ledger")
	cmd.Flags().Bool("allow-mixed-producers", false, "merge parts closed by different builds (the files name the build running clear)")
	_ = cmd.MarkFlagRequired("day")
	return cmd
}
