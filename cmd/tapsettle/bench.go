package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

func newBench() *cobra.Command {
	var taps, rounds, repeat, perMessage int
	var seed uint64
	var shards []int
	var engineOnly bool
	var plotPath, spillBudget string
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the engine's hot path, the batch job and the streaming service on a generated day",
		Long: `bench generates a day, then measures (1) the engine's hot path: taps in memory,
priced (fare plus journey state), over several shard counts, with heap allocations
per tap; (2) the same with the rows aggregated for settlement; (3) settle end to
end on the same day encoded as zstd CSV; and (4) the streaming service (run) on
the same day published to an embedded broker in this process, cold, with local
state, side by side with a bare kafka-go consume loop of the same topic. Settle
also runs in child processes of this binary, started by a small process of its
own, for their peak RSS (their rusage): once in memory (settlement.memory_budget,
raised where the day needs more) and once under --spill-budget, which partitions
a large enough day to disk. Compare ratios from one run: absolute numbers on
shared machines are noisy. --output json or csv writes the measurements as one
JSON document or as CSV rows, one per measurement (docs/json-output.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			spill, err := config.ParseByteSize(spillBudget)
			if err != nil {
				return fmt.Errorf("--spill-budget: %w", err)
			}
			if spill < config.MinMemoryBudget {
				return fmt.Errorf("--spill-budget %s: want at least %s, the smallest memory budget settle takes", spill, config.MinMemoryBudget)
			}
			if repeat < 1 {
				return fmt.Errorf("--repeat %d: want at least 1", repeat)
			}
			m := measurer{rep: newBenchReporter(output.format, cmd.OutOrStdout()), e: e, repeat: repeat, spillBudget: int64(spill)}
			if !engineOnly {
				// Before the day is generated, while this process is
				// small: the spawner's children's peak RSS is never
				// below the spawner's.
				sp, child, err := startSpawner(cmd)
				if err != nil {
					return err
				}
				defer sp.Close()
				m.child = child
			}
			day, _ := transit.ParseDay("2025-03-03")
			d, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: taps, Seed: seed, Day: day})
			if err != nil {
				return err
			}
			if len(shards) == 0 {
				shards = bench.ShardCounts()
			}
			tapsIn := d.Taps()
			if err := m.rep.start(benchSetup{Taps: len(tapsIn), GOMAXPROCS: runtime.GOMAXPROCS(0), Rounds: rounds, Repeat: repeat, Seed: seed}); err != nil {
				return err
			}
			if err := m.engine(tapsIn, shards, rounds); err != nil {
				return err
			}
			if err := writeBenchPlot(plotPath, m.engineRows); err != nil {
				return err
			}
			if !engineOnly {
				if err := m.endToEnd(d, tapsIn, perMessage); err != nil {
					return err
				}
			}
			return m.rep.end()
		},
	}
	output = addOutputFlag(cmd, outputJSON, outputCSV)
	fl := cmd.Flags()
	fl.IntVar(&taps, "taps", 500_000, "taps in the generated day")
	fl.IntVar(&rounds, "rounds", 4, "times the day is replayed per engine run")
	fl.IntVar(&repeat, "repeat", 3, "runs per measurement; the median is reported, with the spread")
	fl.Uint64Var(&seed, "seed", 1, "random seed")
	fl.IntSliceVar(&shards, "shards", nil, "shard counts to measure (default 1,2,4.. up to 2x cores)")
	_ = fl.SetAnnotation("shards", notConfig, nil)
	fl.IntVar(&perMessage, "taps-per-message", 64, "taps in each Kafka message of the streaming measurement")
	fl.BoolVar(&engineOnly, "engine-only", false, "skip the settle and streaming measurements")
	fl.StringVar(&spillBudget, "spill-budget", "16MiB", "memory budget of the spilling settle run (at least 16MiB; a day of more than some 36,000 taps spills at 16MiB)")
	fl.StringVar(&plotPath, "plot", "", "also draw the engine rows' taps/s against shards as SVG to this file")
	return cmd
}

// measurer runs bench's measurements, each repeat times, and reports
// their medians to rep.
type measurer struct {
	rep    benchReporter
	e      *env
	repeat int
	// engineRows are the medians of the engine measurements, for --plot.
	engineRows []bench.Result
	// child runs tapsettle with the arguments it is given in a child
	// process, for the settle runs measured from outside.
	child func(args ...string) (bench.ChildRun, error)
	// spillBudget is the memory budget of the spilling child run.
	spillBudget int64
}

// selfCommand returns the command that runs this binary with args. The
// tests replace it: their binary is not tapsettle (see TestMain).
var selfCommand = func(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: this binary's path, to run settle in a child process: %w", err)
	}
	return exec.Command(exe, args...), nil
}

// startSpawner starts the process that starts bench's settle children
// (bench.Spawner: a child started by the bench itself would report the
// bench's peak RSS as its own). It is this binary's hidden bench-spawner
// command, and its children are given the configuration file and
// policies that bench was given, so that they settle with the same fare
// book and calendar (the environment, TAPSETTLE_ variables among it, is
// inherited).
func startSpawner(cmd *cobra.Command) (*bench.Spawner, func(args ...string) (bench.ChildRun, error), error) {
	c, err := selfCommand("bench-spawner")
	if err != nil {
		return nil, nil, err
	}
	c.Stderr = os.Stderr
	sp, err := bench.StartSpawner(c)
	if err != nil {
		return nil, nil, err
	}
	var global []string
	for _, name := range []string{"config", "policies"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			global = append(global, "--"+name, f.Value.String())
		}
	}
	return sp, func(args ...string) (bench.ChildRun, error) {
		return sp.Run(append(args[:len(args):len(args)], global...)...)
	}, nil
}

// newBenchSpawner is the hidden command that bench starts to start its
// settle children (bench.ServeSpawns on standard input and output).
func newBenchSpawner() *cobra.Command {
	return &cobra.Command{
		Use:    "bench-spawner",
		Short:  "Start bench's settle children and report their resource usage (used by bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.ServeSpawns(os.Stdin, os.Stdout, selfCommand)
		},
	}
}

// inMemoryBudget is the memory budget of the child run that settles the
// day in memory: the configured one, raised where a day of taps would not
// fit it to 512 bytes a tap (batch plans 320 for a tap in its engine,
// out of three quarters of the budget), in whole GiB.
func inMemoryBudget(configured int64, taps int) int64 {
	need := (int64(taps)*512 + (1<<30 - 1)) &^ (1<<30 - 1)
	return max(configured, need)
}

// runs runs run repeat times and returns the results.
func (m *measurer) runs(run func() (bench.Result, error)) ([]bench.Result, error) {
	var rs []bench.Result
	for range m.repeat {
		r, err := run()
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// engine measures the engine's hot path over the shard counts, each rate
// also as a multiple of the first count's.
func (m *measurer) engine(taps []transit.Tap, shards []int, rounds int) error {
	for _, k := range []struct {
		kind string
		run  func(*fares.Book, *transit.Calendar, []transit.Tap, int, int) (bench.Result, error)
	}{
		{"engine", bench.Engine},
		{"engine_batch", bench.EngineBatch},
		{"engine_aggregate", bench.EngineAggregate},
	} {
		var base *benchRecord
		for _, n := range shards {
			rs, err := m.runs(func() (bench.Result, error) { return k.run(m.e.book, m.e.cal, taps, n, rounds) })
			if err != nil {
				return err
			}
			r := newBenchRecord(k.kind, rs)
			if base == nil {
				first := r
				base = &first
			}
			r.compare(base)
			if err := m.rep.measured(r); err != nil {
				return err
			}
			m.engineRows = append(m.engineRows, r.result)
		}
	}
	return nil
}

// endToEnd measures settle on the day, with and without the ledger,
// beside the read floor of the same file (decompressing it and counting
// its lines, in process and with zstd -dc | wc -l where installed), and
// settle in child processes for their peak RSS, in memory and under the
// spill budget; then
// the streaming service on its taps against the bare read of the same
// topic. The runs alternate, so that a noisy neighbour hits each alike.
func (m *measurer) endToEnd(d *bench.GenDay, taps []transit.Tap, perMessage int) error {
	f, err := bench.WriteDayFile(d)
	if err != nil {
		return err
	}
	defer f.Close()
	var floors, clis, settles, ledgers, procs, spills []bench.Result
	memBudget := inMemoryBudget(int64(m.e.cfg.Settlement.MemoryBudget), len(taps))
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
		mem, spill, err := m.processRuns(f, memBudget)
		if err != nil {
			return err
		}
		procs, spills = append(procs, mem), append(spills, spill)
	}
	floor := newBenchRecord("read_floor", floors)
	records := []benchRecord{floor}
	base := &floor
	if len(clis) > 0 {
		cli := newBenchRecord("read_floor_cli", clis)
		records = append(records, cli)
		base = &cli
	}
	for _, rs := range []struct {
		kind string
		rs   []bench.Result
	}{{"settle", settles}, {"settle_ledger", ledgers}, {"settle_process", procs}, {"settle_process_spill", spills}} {
		r := newBenchRecord(rs.kind, rs.rs)
		r.compare(base)
		records = append(records, r)
	}
	for _, r := range records {
		if err := m.rep.measured(r); err != nil {
			return err
		}
	}
	var reads, runs []bench.Result
	for range m.repeat {
		read, run, err := benchStream(m.e.book, m.e.cal, taps, streamOptions{TapsPerMessage: perMessage})
		if err != nil {
			return err
		}
		reads, runs = append(reads, read), append(runs, run)
	}
	read, run := newBenchRecord("stream_read", reads), newBenchRecord("stream_run", runs)
	run.compare(&read)
	if err := m.rep.measured(read); err != nil {
		return err
	}
	return m.rep.measured(run)
}

// processRuns settles f in two child processes, for their peak RSS: in
// memory, under memBudget, and under the spill budget.
func (m *measurer) processRuns(f *bench.DayFile, memBudget int64) (mem, spill bench.Result, err error) {
	if mem, err = f.SettleProcess(m.child, memBudget, "settle process"); err != nil {
		return mem, spill, err
	}
	spill, err = f.SettleProcess(m.child, m.spillBudget, "settle spill")
	return mem, spill, err
}
