package engine

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// carryD is the settlement day the carry tests' journeys enter on: it runs
// from 2025-03-03 04:00 to 2025-03-04 04:00.
const carryD = "2025-03-03"

// noLimitBook is a book whose city 320500 has a metro without a
// time-in-system limit: its entries carry within DefaultCarryWindow.
func noLimitBook(t testing.TB) *fares.Book {
	t.Helper()
	return suzhouBook(t, "[A, B, C]", "[5000, 5000]")
}

// suzhouBook loads a book of one test policy for Suzhou (320500): a bus
// fare and a metro of one line, L1, of the given stations and distances
// (YAML lists), without a time-in-system limit.
func suzhouBook(t testing.TB, stations, distances string) *fares.Book {
	t.Helper()
	dir := t.TempDir()
	policy := `city: 320500
versions:
  - effective_from: 2020-01-01
    source: "ours: test"
    bus: {fare: 200, source: "ours: test"}
    metro:
      source: "ours: test"
      ladder:
        base: {fare: 200, up_to_km: 4}
        steps:
          - {per_km: 4}
      network:
        source: "ours: test"
        lines:
          - {code: L1, stations: ` + stations + `, distances_m: ` + distances + `}
`
	must(t, os.WriteFile(filepath.Join(dir, "320500.yaml"), []byte(policy), 0o644))
	b, err := fares.Load(dir)
	must(t, err)
	return b
}

// wantRow is what a carry case expects of one tap's row.
type wantRow struct {
	status  transit.Status
	day     transit.Day
	has     transit.Rules // rules the row must carry
	hasNot  transit.Rules // rules it must not
	charged transit.Fen   // -1: not checked
}

// carryCase is a card's taps around day D's cut-off (the first tap is on
// D, the rest after D's close) and what each tap's row must be.
type carryCase struct {
	name string
	book *fares.Book
	taps []transit.Tap
	want []wantRow
}

