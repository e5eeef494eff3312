package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

func newBench() *cobra.Command {
	var taps, rounds, repeat, perMessage int
	var seed uint64
	var shards []int
	var engineOnly bool
	var plotPath string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the engine's hot path, the batch job and the streaming service on a generated day",
		Long: `bench generates a day, then measures (1) the engine's hot path: taps in memory,
priced (fare plus journey state), over several shard counts, with heap allocations
per tap; (2) the same with the rows aggregated for settlement; (3) settle end to
end on the same day encoded as zstd CSV; and (4) the streaming service (run) on
the same day published to an embedded broker in this process, cold, with local
state, side by side with a bare kafka-go consume loop of the same topic. Compare
ratios from one run: absolute numbers on shared machines are noisy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			day, _ := transit.ParseDay("2025-03-03")
			d, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: taps, Seed: seed, Day: day})
			if err != nil {
				return err
			}
			if repeat < 1 {
				return fmt.Errorf("--repeat %d: want at least 1", repeat)
			}
			if len(shards) == 0 {
				shards = bench.ShardCounts()
			}
			m := measurer{w: cmd.OutOrStdout(), e: e, repeat: repeat}
			tapsIn := d.Taps()
			fmt.Fprintf(m.w, "%d taps generated; GOMAXPROCS=%d; %d rounds per engine run; median of %d runs [lowest-highest M taps/s]\n",
				len(tapsIn), runtime.GOMAXPROCS(0), rounds, repeat)
			if err := m.engine(tapsIn, shards, rounds); err != nil {
				return err
			}
			if err := writeBenchPlot(plotPath, m.engineRows); err != nil {
				return err
			}
			if engineOnly {
				return nil
			}
			return m.endToEnd(d, tapsIn, perMessage)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&taps, "taps", 500_000, "taps in the generated day")
	fl.IntVar(&rounds, "rounds", 4, "times the day is replayed per engine run")
	fl.IntVar(&repeat, "repeat", 3, "runs per measurement; the median is reported, with the spread")
	fl.Uint64Var(&seed, "seed", 1, "random seed")
	fl.IntSliceVar(&shards, "shards", nil, "shard counts to measure (default 1,2,4.. up to 2x cores)")
	_ = fl.SetAnnotation("shards", notConfig, nil)
	fl.IntVar(&perMessage, "taps-per-message", 64, "taps in each Kafka message of the streaming measurement")
	fl.BoolVar(&engineOnly, "engine-only", false, "skip the settle and streaming measurements")
	fl.StringVar(&plotPath, "plot", "", "also draw the engine rows' taps/s against shards as SVG to this file")
	return cmd
}

// measurer runs bench's measurements, each repeat times, and prints their
// medians to w.
type measurer struct {
	w      io.Writer
	e      *env
	repeat int
	// engineRows are the medians of the engine measurements, for --plot.
	engineRows []bench.Result
}

// median runs run repeat times and returns the median result and the
// spread of the rates, in M taps/s.
func (m *measurer) median(run func() (bench.Result, error)) (bench.Result, string, error) {
	var rs []bench.Result
	for range m.repeat {
		r, err := run()
		if err != nil {
			return r, "", err
		}
		rs = append(rs, r)
	}
	med, lo, hi := bench.Median(rs)
	return med, fmt.Sprintf("[%.2f-%.2f]", lo/1e6, hi/1e6), nil
}

// row prints the median of rs with its spread and, against base, the
// time it takes as a multiple of base's (of what); it returns the median.
func (m *measurer) row(rs []bench.Result, base *bench.Result, what string) bench.Result {
	med, lo, hi := bench.Median(rs)
	fmt.Fprintf(m.w, "%s         [%.2f-%.2f]", med, lo/1e6, hi/1e6)
	if base != nil && med.TapsPerSecond() > 0 {
		fmt.Fprintf(m.w, "  %.1fx the time of %s", base.TapsPerSecond()/med.TapsPerSecond(), what)
	}
	fmt.Fprintln(m.w)
	return med
}

// engine measures the engine's hot path over the shard counts, each rate
// also as a multiple of the first count's.
func (m *measurer) engine(taps []transit.Tap, shards []int, rounds int) error {
	for _, run := range []func(*fares.Book, *transit.Calendar, []transit.Tap, int, int) (bench.Result, error){bench.Engine, bench.EngineBatch, bench.EngineAggregate} {
		var base float64
		for _, n := range shards {
			r, spread, err := m.median(func() (bench.Result, error) { return run(m.e.book, m.e.cal, taps, n, rounds) })
			if err != nil {
				return err
			}
			if base == 0 {
				base = r.TapsPerSecond()
			}
			m.engineRows = append(m.engineRows, r)
			fmt.Fprintf(m.w, "%s  x%.2f  %s\n", r, r.TapsPerSecond()/base, spread)
		}
	}
	return nil
}

// endToEnd measures settle on the day, with and without the ledger,
// beside the read floor of the same file (decompressing it and counting
// its lines, in process and with zstd -dc | wc -l where installed), then
// the streaming service on its taps against the bare read of the same
// topic. The runs alternate, so that a noisy neighbour hits each alike.
func (m *measurer) endToEnd(d *bench.GenDay, taps []transit.Tap, perMessage int) error {
	f, err := bench.WriteDayFile(d)
	if err != nil {
		return err
	}
	defer f.Close()
	var floors, clis, settles, ledgers []bench.Result
	for range m.repeat {
		r, err := f.ReadFloor()
		if err != nil {
			return err
		}
		floors = append(floors, r)
		if r, ok, err := f.ReadFloorCLI(); err != nil {
			return err
		} else if ok {
			clis = append(clis, r)
		}
		if r, err = f.Settle(m.e.book, m.e.cal, 0, false); err != nil {
			return err
		}
		settles = append(settles, r)
		if r, err = f.Settle(m.e.book, m.e.cal, 0, true); err != nil {
			return err
		}
		ledgers = append(ledgers, r)
	}
	floor := m.row(floors, nil, "")
	cli := floor
	if len(clis) > 0 {
		cli = m.row(clis, nil, "")
	}
	what := "read floor"
	if len(clis) > 0 {
		what = "zstd -dc | wc -l"
	}
	m.row(settles, &cli, what)
	m.row(ledgers, &cli, what)
	var reads, runs []bench.Result
	for range m.repeat {
		read, run, err := benchStream(m.e.book, m.e.cal, taps, streamOptions{TapsPerMessage: perMessage})
		if err != nil {
			return err
		}
		reads, runs = append(reads, read), append(runs, run)
	}
	read, lo, hi := bench.Median(reads)
	fmt.Fprintf(m.w, "%s         [%.2f-%.2f]\n", read, lo/1e6, hi/1e6)
	run, lo, hi := bench.Median(runs)
	fmt.Fprintf(m.w, "%s  x%.2f  [%.2f-%.2f]  (x: of the bare read)\n", run, run.TapsPerSecond()/read.TapsPerSecond(), lo/1e6, hi/1e6)
	return nil
}
