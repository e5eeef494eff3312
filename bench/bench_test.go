package bench

import (
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// TestEngineRunAllocatesNothingPerTap pins the hot path's allocation
// budget: over a warm state the engine and collector allocate per
// settlement day (a new day's aggregates, the day close), never per tap,
// so doubling the taps of a day must not add allocations.
func TestEngineRunAllocatesNothingPerTap(t *testing.T) {
	b, cal := testWorld(t)
	taps := gen(t, GenOptions{Taps: 60_000, Seed: 2}).Taps()
	for name, run := range map[string]func(*fares.Book, *transit.Calendar, []transit.Tap, int, int) (Result, error){
		"engine": Engine, "engine batch": EngineBatch, "engine+aggregate": EngineAggregate,
	} {
		t.Run(name, func(t *testing.T) {
			small, err := run(b, cal, taps[:len(taps)/2], 2, 2)
			if err != nil {
				t.Fatal(err)
			}
			large, err := run(b, cal, taps, 2, 2)
			if err != nil {
				t.Fatal(err)
			}
			if large.Taps != int64(2*len(taps)) || large.Name != name {
				t.Errorf("measured %d taps as %q, want %d as %q", large.Taps, large.Name, 2*len(taps), name)
			}
			if large.Allocs > small.Allocs+small.Allocs/2+50 {
				t.Errorf("allocations grow with taps: %d for %d taps, %d for %d", small.Allocs, small.Taps, large.Allocs, large.Taps)
			}
			// Bytes too: a few large allocations per day (a tap_id set
			// grown anew each day) are few allocations but megabytes.
			if large.Bytes > small.Bytes+small.Bytes/2+1<<20 {
				t.Errorf("allocated bytes grow with taps: %d for %d taps, %d for %d", small.Bytes, small.Taps, large.Bytes, large.Taps)
			}
			t.Logf("allocations: %d (%d B) for %d taps, %d (%d B) for %d taps", small.Allocs, small.Bytes, small.Taps, large.Allocs, large.Bytes, large.Taps)
		})
	}
}

// BenchmarkPipelineEngine is the engine hot path with the settlement
// collector as sink; one op is one tap.
func BenchmarkPipelineEngine(b *testing.B) {
	book, cal := testWorld(b)
	taps := gen(b, GenOptions{Taps: 200_000, Seed: 1}).Taps()
	b.ReportAllocs()
	rounds := max(1, b.N/len(taps))
	b.ResetTimer()
	r, err := EngineAggregate(book, cal, taps, 2, rounds)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.TapsPerSecond(), "taps/s")
	b.ReportMetric(r.AllocsPerTap(), "allocs/tap")
}

func TestMedian(t *testing.T) {
	rs := func(rates ...float64) []Result {
		var out []Result
		for _, r := range rates {
			out = append(out, Result{Taps: int64(r), Elapsed: time.Second})
		}
		return out
	}
	for _, tc := range []struct {
		in          []Result
		med, lo, hi float64
	}{
		{rs(3, 1, 2), 2, 1, 3},
		{rs(4, 1, 3, 2), 2, 1, 4},
		{rs(5), 5, 5, 5},
		{nil, 0, 0, 0},
	} {
		med, lo, hi := Median(tc.in)
		if med.TapsPerSecond() != tc.med && !(tc.in == nil && med.Taps == 0) || lo != tc.lo || hi != tc.hi {
			t.Errorf("Median(%v) = %v, %v, %v; want %v, %v, %v", tc.in, med.TapsPerSecond(), lo, hi, tc.med, tc.lo, tc.hi)
		}
	}
}

// TestDayFileFloors: both read floors count the generated day's records,
// the header apart, and settle reads as many.
func TestDayFileFloors(t *testing.T) {
	book, cal := testWorld(t)
	day := gen(t, GenOptions{Taps: 2000, Seed: 3})
	f, err := WriteDayFile(day)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	floor, err := f.ReadFloor()
	if err != nil {
		t.Fatal(err)
	}
	if floor.Taps != int64(len(day.Records)) {
		t.Errorf("read floor counted %d taps, the day has %d records", floor.Taps, len(day.Records))
	}
	if cli, ok, err := f.ReadFloorCLI(); err != nil {
		t.Fatal(err)
	} else if ok && cli.Taps != floor.Taps {
		t.Errorf("zstd -dc | wc -l counted %d taps, the in-process floor %d", cli.Taps, floor.Taps)
	}
	s, err := f.Settle(book, cal, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.Taps != floor.Taps {
		t.Errorf("settle read %d records, the floor %d", s.Taps, floor.Taps)
	}
}
