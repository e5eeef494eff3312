package engine

import (
	"errors"
	"slices"
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

// TestCardOrderPartitionsPriceAlike: the taps split by the top bits of
// CardOrder, each part priced by an engine of its own into one sink, give
// the rows of one engine over them all (duplicates, journeys, transfers and
// two cities of a card included), and every part is a contiguous range of
// the release order.
func TestCardOrderPartitionsPriceAlike(t *testing.T) {
	taps := dayOfTaps(t, 6000, 11)
	want := run(t, slices.Clone(taps), Options{Window: Unbounded, Shards: 2})
	const bits = 3
	parts := make([][]transit.Tap, 1<<bits)
	for _, tp := range taps {
		p := CardOrder(&tp.Card) >> (64 - bits)
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
