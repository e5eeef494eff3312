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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/stream"
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
	// The close-day message goes out in step 3, once the service has
	// priced every tap: the time to price and the time to close the day
	// are then apart.
	n, rejected, err := produce(ctx, broker.Addrs(), feed.Security{}, e.cfg.Kafka.Topic, 64, []string{input}, "", e)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "2. started an embedded Kafka broker at %s and published %d taps to %d partitions of %q keyed by card in %v (the %d malformed records stay out of the topic)\n",
		broker.Addrs()[0], n, partitions, e.cfg.Kafka.Topic, time.Since(start).Round(time.Millisecond), rejected)

	cleared, err := demoStream(cmd, e, out, broker.Addrs(), last, n, rejected)
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
	day := "DAY"
	if days := slices.Sorted(maps.Keys(cleared)); len(days) > 0 {
		day = settlement.DirName(days[0])
	}
	fmt.Fprintf(w, "\nInspect: go run ./cmd/tapsettle verify %s   (or report %s --html report.html, policy show 330200, quote --help, run --help)\n",
		settled, filepath.Join(settled, day))
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
// it has cleared day last, and prints its report of the n taps published
// (rejected malformed records stayed out of the topic). It sends the
// close-day message for last once every tap is priced, and reports the
// service's start-up, the pricing and the day's close apart.
func demoStream(cmd *cobra.Command, e *env, out string, brokers []string, last transit.Day, n, rejected int64) (map[transit.Day]*settlement.Day, error) {
	w := cmd.OutOrStdout()
	ctx := cmd.Context()
	start := time.Now()
	e.cfg.State.Backend = config.BackendLocal
	e.cfg.State.Dir = filepath.Join(out, "state")
	e.cfg.Output.Dir = filepath.Join(out, "stream")
	e.cfg.Output.Ledger = true
	if !cmd.Flags().Changed("metrics-listen") {
		e.cfg.Metrics.Listen = "" // a demo must not fail on a busy port
	}
	fmt.Fprintf(w, "3. streaming the topic through the service (local state in %s)\n", e.cfg.State.Dir)
	reg := serviceRegistry()
	var svc *stream.Service
	var runErr error
	stopped := make(chan struct{}) // closed when runService has returned
	go func() {
		defer close(stopped)
		svc, runErr = runService(ctx, e, brokers, last, reg)
	}()
	pricing, err := demoPricing(w, reg, n, start, stopped)
	if err != nil {
		// The service stopped, or the demo was interrupted: let the
		// service finish its final checkpoints before returning.
		<-stopped
		return nil, errors.Join(runErr, ctx.Err(), err)
	}
	closing := time.Now()
	if _, _, err := produce(ctx, brokers, feed.Security{}, e.cfg.Kafka.Topic, 64, nil, last.String(), e); err != nil {
		<-stopped
		return nil, err
	}
	<-stopped
	if runErr != nil {
		return nil, runErr
	}
	closed := time.Since(closing)
	cleared := svc.Cleared()
	if _, ok := cleared[last]; !ok {
		return nil, fmt.Errorf("the service stopped before clearing %s", last)
	}
	settled := e.cfg.Output.Dir
	fmt.Fprintf(w, "   started and priced its first tap in %v (connect to the broker, join the consumer group, load the partitions' state)\n",
		pricing.first.Sub(start).Round(time.Millisecond))
	if d := pricing.took(); d > 0 {
		fmt.Fprintf(w, "   priced the %d taps in %v: %.0f taps/s on %d partitions (from the first tap priced to the last; start-up and the day's close not counted)\n",
			pricing.taps, d.Round(time.Millisecond), float64(pricing.taps)/d.Seconds(), e.cfg.Kafka.Partitions)
	} else {
		fmt.Fprintf(w, "   priced the %d taps within %v, the interval at which the demo reads the service's metrics\n", pricing.taps, demoPollEvery)
	}
	fmt.Fprintf(w, "   sent close-day %s; the service closed %d day(s) and wrote their files into %s in %v\n\n",
		last, len(cleared), settled, closed.Round(time.Millisecond))
	days := make([]*settlement.Day, 0, len(cleared))
	for _, day := range slices.Sorted(maps.Keys(cleared)) {
		days = append(days, cleared[day])
	}
	printDays(w, days)
	fmt.Fprintf(w, "\n%d records from topic %s, all of them taps: the %d malformed records of the file stayed out of the topic (step 2); done in %v\n",
		n, e.cfg.Kafka.Topic, rejected, time.Since(start).Round(time.Millisecond))
	return cleared, nil
}