func carryCases(t testing.TB) []carryCase {
	tp := &tapper{t: t}
	d := mustDay(t, carryD)
	ningbo := book(t)
	a, b, fare := stations(t, transit.Ningbo, d)
	maxFare := ningbo.Policy(transit.Ningbo, d).Metro.MaxFare()
	metro := func(action transit.Action, stop, at string) transit.Tap {
		return tp.tap("RIDER", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, action, stop, at)
	}
	bus := func(at string) transit.Tap {
		return tp.tap("RIDER", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeBus, transit.ActionBoard, "", at)
	}
	const (
		carried  = transit.RuleCarried
		entryR   = transit.RuleMetroEntry
		unclosed = transit.RuleUnclosedEntry
		distance = transit.RuleMetroDistance
	)
	paired := func(day transit.Day) []wantRow {
		return []wantRow{
			{transit.StatusCharged, day, entryR | carried, 0, 0},
			{transit.StatusCharged, day, distance, carried | transit.RuleUnmatchedExit, fare},
		}
	}
	noLimit := noLimitBook(t)
	noLimitNet := noLimit.Policy(320500, d).Metro
	sa, _ := noLimitNet.Station(transit.MustCode("A"))
	sc, _ := noLimitNet.Station(transit.MustCode("C"))
	noLimitTap := func(action transit.Action, stop, at string) transit.Tap {
		return tp.tap("RIDER", transit.ProductStandard, 320500, 320500, transit.ModeMetro, action, stop, at)
	}
	return []carryCase{
		{
			name: "exit after the cut-off",
			taps: []transit.Tap{metro(transit.ActionEntry, a, "2025-03-04T03:50:00+08:00"), metro(transit.ActionExit, b, "2025-03-04T04:20:00+08:00")},
			want: paired(d + 1),
		},
		{
			name: "no exit",
			taps: []transit.Tap{metro(transit.ActionEntry, a, "2025-03-04T03:50:00+08:00")},
			want: []wantRow{{transit.StatusIncomplete, d + 1, unclosed | carried, 0, maxFare}},
		},
		{
			name: "no exit, entered long before the cut-off",
			taps: []transit.Tap{metro(transit.ActionEntry, a, "2025-03-03T20:00:00+08:00")},
			want: []wantRow{{transit.StatusIncomplete, d, unclosed, carried, maxFare}},
		},
		{
			name: "new entry after the cut-off",
			taps: []transit.Tap{
				metro(transit.ActionEntry, a, "2025-03-04T03:50:00+08:00"),
				metro(transit.ActionEntry, a, "2025-03-04T08:00:00+08:00"),
				metro(transit.ActionExit, b, "2025-03-04T08:30:00+08:00"),
			},
			want: []wantRow{
				{transit.StatusIncomplete, d + 1, unclosed | carried, 0, maxFare},
				{transit.StatusCharged, d + 1, entryR, carried, 0},
				{transit.StatusCharged, d + 1, distance, carried, -1},
			},
		},
		{
			// Ningbo's limit is 2 hours: an entry at 01:50 does not carry,
			// and is over the limit at 04:20 anyway.
			name: "entered before the carry window",
			taps: []transit.Tap{metro(transit.ActionEntry, a, "2025-03-04T01:50:00+08:00"), metro(transit.ActionExit, b, "2025-03-04T04:20:00+08:00")},
			want: []wantRow{
				{transit.StatusIncomplete, d, unclosed, carried, maxFare},
				{transit.StatusIncomplete, d + 1, transit.RuleUnmatchedExit, carried, -1},
			},
		},
		{
			// A journey carries once: a bus two days on finds it open on
			// D+1 and closes it there.
			name: "next tap two days on",
			taps: []transit.Tap{metro(transit.ActionEntry, a, "2025-03-04T03:50:00+08:00"), bus("2025-03-05T09:00:00+08:00")},
			want: []wantRow{
				{transit.StatusIncomplete, d + 1, unclosed | carried, 0, maxFare},
				{transit.StatusCharged, d + 2, transit.RuleBusFlat, carried, -1},
			},
		},
		{
			// No time-in-system limit: the default window, 4 hours.
			name: "no limit: default window",
			book: noLimit,
			taps: []transit.Tap{noLimitTap(transit.ActionEntry, "A", "2025-03-04T00:30:00+08:00"), noLimitTap(transit.ActionExit, "C", "2025-03-04T04:20:00+08:00")},
			want: []wantRow{
				{transit.StatusCharged, d + 1, entryR | carried, 0, 0},
				{transit.StatusCharged, d + 1, distance, carried, noLimitNet.Fare(sa, sc)},
			},
		},
		{
			name: "no limit: before the default window",
			book: noLimit,
			taps: []transit.Tap{noLimitTap(transit.ActionEntry, "A", "2025-03-03T23:30:00+08:00"), noLimitTap(transit.ActionExit, "C", "2025-03-04T04:20:00+08:00")},
			want: []wantRow{
				{transit.StatusIncomplete, d, unclosed, carried, -1},
				{transit.StatusIncomplete, d + 1, transit.RuleUnmatchedExit, carried, -1},
			},
		},
	}
}

// check fails unless rows are one per tap of c, as c wants them.
func (c *carryCase) check(t *testing.T, rows []transit.Priced) {
	t.Helper()
	if len(rows) != len(c.taps) {
		t.Fatalf("%d rows for %d taps: %+v", len(rows), len(c.taps), rows)
	}
	for i, w := range c.want {
		var r *transit.Priced
		for k := range rows {
			if rows[k].ID == c.taps[i].ID {
				r = &rows[k]
			}
		}
		if r == nil {
			t.Fatalf("no row for tap %d (%s)", i, c.taps[i].ID)
		}
		if r.Status != w.status || r.Day != w.day || r.Rules&w.has != w.has || r.Rules&w.hasNot != 0 || (w.charged >= 0 && r.Charged != w.charged) {
			t.Errorf("tap %d (%v %s): %v on %v, rules %v, charged %v; want %v on %v with %v without %v, charged %v",
				i, c.taps[i].Action, c.taps[i].ID, r.Status, r.Day, r.Rules, r.Charged, w.status, w.day, w.has, w.hasNot, w.charged)
		}
	}
}

