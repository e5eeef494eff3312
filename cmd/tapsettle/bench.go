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
	return cmd
}

// measurer runs bench's measurements, each repeat times, and prints their
// medians to w.
type measurer struct {
	w      io.Writer
	e      *env
	repeat int
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
			fmt.Fprintf(m.w, "%s  x%.2f  %s\n", r, r.TapsPerSecond()/base, spread)
		}
	}
	return nil
}

// endToEnd measures settle on the day, then the streaming service on its
// taps against the bare read of the same topic.
func (m *measurer) endToEnd(d *bench.GenDay, taps []transit.Tap, perMessage int) error {
	r, spread, err := m.median(func() (bench.Result, error) { return bench.Settle(m.e.book, m.e.cal, d, 0) })
	if err != nil {
		return err
	}
	fmt.Fprintf(m.w, "%s         %s\n", r, spread)
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
