package bench

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/transit"
)

// discard is a sink that keeps no row: what is measured is the state.
type discard struct{}

func (discard) Emit(int, []transit.Priced) {}

// BenchmarkPartitionMemory measures what a streaming partition holds in
// memory (docs/performance.md, "Sizing"), as the service configures its
// engine (one shard, charges kept for corrections, the default reorder
// window and dedup days): the live heap after a generated day is priced
// and closed, then after the same riders' next day. The second day adds
// taps to the dedup window and no card, so it gives the cost of a tap
// held in the window (B/window-tap); the first day, less its taps at that
// cost, gives the cost of a card's state in a city (B/card-state, what
// engine/cards.go keeps per card and city). One op is one partition
// through both days. $BENCH_MEMORY_TAPS (taps a day) replaces the two
// sizes measured by default.
func BenchmarkPartitionMemory(b *testing.B) {
	book, cal := testWorld(b)
	day1, _ := transit.ParseDay("2025-03-03")
	sizes := []int{250_000, 1_000_000}
	if v := os.Getenv("BENCH_MEMORY_TAPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("BENCH_MEMORY_TAPS=%q: want a number of taps, at least 1000", v)
		}
		sizes = []int{n}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("taps=%d", n), func(b *testing.B) {
			days := [2][]transit.Tap{}
			for i := range days {
				d, err := Generate(book, cal, GenOptions{Taps: n, Seed: 1, Day: day1 + transit.Day(i), FirstID: i * n, Late: -1, Malformed: -1})
				if err != nil {
					b.Fatal(err)
				}
				days[i] = d.Taps()
				slices.SortFunc(days[i], func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
			}
			type key struct {
				card transit.CardID
				city transit.City
			}
			states := map[key]bool{}
			cards := map[transit.CardID]bool{}
			for _, t := range days[0] {
				states[key{t.Card, t.City}] = true
				cards[t.Card] = true
			}
			opts := engine.Options{Calendar: cal, Shards: 1, KeepCharges: true}
			opts.EnsureDefaults()
			var m0, m1, m2 runtime.MemStats
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&m0)
				p, err := engine.NewPartition(book, discard{}, 0, opts)
				if err != nil {
					b.Fatal(err)
				}
				for i, taps := range days {
					for j := 0; j < len(taps); j += 1024 {
						p.Submit(taps[j:min(j+1024, len(taps))])
					}
					p.CloseDay(day1 + transit.Day(i))
					runtime.GC()
					if i == 0 {
						runtime.ReadMemStats(&m1)
					} else {
						runtime.ReadMemStats(&m2)
					}
				}
				runtime.KeepAlive(p)
			}
			perTap := float64(int64(m2.HeapAlloc)-int64(m1.HeapAlloc)) / float64(len(days[1]))
			first := float64(int64(m1.HeapAlloc) - int64(m0.HeapAlloc))
			b.ReportMetric(perTap, "B/window-tap")
			b.ReportMetric((first-perTap*float64(len(days[0])))/float64(len(states)), "B/card-state")
			b.ReportMetric(first/float64(len(cards)), "B/card-day1")
			b.ReportMetric(float64(len(states))/float64(len(cards)), "states/card")
			b.ReportMetric(float64(len(days[0]))/float64(len(cards)), "taps/card")
		})
	}
}