// pricingSpan is when a streaming service priced its first and its last
// tap, and how many it priced, as the demo's polling of its metrics saw
// it.
type pricingSpan struct {
	first, last time.Time
	taps        int64
}

func (p pricingSpan) took() time.Duration { return p.last.Sub(p.first) }

// demoPollEvery is how often the demo reads the service's metrics: the
// resolution of its pricing time.
const demoPollEvery = 100 * time.Millisecond

// demoPricing follows the service's progress in its metrics until it has
// priced all n taps, showing a progress bar on a terminal or a line a
// second otherwise, and returns when it priced the first and the last. It
// fails when the service stops first.
func demoPricing(w io.Writer, reg *prometheus.Registry, n int64, start time.Time, stopped <-chan struct{}) (pricingSpan, error) {
	var span pricingSpan
	onTerminal := term.IsTerminal(int(os.Stderr.Fd()))
	var bar *progressbar.ProgressBar // from the first tap priced, after the service's start-up logs
	defer func() {
		if bar != nil {
			_ = bar.Clear()
		}
	}()
	tick := time.NewTicker(demoPollEvery)
	defer tick.Stop()
	lastLine := start
	var all time.Time // since when the count has been n, poll after poll
	for {
		select {
		case <-stopped:
			return span, errors.New("the service stopped before it priced every tap")
		case <-tick.C:
		}
		k, err := pricedTaps(reg)
		if err != nil {
			return span, err
		}
		// A partition publishes its rows a moment before the gauge of its
		// open journeys: the sum can run ahead of the taps for a poll.
		k = min(k, n)
		now := time.Now()
		if k > 0 && span.first.IsZero() {
			span.first = now
		}
		if k > span.taps {
			span.taps, span.last = k, now
		}
		rate := 0.0
		if d := now.Sub(span.first); k > 0 && d > 0 {
			rate = float64(k) / d.Seconds()
		}
		switch {
		case k == 0:
			if lastLine == start && now.Sub(start) >= time.Second {
				fmt.Fprintf(w, "   waiting for the first priced tap (the service connects to the broker, joins the consumer group and loads its partitions' state)\n")
				lastLine = now
			}
		case onTerminal:
			if bar == nil {
				bar = newCountBar(n)
			}
			bar.Describe(fmt.Sprintf("   pricing, %.0f taps/s", rate))
			_ = bar.Set64(k)
		case now.Sub(lastLine) >= time.Second || (k == n && all.IsZero()):
			lastLine = now
			fmt.Fprintf(w, "   priced %d of %d taps (%.0f%%)", k, n, 100*float64(k)/float64(n))
			if rate > 0 {
				fmt.Fprintf(w, ", %.0f taps/s since the first", rate)
			}
			fmt.Fprintln(w)
		}
		switch {
		case k < n:
			all = time.Time{}
		case all.IsZero():
			all = now
		default:
			// Two polls in a row: every tap is priced, since the first.
			span.last = all
			return span, nil
		}
		if k > 0 && now.Sub(span.last) >= demoStall {
			// Should the metrics count fewer taps than were published,
			// the demo goes on: the close-day message comes after every
			// tap in its partition whenever it is sent.
			fmt.Fprintf(w, "   the service's metrics count %d of the %d taps and no more for %v: closing the day now\n", k, n, demoStall)
			return span, nil
		}
	}
}

// demoStall is how long the demo waits for the count of priced taps to
// move before it sends the close-day message anyway.
const demoStall = 10 * time.Second

// pricedTaps is the number of taps the service has priced or holds: the
// rows it counted (tapsettle_taps_total), the metro entries awaiting
// their exit (tapsettle_open_journeys) and the taps in the reorder window
// (tapsettle_held_taps), which the day's close turns into rows.
func pricedTaps(reg *prometheus.Registry) (int64, error) {
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, f := range families {
		switch f.GetName() {
		case "tapsettle_taps_total":
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		case "tapsettle_open_journeys", "tapsettle_held_taps":
			for _, m := range f.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return int64(sum), nil
}

// newCountBar returns a progress bar of n taps on standard error (a
// terminal), which the caller describes with the rate.
func newCountBar(n int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(n,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(demoPollEvery),
		progressbar.OptionFullWidth(),
		progressbar.OptionClearOnFinish(),
	)
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
// trees: the same names on both sides, byte-identical. (Rejects name
// their sources, a file and line or a partition and offset, and the
// summaries count the malformed records the producer kept out of the
// topic, so those differ by design.)
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
