package batch_test

import (
	"context"
	"math"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// budgetFixedHeap is what TestPartitionedRunBoundedMemory allows a run
// besides its budget: the decoder of its input (a zstd window and its
// buffers, some 12 MiB), the engine's batches, the partitions' buffers,
// the writers' buffers, and the garbage the collector leaves under the
// soft memory limit the command sets (Settle.MemoryLimit).
const budgetFixedHeap = 56 << 20

// TestPartitionedRunBoundedMemory: a day far larger than its memory
// budget settles with the heap bounded by the budget and a fixed
// allowance, where the same day in memory takes the heap well past that
// bound (which is what this test would find before taps were
// partitioned). 400,000 taps (100,000 under -race or -short).
func TestPartitionedRunBoundedMemory(t *testing.T) {
	n := 400_000
	if raceEnabled || testing.Short() {
		n = 100_000
	}
	dir := t.TempDir()
	b, cal := env(t)
	day, _ := transit.ParseDay("2025-03-03")
	in := filepath.Join(dir, "day.csv.zst")
	func() { // the generated records are garbage before the runs
		d, err := bench.Generate(b, cal, bench.GenOptions{Taps: n, Seed: 4, Day: day})
		if err != nil {
			t.Fatal(err)
		}
		if err := bench.WriteFile(in, ingest.FormatAuto, ingest.CompressionAuto, d); err != nil {
			t.Fatal(err)
		}
	}()
	defer debug.SetMemoryLimit(math.MaxInt64)
	const budget = 8 << 20
	bound := uint64(budget + budgetFixedHeap)
	var peaks [2]uint64
	for i, budget := range []int64{0, budget} {
		out := filepath.Join(dir, "out", string(rune('a'+i)))
		job := &batch.Settle{Book: b, Calendar: cal, OutDir: out, SkipSync: true, MemoryBudget: budget, SpillDir: filepath.Join(dir, "spill")}
		runtime.GC()
		debug.SetMemoryLimit(math.MaxInt64)
		if budget > 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			// The limit the command sets, above what the test holds.
			debug.SetMemoryLimit(int64(ms.HeapAlloc) + job.MemoryLimit(1))
		}
		stop := peakHeap()
		rep, err := job.Run(context.Background(), []string{in})
		peaks[i] = stop()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d taps, budget %d MiB: heap peak %d MiB above the start, %+v", rep.Taps, budget>>20, peaks[i]>>20, rep.Partitioned)
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
	if peaks[1] > bound {
		t.Errorf("with a budget of %d MiB the run took the heap %d MiB above the start, at most %d MiB", budget>>20, peaks[1]>>20, bound>>20)
	}
}
