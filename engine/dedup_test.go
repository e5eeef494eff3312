package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// dupTap is a bus tap of a dedup case: a card, a city, a tap_id, and a
// time as a day offset from 2025-03-03 and minutes past 08:00.
type dupTap struct {
	card string
	city transit.City
	id   string
	day  int
	min  int
	// want is the row's status and reason.
	want   transit.Status
	reason transit.Reason
}

func (d dupTap) tap(t testing.TB) transit.Tap {
	t.Helper()
	var x transit.Tap
	at := time.Date(2025, 3, 3+d.day, 8, d.min, 0, 0, shanghaiTZ)
	x.Time, x.Offset = at.UnixNano(), 8*3600
	x.Issuer, x.City, x.Mode, x.Action, x.Product = d.city, d.city, transit.ModeBus, transit.ActionBoard, transit.ProductStandard
	must(t, x.ID.Set([]byte(d.id)))
	must(t, x.Card.Set([]byte(d.card)))
	return x
}

const (
	charged   = transit.StatusCharged
	duplicate = transit.StatusDuplicate
	differs   = transit.ReasonContentDiffers
)

// busy returns n taps of card in city on day, with fresh tap_ids, charged:
// more than the inline slots, so that later ones spill.
func busy(card string, city transit.City, day, n int) []dupTap {
	var out []dupTap
	for i := range n {
		out = append(out, dupTap{card, city, fmt.Sprintf("%s-d%d-%d", card, day, i), day, i, charged, 0})
	}
	return out
}

// TestDuplicates: a tap_id is a duplicate of the same card's within the
// dedup window, in any city and on any day; one differing in content says
// so; the window is in settlement days; the same answers in the batch
// engine (any shard count) and in a partition closing day by day through
// checkpoints.
func TestDuplicates(t *testing.T) {
	const bj, nb = transit.City(110100), transit.City(330200)
	cases := []struct {
		name   string
		window int
		taps   []dupTap
	}{
		{"resend, same day", 0, []dupTap{
			{"C1", bj, "a", 0, 0, charged, 0},
			{"C1", bj, "a", 0, 0, duplicate, 0},
		}},
		{"same tap_id, next day", 0, []dupTap{
			{"C1", bj, "a", 0, 0, charged, 0},
			{"C1", bj, "a", 1, 0, duplicate, differs},
		}},
		{"same tap_id, another city", 0, []dupTap{
			{"C1", bj, "a", 0, 0, charged, 0},
			{"C1", nb, "a", 0, 5, duplicate, differs},
			{"C1", nb, "b", 0, 6, charged, 0},
		}},
		{"another city, next day", 0, []dupTap{
			{"C1", nb, "a", 0, 0, charged, 0},
			{"C1", bj, "b", 1, 0, charged, 0},
			{"C1", bj, "a", 2, 0, duplicate, differs},
		}},
		{"another card", 0, []dupTap{
			{"C1", bj, "a", 0, 0, charged, 0},
			{"C2", bj, "a", 0, 0, charged, 0},
		}},
		{"last day of the window", 0, []dupTap{
			{"C1", bj, "a", 0, 0, charged, 0},
			{"C1", bj, "a", DefaultDedupDays - 1, 0, duplicate, differs},
		}},
		{"past the window", 0, []dupTap{
			{"C1", bj, "a", 0, 0, charged, 0},
			{"C1", bj, "a", DefaultDedupDays, 0, charged, 0},
			{"C1", bj, "a", DefaultDedupDays, 1, duplicate, differs},
		}},
		{"a window of 2 days", 2, []dupTap{
			{"C1", bj, "a", 0, 0, charged, 0},
			{"C1", bj, "a", 1, 0, duplicate, differs},
			{"C1", bj, "a", 2, 0, charged, 0},
		}},
		{"spilled, then another city and day", 0, slices.Concat(
			busy("C1", bj, 0, 2*seenInline),
			busy("C1", bj, 1, seenInline),
			[]dupTap{
				{"C1", nb, "C1-d0-15", 2, 0, duplicate, differs}, // spilled on day 0
				{"C1", nb, "C1-d1-0", 2, 1, duplicate, differs},  // inline in Beijing
				{"C1", bj, "C1-d0-3", 3, 0, duplicate, differs},  // inline, days ago
				{"C1", nb, "fresh", 3, 1, charged, 0},
			})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			taps := make([]transit.Tap, len(c.taps))
			for i, d := range c.taps {
				taps[i] = d.tap(t)
			}
			check := func(how string, rows []transit.Priced) {
				t.Helper()
				if len(rows) != len(taps) {
					t.Fatalf("%s: %d rows for %d taps", how, len(rows), len(taps))
				}
				for i, d := range c.taps {
					r := rows[i]
					if r.Status != d.want || r.Reason != d.reason {
						t.Errorf("%s: tap %d (%s %s day %d): %v %q, want %v %q", how, i, d.card, d.id, d.day, r.Status, r.Reason, d.want, d.reason)
					}
				}
			}
			for _, shards := range []int{1, 3} {
				rows := run(t, slices.Clone(taps), Options{Window: Unbounded, Shards: shards, DedupDays: c.window})
				check(fmt.Sprintf("engine, %d shards", shards), inOrder(rows, taps))
			}
			check("partition", inOrder(dayByDay(t, taps, c.window), taps))
		})
	}
}

