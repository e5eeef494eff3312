package batch_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// budgetFixedHeap is what TestPartitionedRunBoundedMemory allows a run
// besides its budget: the decoder of its input (a zstd window and its
// buffers, some 12 MiB), the engine's batches, the partitions' buffers,
// the writers' buffers, and a fifth of it all again in garbage.
const budgetFixedHeap = 48 << 20

// ledgerWriterHeap is what writing a ledger from spilled rows adds, with
// one compressor (a budget this small allows no more): a frame's text
// being formatted and one being compressed (8 MiB each), the compressed
// frame and the encoder's 8 MiB window. The run plans for it once the
// taps are priced, in the budget of a realistic size.
const ledgerWriterHeap = 32 << 20

// TestPartitionedRunBoundedMemory: a day far larger than its memory
// budget settles, with and without the ledger, with the heap bounded by
// the budget and a fixed allowance, where the same day in memory takes
// the heap well past that bound (which is what this test would find
// before taps were partitioned and rows spilled). 400,000 taps (100,000 under -race or -short).
func TestPartitionedRunBoundedMemory(t *testing.T) {
	n := memoryTestTaps()
	dir := t.TempDir()
	b, cal := env(t)
	day, _ := transit.ParseDay("2025-03-03")
	in := filepath.Join(dir, "day.csv.zst")
	writeGenerated(t, in, b, cal, bench.GenOptions{Taps: n, Seed: 4, Day: day})
	// The heap holds at most a fifth more than the live data, so that the
	// peak measures what the run holds rather than when the collector
	// happened to run.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	const budget = 8 << 20
	bound := uint64(budget + budgetFixedHeap)
	var peaks [3]uint64
	for i, tc := range []struct {
		budget int64
		ledger bool
	}{{0, false}, {budget, false}, {budget, true}} {
		budget := tc.budget
		out := filepath.Join(dir, "out", string(rune('a'+i)))
		job := &batch.Settle{Book: b, Calendar: cal, OutDir: out, SkipSync: true, MemoryBudget: budget, SpillDir: filepath.Join(dir, "spill"),
			Ledger: tc.ledger}
		stop := peakHeap()
		rep, err := job.Run(context.Background(), []string{in})
		peaks[i] = stop()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d taps, budget %d MiB, ledger %v: heap peak %d MiB above the start, %+v", rep.Taps, budget>>20, tc.ledger, peaks[i]>>20, rep.Partitioned)
		if budget > 0 && rep.Partitioned.Groups < 2 {
			t.Fatalf("budget %d: priced in %d groups", budget, rep.Partitioned.Groups)
		}
		if err := settlement.Verify(out); err != nil {
			t.Fatal(err)
		}
	}
	if peaks[0] <= bound {
		t.Fatalf("in memory the day took the heap only %d MiB above the start: too small to test a bound of %d MiB", peaks[0]>>20, bound>>20)
	}
	for i, ledger := range []bool{false, true} {
		bound := bound
		if ledger {
			bound += ledgerWriterHeap
		}
		if peak := peaks[1+i]; peak > bound {
			t.Errorf("with a budget of %d MiB the run (ledger %v) took the heap %d MiB above the start, at most %d MiB", budget>>20, ledger, peak>>20, bound>>20)
		}
	}
}

// TestPartitionedStateRunBoundedMemory: the second day of a state folder,
// far larger than its memory budget and going on from the state of a
// day as large, settles partitioned with the heap bounded by the budget
// and the same allowance as TestPartitionedRunBoundedMemory's: no group
// loads the whole state. The same day in memory takes the heap past that
// bound.
func TestPartitionedStateRunBoundedMemory(t *testing.T) {
	n := memoryTestTaps()
	dir := t.TempDir()
	b, cal := env(t)
	day, _ := transit.ParseDay("2025-03-03")
	var ins [2]string
	for k := range ins {
		ins[k] = filepath.Join(dir, fmt.Sprintf("day%d.csv.zst", k))
		writeGenerated(t, ins[k], b, cal, bench.GenOptions{Taps: n, Seed: 4, Day: day + transit.Day(k), FirstID: k * n})
	}
	first := &batch.Settle{Book: b, Calendar: cal, OutDir: filepath.Join(dir, "out-first"), SkipSync: true,
		State: filepath.Join(dir, "state-memory"), Day: day}
	if _, err := first.Run(context.Background(), ins[:1]); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "state-partitioned"), os.DirFS(first.State)); err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	const budget = 8 << 20
	bound := uint64(budget + budgetFixedHeap)
	var peaks [2]uint64
	for i, name := range []string{"memory", "partitioned"} {
		job := &batch.Settle{Book: b, Calendar: cal, OutDir: filepath.Join(dir, "out-"+name), SkipSync: true,
			State: filepath.Join(dir, "state-"+name), Day: day + 1, SpillDir: filepath.Join(dir, "spill")}
		if i == 1 {
			job.MemoryBudget = budget
		}
		stop := peakHeap()
		rep, err := job.Run(context.Background(), ins[1:])
		peaks[i] = stop()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d taps, heap peak %d MiB above the start, %+v, state %+v", name, rep.Taps, peaks[i]>>20, rep.Partitioned, rep.State)
		if (rep.Partitioned.Groups >= 2) != (i == 1) {
			t.Fatalf("%s: partitioned %+v", name, rep.Partitioned)
		}
	}
	if peaks[0] <= bound {
		t.Fatalf("in memory the day took the heap only %d MiB above the start: too small to test a bound of %d MiB", peaks[0]>>20, bound>>20)
	}
	if peaks[1] > bound {
		t.Errorf("with a budget of %d MiB the state run took the heap %d MiB above the start, at most %d MiB", budget>>20, peaks[1]>>20, bound>>20)
	}
	sameTree(t, "the state run partitioned", tree(t, filepath.Join(dir, "out-memory")), tree(t, filepath.Join(dir, "out-partitioned")))
}

// memoryTestTaps is the size of the memory tests' days: 400,000 taps,
// 100,000 under -race or -short.
func memoryTestTaps() int {
	if raceEnabled || testing.Short() {
		return 100_000
	}
	return 400_000
}

// writeGenerated writes the day that o generates to path, the records
// garbage once it returns (they are not part of the heap a test measures
// after).
func writeGenerated(t *testing.T, path string, b *fares.Book, cal *transit.Calendar, o bench.GenOptions) {
	t.Helper()
	d, err := bench.Generate(b, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := bench.WriteFile(path, ingest.FormatAuto, ingest.CompressionAuto, d); err != nil {
		t.Fatal(err)
	}
}
