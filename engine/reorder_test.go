package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/transit"
)

// TestReorderMatchesSort checks the bucketed reorder buffer against the
// obvious model (hold everything, sort what is due): every tap released
// once, in transit.Compare order, by releases at random watermarks, across
// bucket widths, times before 1970, exact bucket boundaries and more taps
// than one chunk.
func TestReorderMatchesSort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		width int64
		base  int64
		span  int64
	}{
		{"narrow buckets", 10, 1_700_000_000e9, 1000},
		{"one bucket", 1 << 40, 1_700_000_000e9, 1000},
		{"before 1970", 7, -500, 1000},
		{"around zero", 3, -20, 40},
		{"wide span", 1000, 1_700_000_000e9, 1e6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.width), uint64(tc.span)))
			r := newReorder(tc.width, new(pages.Blocks))
			var model, got []transit.Tap
			released := int64(math.MinInt64)
			var id int
			for round := 0; round < 40; round++ {
				for range rng.IntN(3 * chunkTaps) {
					var tp transit.Tap
					tp.Time = tc.base + rng.Int64N(tc.span)
					if tp.Time < released {
						continue // the engine prices these at once; never held
					}
					id++
					tp.ID.Set([]byte{byte('a' + id%26), byte('a' + id/26%26), byte('a' + id/676%26)})
					r.add(&tp)
					model = append(model, tp)
				}
				if r.len() != len(model) {
					t.Fatalf("len = %d, want %d", r.len(), len(model))
				}
				w := tc.base + rng.Int64N(tc.span+1)
				if round == 39 {
					w = math.MaxInt64
				}
				if w <= released {
					continue
				}
				got = got[:0]
				r.release(w, func(tp *transit.Tap, _ uint64) { got = append(got, *tp) }, func(*transit.Tap, uint64, int) {})
				var due, kept []transit.Tap
				for _, m := range model {
					if m.Time < w {
						due = append(due, m)
					} else {
						kept = append(kept, m)
					}
				}
				slices.SortFunc(due, func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
				if !slices.Equal(got, due) {
					t.Fatalf("release(%d): got %d taps, want %d, or in another order", w, len(got), len(due))
				}
				model, released = kept, w
				var held []transit.Tap
				r.each(func(tp *transit.Tap) { held = append(held, *tp) })
				cmpTaps := func(a, b transit.Tap) int { return transit.Compare(&a, &b) }
				slices.SortFunc(held, cmpTaps)
				want := slices.SortedFunc(slices.Values(kept), cmpTaps)
				if !slices.Equal(held, want) {
					t.Fatalf("after release(%d): holds %d taps, want %d", w, len(held), len(want))
				}
			}
			if r.len() != 0 || len(r.buckets) != 0 {
				t.Fatalf("after the final release: %d taps in %d buckets", r.len(), len(r.buckets))
			}
		})
	}
}

// TestCardReorder checks the card-order mode against its contract: every
// held tap older than the watermark released exactly once, the rest kept;
// each card's taps in transit.Compare order, across releases too; cards in
// hash order within a release.
func TestCardReorder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := newCardReorder(new(pages.Blocks))
	const base = 1_700_000_000e9
	lastOf := map[cardKey]transit.Tap{}
	held := 0
	ids := map[transit.TapID]int{} // held taps by identifier (each unique)
	releasedTo := int64(math.MinInt64)
	for round := 0; round < 30; round++ {
		n := 0
		for i := range rng.IntN(3 * chunkTaps) {
			var tp transit.Tap
			tp.Time = base + rng.Int64N(1e6)
			if tp.Time < releasedTo {
				continue // the engine prices these at once; never held
			}
			n++
			tp.City = transit.City(110100 + rng.IntN(2))
			tp.Card.Set(fmt.Appendf(nil, "C%d", rng.IntN(300)))
			tp.ID.Set(fmt.Appendf(nil, "r%d-%d", round, i))
			r.add(&tp)
			ids[tp.ID]++
		}
		held += n
		if r.len() != held {
			t.Fatalf("len = %d, want %d", r.len(), held)
		}
		w := max(releasedTo, base+rng.Int64N(1e6))
		if round == 29 {
			w = math.MaxInt64
		}
		releasedTo = w
		var prevHash uint64
		released := 0
		r.release(w, func(tp *transit.Tap, given uint64) {
			released++
			if ids[tp.ID] != 1 {
				t.Fatalf("released %s, which is not held", tp.ID)
			}
			delete(ids, tp.ID)
			k := cardKey{card: tp.Card, city: tp.City}
			h := keyHash(&k)
			if given != h {
				t.Fatalf("released %s with hash %x, its card's is %x", tp.ID, given, h)
			}
			if tp.Time >= w {
				t.Fatalf("released a tap at %d, watermark %d", tp.Time, w)
			}
			if h < prevHash {
				t.Fatalf("cards out of hash order")
			}
			prevHash = h
			if last, ok := lastOf[k]; ok && transit.Compare(&last, tp) > 0 {
				t.Fatalf("card %s: %s released after %s", tp.Card, tp.ID, last.ID)
			}
			lastOf[k] = *tp
		}, func(*transit.Tap, uint64, int) {})
		held -= released
		if r.len() != held {
			t.Fatalf("after release len = %d, want %d", r.len(), held)
		}
		kept := 0
		r.each(func(tp *transit.Tap) {
			if tp.Time < w {
				t.Fatalf("kept a tap at %d below the watermark %d", tp.Time, w)
			}
			if ids[tp.ID] != 1 {
				t.Fatalf("kept %s, which was not added or was released", tp.ID)
			}
			kept++
		})
		if kept != len(ids) {
			t.Fatalf("kept %d taps, %d are held", kept, len(ids))
		}
	}
	if held != 0 {
		t.Fatalf("%d taps still held after the final release", held)
	}
}
