package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

func newDemo() *cobra.Command {
	var taps int
	var out string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Stream a generated day from 336 cities through an embedded Kafka broker, clear it and verify it",
		Long: `demo runs the streaming service end to end with no Kafka or Redis: it generates
a synthetic day of taps from all 336 cities (on time: taps later than the reorder
window are settled as late adjustments in a stream, unlike the batch job), starts an embedded Kafka wire-protocol
broker in process, publishes the day to it keyed by card, runs the streaming service
against it with local state, closes the day, verifies every settlement file, prints
the summary, and checks that the batch job on the same file writes the same clearing
files.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			return runDemo(cmd, e, out, taps)
		},
	}
	cmd.Flags().IntVar(&taps, "taps", 300_000, "records in the generated day")
	cmd.Flags().Int("partitions", 0, "partitions of the embedded topic (default 8)")
	cmd.Flags().String("metrics-listen", "", "serve /metrics, /healthz and /readyz here while the demo streams")
	cmd.Flags().StringVar(&out, "out", "tapsettle-demo", "folder for the generated input, state and settlement output")
	return cmd
}

// runDemo runs the demo's steps, each printing what it did.
func runDemo(cmd *cobra.Command, e *env, out string, taps int) error {
	w := cmd.OutOrStdout()
	ctx := cmd.Context()
	// A fresh broker each run: state from an earlier run would
	// point at offsets of a topic that no longer exists.
	for _, sub := range []string{"state", "stream", "batch"} {
		if err := os.RemoveAll(filepath.Join(out, sub)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	input, last, err := demoGenerate(w, e, out, taps)
	if err != nil {
		return err
	}

	start := time.Now()
	partitions := e.cfg.Kafka.Partitions
	broker, err := embedded.Start(e.cfg.Kafka.Topic, partitions)
	if err != nil {
		return err
	}
	defer broker.Close()
	n, rejected, err := produce(ctx, broker.Addrs(), feed.Security{}, e.cfg.Kafka.Topic, 64, []string{input}, last.String(), e)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "2. started an embedded Kafka broker at %s and published %d taps to %d partitions of %q keyed by card (%d malformed records stay out), then close-day %s, in %v\n",
		broker.Addrs()[0], n, partitions, e.cfg.Kafka.Topic, rejected, last, time.Since(start).Round(time.Millisecond))

	cleared, err := demoStream(cmd, e, out, broker.Addrs(), last, n)
	if err != nil {
		return err
	}
	settled := e.cfg.Output.Dir
	if err := settlement.Verify(settled); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fmt.Fprintf(w, "\n4. verified %s: checksums, control totals, bilateral totals and zero-sum net positions agree\n", settled)

	if err := demoCompareBatch(ctx, w, e, out, input, cleared); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nInspect: go run ./cmd/tapsettle verify %s   (or policy show 330200, quote --help, run --help)\n", settled)
	return nil
}

// demoGenerate writes the demo's generated day under out and returns the
// file and the last day its taps reach.
func demoGenerate(w io.Writer, e *env, out string, taps int) (string, transit.Day, error) {
	genDay, _ := transit.ParseDay("2025-03-03")
	start := time.Now()
	d, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: taps, Seed: 20250303, Day: genDay, Late: -1})
	if err != nil {
		return "", 0, err
	}
	input := filepath.Join(out, "taps-2025-03-03.csv.zst")
	if err := bench.WriteFile(input, ingest.FormatCSV, ingest.CompressionZstd, d); err != nil {
		return "", 0, err
	}
	fmt.Fprintf(w, "1. generated %s: %d records from %d riders in %d cities' policies (%d interregional riders, %d Join in Cards, %d duplicates, %d malformed) in %v\n",
		input, len(d.Records), d.Riders, len(e.book.Cities()), d.Interregional, d.JoinIn, d.Duplicates, d.Malformed, time.Since(start).Round(time.Millisecond))
	// The last day the generated taps reach (late trips cross the
	// cut-off); the feed closes every day up to it.
	return input, max(genDay, e.cal.LastDay(d.Taps())), nil
}

// demoStream runs the streaming service with local state under out until
// it has cleared day last, and prints its report of the n taps published.
func demoStream(cmd *cobra.Command, e *env, out string, brokers []string, last transit.Day, n int64) (map[transit.Day]*settlement.Day, error) {
	w := cmd.OutOrStdout()
	start := time.Now()
	e.cfg.State.Backend = config.BackendLocal
	e.cfg.State.Dir = filepath.Join(out, "state")
	e.cfg.Output.Dir = filepath.Join(out, "stream")
	e.cfg.Output.Ledger = true
	if !cmd.Flags().Changed("metrics-listen") {
		e.cfg.Metrics.Listen = "" // a demo must not fail on a busy port
	}
	svc, err := runService(cmd.Context(), e, brokers, last, serviceRegistry())
	if err != nil {
		return nil, err
	}
	cleared := svc.Cleared()
	if _, ok := cleared[last]; !ok {
		return nil, fmt.Errorf("the service stopped before clearing %s", last)
	}
	rep := &batch.Report{Records: n, Taps: n, Inputs: []batch.InputReport{{Name: "topic " + e.cfg.Kafka.Topic}}}
	for _, day := range slices.Sorted(maps.Keys(cleared)) {
		rep.Days = append(rep.Days, cleared[day])
	}
	rep.Elapsed = time.Since(start)
	rep.Priced = rep.Elapsed
	settled := e.cfg.Output.Dir
	fmt.Fprintf(w, "3. streamed the topic through the service (local state in %s) and cleared %d day(s) into %s\n\n", e.cfg.State.Dir, len(cleared), settled)
	printReport(w, rep, settled)
	return cleared, nil
}

// demoCompareBatch runs the batch job on input into out/batch and checks
// that it writes the same clearing files as the stream did.
func demoCompareBatch(ctx context.Context, w io.Writer, e *env, out, input string, cleared map[transit.Day]*settlement.Day) error {
	batchDir := filepath.Join(out, "batch")
	job := &batch.Settle{Book: e.book, Calendar: e.cal, OutDir: batchDir, Ledger: true, Log: e.log}
	if _, err := job.Run(ctx, []string{input}); err != nil {
		return err
	}
	same, files, err := sameClearing(e.cfg.Output.Dir, batchDir, cleared)
	if err != nil {
		return err
	}
	if !same {
		return fmt.Errorf("the batch job on %s wrote different clearing files than the stream", input)
	}
	fmt.Fprintf(w, "5. the batch job (tapsettle settle) on the same file wrote the same %d clearing files, byte for byte\n", files)
	return nil
}

// sameClearing compares the clearing files of the days in two settlement
// trees: the same names on both sides, byte-identical. (Ledgers and
// rejects name their sources, a file and line or a partition and offset,
// and the summaries count the malformed records the producer kept out of
// the topic, so those differ by design.)
func sameClearing(a, b string, days map[transit.Day]*settlement.Day) (bool, int, error) {
	files := 0
	for day := range days {
		dir := filepath.Join(settlement.DirName(day), settlement.ClearingDir)
		x, err := readClearingDir(filepath.Join(a, dir))
		if err != nil {
			return false, 0, err
		}
		y, err := readClearingDir(filepath.Join(b, dir))
		if err != nil {
			return false, 0, err
		}
		if !maps.EqualFunc(x, y, bytes.Equal) {
			return false, files, nil
		}
		files += len(x)
	}
	return files > 0, files, nil
}

// readClearingDir returns the files of a day's clearing folder by name;
// none when the folder does not exist (a day without interregional rides).
func readClearingDir(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files[e.Name()] = b
	}
	return files, nil
}