// runBook prices taps through a fresh engine on fare book b, with an
// unbounded window as the batch job does: every day closes at the end.
func runBook(t testing.TB, b *fares.Book, taps []transit.Tap) []transit.Priced {
	t.Helper()
	opts := Options{Window: Unbounded, Calendar: calendar(t)}
	opts.EnsureDefaults()
	c := newCollect(opts.Shards)
	e, err := New(b, c, opts)
	must(t, err)
	e.Submit(taps)
	e.Close()
	return c.rows()
}

// TestCarryAcrossCutoff: a journey across the cut-off is charged once, on
// its exit's day (issue 16); the batch job's engine, which closes every
// day at the end, sees it so.
func TestCarryAcrossCutoff(t *testing.T) {
	for _, c := range carryCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if c.book == nil {
				c.book = book(t)
			}
			c.check(t, runBook(t, c.book, slices.Clone(c.taps)))
		})
	}
}

// TestPartitionCarriesAsEngine: a partition that closes day D between a
// journey's entry and its next tap, with or without a restart from a
// checkpoint in between, emits the rows the Engine does, and restores
// exactly the state it checkpointed.
func TestPartitionCarriesAsEngine(t *testing.T) {
	d := mustDay(t, carryD)
	for _, c := range carryCases(t) {
		for _, mode := range []string{"close", "restore", "restore full"} {
			t.Run(fmt.Sprint(c.name, "/", mode), func(t *testing.T) {
				if c.book == nil {
					c.book = book(t)
				}
				// Another card's tap just before the cut-off moves the
				// watermark past the entry: the entry is priced, its
				// journey open, when the first checkpoint is taken, and
				// the day's close must mark it changed again.
				tp := &tapper{t: t, seq: 900}
				other := tp.tap("OTHER", transit.ProductStandard, c.taps[0].City, c.taps[0].City, transit.ModeBus, transit.ActionBoard, "", "2025-03-04T03:59:00+08:00")
				want := runBook(t, c.book, append(slices.Clone(c.taps), other))
				sink := &seqSink{}
				newPart := func() *Partition {
					p, err := NewPartition(c.book, sink, 0, Options{Calendar: calendar(t), Window: DefaultWindow})
					must(t, err)
					return p
				}
				p := newPart()
				store := newMemStore()
				p.Submit([]transit.Tap{c.taps[0], other})
				if p.Stats().Open != 1 {
					t.Fatalf("%d journeys open before the close, want 1", p.Stats().Open)
				}
				store.checkpoint(p, false) // the open entry, not carried yet
				p.CloseDay(d)
				if mode != "close" {
					store.checkpoint(p, mode == "restore full")
					q := newPart()
					must(t, q.Restore(store.meta, store.cards, store.lists))
					// The restored state is the checkpointed state.
					a, b := newMemStore(), newMemStore()
					a.checkpoint(p, true)
					b.checkpoint(q, true)
					if !maps.EqualFunc(a.cards, b.cards, slices.Equal) {
						t.Fatalf("restored card records differ:\nbefore %q\nafter  %q", a.cards, b.cards)
					}
					p = q
				}
				p.Submit(c.taps[1:])
				p.CloseDay(transit.Day(1 << 30))
				got := sink.rows
				var rider []transit.Priced
				for _, r := range got {
					if r.Card != other.Card {
						rider = append(rider, r)
					}
				}
				c.check(t, rider)
				sortRows(got)
				sortRows(want)
				if !slices.Equal(got, want) {
					t.Fatalf("partition rows differ from the engine's:\npartition %+v\nengine    %+v", got, want)
				}
			})
		}
	}
}
