package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/transit"
)

func newSettle() *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "settle --out DIR [--force] [--ledger] [--memory-budget SIZE] [--state DIR --day YYYY-MM-DD [--corrections FILE]...] [--shards N] INPUT...",
		Short: "Settle tap files (CSV or JSON lines; plain, zstd or gzip; - for stdin)",
		Long: `settle prices every tap of the inputs and writes, for each settlement day, a
folder under --out with the clearing files, the summary, the rejects and a manifest
(and the priced ledger with --ledger). Output is byte-identical whatever the shard
count or input order. Exit status is 0 on success, 1 on error.

A run owns the day folders of --out (YYYY-MM-DD and undated): it refuses, before
reading its inputs, a --out that already holds any, since an earlier run's days left
beside its own would be taken for this run's (a stale undated/ counting records this
input does not hold). Give a new or empty folder, or --force to replace them (removed
once the taps are priced, just before the new days are written; other entries of
--out are left alone). With --state, a run owns only the days after the state's last
closed day (and undated): earlier runs' days stay, so settling day by day into one
--out needs no --force; settling a day again from a copy of the state does.

--memory-budget (settlement.memory_budget, default 1GiB) bounds the memory the run
plans for its data. A day whose taps would need more is partitioned by card to a
folder under $TMPDIR as it is read, and priced a group of partitions at a time; rows
and malformed records beyond their share are sorted to disk and merged when the files
are written. The files are the same as a run in memory. The folder is removed when
the run ends, or by the next run after a crash; point TMPDIR at a disk with room for
about 45 bytes a tap, not at a memory file system. A run with --state is partitioned
the same way, its state with its taps (each group loads the state of its cards), and
leaves the state a run in memory would.

With --state DIR --day D a clearing house settles day by day: each run goes on
from the journey state (open metro journeys carried across the cut-off, transfer
chains, daily and monthly spend), the dedup window's tap_ids and the taps of later
days that the previous run left in DIR, closes the days up to D, and leaves its own
state; the day files are those of one run over all the days. Taps of a day already
closed are settled as late in the run's first open day; a day already closed is
never closed again. --corrections FILE (repeatable) applies corrections of charges
that earlier runs settled (refunds, partial refunds, re-prices; docs/corrections-format.md)
in the run's first open day, once per correction_id; refused ones go to that day's
rejects with the reason.

On a terminal, standard error shows the run's progress: the records read and their
rate (with the share of the input bytes and an ETA), then the pricing, then the
writing of the files, a line each. With --output json the run's summary, each day's
summary.json among it, is one JSON document on standard output (docs/json-output.md),
and no progress is drawn.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if c, _ := cmd.Flags().GetStringArray("corrections"); len(args) == 0 && len(c) == 0 {
				return errors.New("no input files: give tap files, or --corrections files with --state")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			var day transit.Day
			if s, _ := cmd.Flags().GetString("day"); s != "" {
				if day, err = transit.ParseDay(s); err != nil {
					return fmt.Errorf("--day: %w", err)
				}
			}
			corrections, _ := cmd.Flags().GetStringArray("corrections")
			force, _ := cmd.Flags().GetBool("force")
			job := &batch.Settle{Day: day, Corrections: corrections,
				Book: e.book, Calendar: e.cal, Shards: e.cfg.Engine.Shards, BatchSize: e.cfg.Engine.BatchSize, DedupDays: e.cfg.Engine.DedupDays, State: e.cfg.Settlement.State,
				OutDir: e.cfg.Output.Dir, Ledger: e.cfg.Output.Ledger, Force: force, Log: e.log,
				MemoryBudget: int64(e.cfg.Settlement.MemoryBudget),
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				// Keep the heap near what the run holds, rather than
				// twice that (GOGC), so that the budget bounds the RSS.
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(job.MemoryLimit(len(args))))
			}
			// The progress display: on a terminal, never with a JSON
			// document (a script reads standard output; standard error
			// keeps the logs alone).
			var progress *settleProgress
			if output.format == outputText && term.IsTerminal(int(os.Stderr.Fd())) {
				progress = newSettleProgress(os.Stderr, batch.InputSize(args), progressRedraw)
				job.Progress, job.ProgressRecords, job.OnPhase = progress.bytes, progress.countRecords, progress.enter
				job.Log = newLoggerTo(progress, e.cfg.Log.Level, e.cfg.Log.Format)
			}
			rep, err := job.Run(cmd.Context(), args)
			if progress != nil {
				progress.end(err == nil)
			}
			if err != nil {
				return err
			}
			if output.format == outputJSON {
				return writeJSON(cmd.OutOrStdout(), newSettleDoc(rep, e.cfg.Output.Dir, e.cfg.Settlement.State, e.book))
			}
			printReport(cmd.OutOrStdout(), rep, e.cfg.Output.Dir)
			return nil
		},
	}
	output = addOutputFlag(cmd, outputJSON)
	cmd.Flags().String("out", "", "output root; one folder per settlement day (default \"out\")")
	cmd.Flags().Bool("ledger", false, "also write the priced ledger (one row per tap)")
	cmd.Flags().Bool("force", false, "replace the settlement days an earlier run left in --out (with --state: those after the state's last closed day)")
	cmd.Flags().String("state", "", "state folder: go on from the journey state of the previous run and leave this run's for the next (settle day by day; needs --day)")
	cmd.Flags().String("day", "", "with --state: the last settlement day (YYYY-MM-DD) this run closes; taps of later days wait in the state")
	cmd.Flags().StringArray("corrections", nil, "with --state: a corrections file to apply in the run's first open day (repeatable)")
	cmd.Flags().String("memory-budget", "", "memory for the run's data, e.g. 256MiB or 4GiB; beyond it taps are partitioned by card to $TMPDIR (default 1GiB)")
	addEngineFlags(cmd)
	return cmd
}
