package engine

import (
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestHeldIsEverySubmittedTap: a stopped engine with an Unbounded window
// hands back, through Held, every tap submitted and has priced none.
func TestHeldIsEverySubmittedTap(t *testing.T) {
	taps := dayOfTaps(t, 3000, 5)
	opts := Options{Window: Unbounded, Shards: 3, BatchSize: 64, Calendar: calendar(t)}
	c := newCollect(opts.Shards)
	e, err := New(book(t), c, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.Submit(taps)
	if err := e.Held(func(*transit.Tap) {}); !errors.Is(err, ErrRunning) {
		t.Fatalf("Held of a running engine: %v, want ErrRunning", err)
	}
	e.Stop()
	var held []transit.Tap
	if err := e.Held(func(t *transit.Tap) { held = append(held, *t) }); err != nil {
		t.Fatal(err)
	}
	if rows := c.rows(); len(rows) != 0 {
		t.Fatalf("a stopped engine priced %d rows", len(rows))
	}
	cmpTap := func(a, b transit.Tap) int { return transit.Compare(&a, &b) }
	slices.SortFunc(held, cmpTap)
	want := slices.Clone(taps)
	slices.SortFunc(want, cmpTap)
	if !slices.Equal(held, want) {
		t.Fatalf("held %d taps, submitted %d: not the same taps", len(held), len(want))
	}
}

// TestCardOrderPartitionsPriceAlike: the taps split by bits of CardOrder
// (the batch job's, 32 and up), each part priced by an engine of its own
// into one sink, give the rows of one engine over them all (duplicates,
// journeys, transfers and two cities of a card included).
func TestCardOrderPartitionsPriceAlike(t *testing.T) {
	taps := dayOfTaps(t, 6000, 11)
	want := run(t, slices.Clone(taps), Options{Window: Unbounded, Shards: 2})
	const bits = 3
	parts := make([][]transit.Tap, 1<<bits)
	for _, tp := range taps {
		p := CardPartition(&tp.Card, 0) & (1<<bits - 1)
		parts[p] = append(parts[p], tp)
	}
	c := newCollect(2)
	for p, part := range parts {
		if len(part) == 0 {
			t.Fatalf("partition %d is empty: the test needs every one", p)
		}
		e, err := New(book(t), c, Options{Window: Unbounded, Shards: 2, Calendar: calendar(t)})
		if err != nil {
			t.Fatal(err)
		}
		e.Submit(part)
		e.Close()
	}
	got := c.rows()
	if len(got) != len(want) {
		t.Fatalf("%d rows by partition, %d in one engine", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d differs:\nby partition %+v\none engine   %+v", i, got[i], want[i])
		}
	}
	if !slices.ContainsFunc(want, func(r transit.Priced) bool { return r.Status == transit.StatusDuplicate }) {
		t.Fatal("no duplicates: the test needs some")
	}
	// Release order is CardOrder order: a partition is a range of it.
	for _, tp := range taps {
		if CardOrder(&tp.Card) != cardKeyHash(&tp) {
			t.Fatal("CardOrder is not the hash the release orders cards by")
		}
	}
}

// TestCardPartitionSpreadsIndex: the cards of one partition, alone in a
// card table, spread over its index as well as any cards do (short probe
// runs), at every split level; cards that share the top bits of their
// hash, as a partition by the top bits would hold, crowd a sliver of it.
func TestCardPartitionSpreadsIndex(t *testing.T) {
	probes := func(keep func(c *transit.CardID) bool) float64 {
		var tb cardTable
		var k cardKey
		var b []byte
		for i := 0; tb.len() < 4_000; i++ {
			b = strconv.AppendInt(append(b[:0], '9'), int64(i), 10)
			must(t, k.card.Set(b))
			if keep(&k.card) {
				tb.find(&k, keyHash(&k))
			}
		}
		mask := uint64(len(tb.index) - 1)
		var dist uint64
		for i, v := range tb.index {
			if v != 0 {
				h := keyHash(&tb.at(int32(uint32(v) - 1)).key)
				dist += (uint64(i) - tb.home(h)) & mask
			}
		}
		return float64(dist) / float64(tb.len())
	}
	var c transit.CardID
	must(t, c.Set([]byte("1234567890123456789")))
	for level := range PartitionLevels {
		p := CardPartition(&c, level)
		// The cards of one partition of this level (of every partition
		// above it alike: the bits are independent).
		avg := probes(func(d *transit.CardID) bool { return CardPartition(d, level) == p })
		t.Logf("level %d: %.2f slots from home", level, avg)
		if avg > 2 {
			t.Errorf("level %d, partition %d: %.1f slots from home on average, want about 1", level, p, avg)
		}
	}
	top := probes(func(d *transit.CardID) bool { return CardOrder(d)>>56 == CardOrder(&c)>>56 })
	t.Logf("top bits: %.2f slots from home", top)
	if top < 50 {
		t.Errorf("cards sharing the top 8 bits: %.1f slots from home; the test no longer tells crowding apart", top)
	}
}
