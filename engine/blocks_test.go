package engine

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/tapsettle/tapsettle/transit"
)

// TestPricingReusesHeldMemory: a batch engine (Unbounded window) prices a
// day after holding all of it; the card states and tap_id logs it builds
// as it prices take the chunks of the taps it has released, so pricing
// allocates a small part of what they hold (before, every state and
// logged tap_id was fresh memory: a batch job's peak held the day twice
// over).
func TestPricingReusesHeldMemory(t *testing.T) {
	taps := dayOfTaps(t, 200_000, 7)
	sink := &countSink{charged: make([]transit.Fen, 1)}
	e, err := New(book(t), sink, Options{Shards: 1, Calendar: calendar(t), Window: Unbounded})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(taps); i += 1024 {
		e.Submit(taps[i:min(i+1024, len(taps))])
	}
	e.Flush()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	e.Close() // prices every held tap
	runtime.ReadMemStats(&after)
	pr := &e.shards[0].pricer
	if pr.stats.Taps != int64(len(taps)) {
		t.Fatalf("priced %d taps of %d", pr.stats.Taps, len(taps))
	}
	ids := 0
	for _, l := range pr.logs {
		ids += l.ids.Len()
	}
	held := pr.cards.len()*int(unsafe.Sizeof(cardState{})) + ids*int(unsafe.Sizeof(loggedID{}))
	if got := int(after.TotalAlloc - before.TotalAlloc); got > held/4 {
		t.Errorf("pricing allocated %d KiB for %d card states and %d logged tap_ids (%d KiB): want under a quarter, the rest in the released taps' chunks",
			got>>10, pr.cards.len(), ids, held>>10)
	}
}
