package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// countSink totals rows without keeping them: what the engine costs
// without the settlement aggregation.
type countSink struct{ charged []transit.Fen }

func (c *countSink) Emit(shard int, rows []transit.Priced) {
	for i := range rows {
		c.charged[shard] += rows[i].Charged
	}
}

// BenchmarkEngine measures the hot path (fare plus state, taps in memory)
// over shard counts: one op is one tap. The same taps are replayed as new
// days, each with tap_ids of its own (the same ones a day later would be
// duplicates within the dedup window), so that card state is warm and the
// tap_id logs go round their window: the steady state of a running
// service.
func BenchmarkEngine(b *testing.B) {
	taps := dayOfTaps(b, 200_000, 42)
	slices.SortFunc(taps, func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
	for _, shards := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			sink := &countSink{charged: make([]transit.Fen, shards)}
			e, err := New(book(b), sink, Options{Shards: shards, Calendar: calendar(b), Window: DefaultWindow})
			if err != nil {
				b.Fatal(err)
			}
			const dayNanos = 86400e9
			in := slices.Clone(taps)
			ids := make([]transit.TapID, len(in))
			for j := range in {
				ids[j] = in[j].ID
			}
			days := 0
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				for i := 0; i < len(in) && done < b.N; i += 1024 {
					n := min(1024, len(in)-i, b.N-done)
					e.Submit(in[i : i+n])
					done += n
				}
				e.CloseDay(e.shards[0].cal.DayOf(in[0].Time))
				// The next day: the same taps a day later, moved in place
				// outside the measured time.
				b.StopTimer()
				days++
				for j := range in {
					in[j].Time += dayNanos
					in[j].ID = dayID(ids[j], days)
				}
				b.StartTimer()
			}
			e.Close()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "taps/s")
		})
	}
}

// dayID returns id with a suffix for replayed day k: a '.' and two
// base-36 digits, over its last bytes when it is too long to take them.
func dayID(id transit.TapID, k int) transit.TapID {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	n := min(len(id.Bytes()), transit.MaxTapID-3)
	id[n], id[n+1], id[n+2] = '.', digits[k/36%36], digits[k%36]
	return id
}