// dayByDay prices taps (in event-time order) through a partition that
// closes each day when the next begins, and restores from a checkpoint
// after each close.
func dayByDay(t *testing.T, taps []transit.Tap, window int) []transit.Priced {
	return closing(t, taps, window, true)
}

// closing is dayByDay, restoring after each close or not.
func closing(t *testing.T, taps []transit.Tap, window int, restore bool) []transit.Priced {
	t.Helper()
	sink := &seqSink{}
	cal := calendar(t)
	opts := Options{Calendar: cal, Window: DefaultWindow, DedupDays: window}
	p, err := NewPartition(book(t), sink, 0, opts)
	must(t, err)
	store := newMemStore()
	for i := range taps {
		if i > 0 && cal.DayOf(taps[i].Time) != cal.DayOf(taps[i-1].Time) {
			p.CloseDay(cal.DayOf(taps[i-1].Time))
			if !restore {
				p.Submit(taps[i : i+1])
				continue
			}
			store.checkpoint(p, false)
			if p, err = NewPartition(book(t), sink, 0, opts); err != nil {
				t.Fatal(err)
			}
			must(t, p.Restore(store.meta, store.cards, store.lists))
		}
		p.Submit(taps[i : i+1])
	}
	p.CloseDay(cal.DayOf(taps[len(taps)-1].Time))
	return sink.rows
}

// inOrder returns rows in the order of taps, matched by tap_id, card,
// city and time.
func inOrder(rows []transit.Priced, taps []transit.Tap) []transit.Priced {
	out := make([]transit.Priced, 0, len(taps))
	used := make([]bool, len(rows))
	for i := range taps {
		for j := range rows {
			if !used[j] && rows[j].Tap == taps[i] {
				used[j] = true
				out = append(out, rows[j])
				break
			}
		}
	}
	return out
}

// TestSpillCompaction: a card that spills every day for weeks fills the
// spill set past its first sizes, so its dead entries are compacted away
// (at day closes and instead of growing); duplicates within the window
// are still found, identifiers past it are new again, day by day through
// checkpoints as in one engine run.
func TestSpillCompaction(t *testing.T) {
	const days, perDay = 30, 40
	var taps []dupTap
	for d := range days {
		for i := range perDay {
			taps = append(taps, dupTap{"HEAVY", 110100, fmt.Sprintf("d%d-%d", d, i), d, i, charged, 0})
		}
		if d >= DefaultDedupDays {
			// Yesterday's last tap_id again (within the window), and one
			// of a day past the window (new again).
			taps = append(taps,
				dupTap{"HEAVY", 110100, fmt.Sprintf("d%d-%d", d-1, perDay-1), d, perDay, duplicate, differs},
				dupTap{"HEAVY", 110100, fmt.Sprintf("d%d-%d", d-DefaultDedupDays, 3), d, perDay + 1, charged, 0})
		}
	}
	in := make([]transit.Tap, len(taps))
	for i, d := range taps {
		in[i] = d.tap(t)
	}
	check := func(how string, rows []transit.Priced) {
		t.Helper()
		for i, d := range taps {
			if r := rows[i]; r.Status != d.want || r.Reason != d.reason {
				t.Fatalf("%s: tap %d (%s day %d): %v %q, want %v %q", how, i, d.id, d.day, r.Status, r.Reason, d.want, d.reason)
			}
		}
	}
	check("engine", inOrder(run(t, slices.Clone(in), Options{Window: Unbounded, Shards: 1}), in))
	check("partition", inOrder(dayByDay(t, in, 0), in))
	// Without restores, dead entries stay until compacted.
	check("partition, no restore", inOrder(closing(t, in, 0, false), in))
}
