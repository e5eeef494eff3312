package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// severalDays returns days days of taps in event-time order: the riders of
// dayOfTaps on each day, with tap_ids repeated across days (content
// differing), and metro journeys across each cut-off, the exit in the
// input of the day before (files are uploads, not settlement days).
func severalDays(t testing.TB, days int) [][]transit.Tap {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 9))
	a, b, _ := stations(t, transit.Ningbo, mustDay(t, day1))
	var out [][]transit.Tap
	for k := range days {
		d := dayOfTaps(t, 400, uint64(20+k))
		for i := range d {
			d[i].Time += int64(k) * int64(24*time.Hour)
			d[i].ID[0] = byte('a' + k) // the day's own identifiers
		}
		if k > 0 {
			prev := out[k-1]
			for range 5 { // a tap_id of yesterday, again
				x := prev[r.IntN(len(prev))]
				x.Time = d[r.IntN(len(d))].Time
				d = append(d, x)
			}
		}
		// A journey across the cut-off that ends this day.
		tp := &tapper{t: t, seq: 1000 * (k + 1)}
		at := time.Date(2025, 3, 3+k, 3, 50, 0, 0, shanghaiTZ)
		en := tp.tap(fmt.Sprintf("NIGHT%d", k), transit.ProductJoinIn, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionEntry, a, at.Format(time.RFC3339))
		ex := tp.tap(fmt.Sprintf("NIGHT%d", k), transit.ProductJoinIn, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionExit, b, at.Add(30*time.Minute).Format(time.RFC3339))
		if k > 0 {
			out[k-1] = append(out[k-1], en, ex) // in the day before's input
		} else {
			d = append(d, en, ex)
		}
		out = append(out, d)
	}
	for _, d := range out {
		slices.SortFunc(d, func(x, y transit.Tap) int { return transit.Compare(&x, &y) })
	}
	return out
}

// TestStateCarriesDayByDay: settling days one at a time, each run going on
// from the state the previous one wrote (with another shard count each
// time), gives the rows of one run over all the days.
func TestStateCarriesDayByDay(t *testing.T) {
	days := severalDays(t, 4)
	cal := calendar(t)
	first := cal.DayOf(days[0][0].Time)
	runEngine := func(shards int, state []byte, taps []transit.Tap, through transit.Day) ([]transit.Priced, []byte) {
		t.Helper()
		return runThrough(t, shards, state, taps, through)
	}
	last := first + transit.Day(len(days)-1)
	all, _ := runEngine(3, nil, slices.Concat(days...), last)
	var byDay []transit.Priced
	var state []byte
	for k, d := range days {
		var rows []transit.Priced
		if cal.LastDay(d) <= first+transit.Day(k) && k < len(days)-1 {
			t.Fatalf("day %d's input has no tap of the next day: the test no longer holds taps in the state", k)
		}
		rows, state = runEngine(1+k%3, state, d, first+transit.Day(k))
		byDay = append(byDay, rows...)
	}
	sortRows := func(rows []transit.Priced) {
		slices.SortFunc(rows, func(a, b transit.Priced) int {
			if c := transit.Compare(&a.Tap, &b.Tap); c != 0 {
				return c
			}
			return int(a.Status) - int(b.Status)
		})
	}
	sortRows(byDay)
	if len(all) != len(byDay) {
		t.Fatalf("one run: %d rows; day by day: %d", len(all), len(byDay))
	}
	var dups, carried int
	for i := range all {
		if all[i].Status == transit.StatusAdjustment {
			t.Fatalf("one run over taps in event-time order booked an adjustment: %+v", all[i])
		}
		if all[i] != byDay[i] {
			t.Fatalf("row %d: one run %+v\nday by day %+v", i, all[i], byDay[i])
		}
		if all[i].Reason == transit.ReasonContentDiffers {
			dups++
		}
		if all[i].Rules&transit.RuleCarried != 0 {
			carried++
		}
	}
	if dups == 0 || carried < len(days)-1 {
		t.Fatalf("%d duplicates across days, %d carried journeys: the input no longer tests them", dups, carried)
	}
}

// TestReadStateRefuses: state cut short, spoiled or of another kind is
// refused with ErrState, never half loaded silently.
func TestReadStateRefuses(t *testing.T) {
	state := sampleState(t)
	cases := map[string][]byte{
		"empty":        nil,
		"not state":    []byte("tap_id,card_id\n"),
		"cut short":    state[:len(state)-3],
		"no end":       state[:len(state)-2],
		"trailing":     append(slices.Clone(state), 0),
		"unknown kind": append(slices.Clone(state[:len(state)-2]), 'X', 0, stateEnd, 0),
	}
	for name, b := range cases {
		e, err := New(book(t), newCollect(2), Options{Shards: 2, Window: Unbounded, Calendar: calendar(t)})
		must(t, err)
		if _, err := e.ReadState(bytes.NewReader(b)); !errors.Is(err, ErrState) {
			t.Errorf("%s: %v, want ErrState", name, err)
		}
		e.Close()
	}
}

func sampleState(t testing.TB) []byte {
	t.Helper()
	days := severalDays(t, 2)
	cal := calendar(t)
	e, err := New(book(t), newCollect(2), Options{Shards: 2, Window: Unbounded, Calendar: cal, KeepCharges: true})
	must(t, err)
	e.Submit(days[0])
	d := cal.DayOf(days[0][0].Time)
	e.CloseDay(d)
	e.Stop()
	var b bytes.Buffer
	must(t, e.WriteState(&b, d))
	return b.Bytes()
}

// FuzzReadState: any input is loaded or refused without a panic. It loads
// into a bare pricer (no engine, no goroutines): an engine's buffers would
// cost each run more than the decoding.
func FuzzReadState(f *testing.F) {
	f.Add(sampleState(f))
	f.Add([]byte(stateMagic))
	opts := Options{Shards: 1, BatchSize: 1, Window: Unbounded, Calendar: calendar(f)}
	opts.EnsureDefaults()
	f.Fuzz(func(t *testing.T, in []byte) {
		var pr pricer
		pr.init(0, newCollect(1), &opts)
		if _, err := readState(bytes.NewReader(in), []*pricer{&pr}); err != nil && !errors.Is(err, ErrState) {
			t.Fatalf("error %v is not ErrState", err)
		}
	})
}

// TestStateLeavesOutStaleCards: a card that last rode in an earlier month,
// with no tap_id in the window, is left out of the state, and when it
// rides again its taps are priced as in one run that kept it.
func TestStateLeavesOutStaleCards(t *testing.T) {
	var taps []transit.Tap
	add := func(card string, day time.Time, n int) {
		for i := range n {
			d := dupTap{card, 110100, fmt.Sprintf("%s-%s-%d", card, day.Format("0102"), i), 0, i * 20, charged, 0}
			x := d.tap(t)
			x.Time = day.Add(time.Duration(8*60+i*20) * time.Minute).UnixNano()
			taps = append(taps, x)
		}
	}
	feb := time.Date(2025, 2, 10, 0, 0, 0, 0, shanghaiTZ)
	add("OLD", feb, 4)
	for d := range 12 {
		add("DAILY", time.Date(2025, 3, 1+d, 0, 0, 0, 0, shanghaiTZ), 3)
	}
	add("OLD", time.Date(2025, 3, 12, 0, 0, 0, 0, shanghaiTZ), 4)
	cal := calendar(t)
	day := func(m time.Month, d int) transit.Day { return transit.DayOf(2025, m, d) }
	runTo := func(state []byte, taps []transit.Tap, through transit.Day) ([]transit.Priced, []byte) {
		return runThrough(t, 2, state, taps, through)
	}
	all, _ := runTo(nil, taps, day(3, 12))
	var got []transit.Priced
	var state []byte
	var kept []bool
	after := transit.Day(0) // the last day the previous run closed
	for _, through := range []transit.Day{day(2, 10), day(3, 10), day(3, 12)} {
		var part []transit.Tap
		for _, x := range taps {
			if d := cal.DayOf(x.Time); d > after && d <= through {
				part = append(part, x)
			}
		}
		after = through
		var rows []transit.Priced
		rows, state = runTo(state, part, through)
		got = append(got, rows...)
		kept = append(kept, bytes.Contains(state, []byte("OLD")))
	}
	if !slices.Equal(kept, []bool{true, false, true}) {
		t.Errorf("card OLD in the state after 02-10, 03-10, 03-12: %v, want kept, left out (stale), kept", kept)
	}
	slices.SortFunc(got, func(a, b transit.Priced) int {
		if c := transit.Compare(&a.Tap, &b.Tap); c != 0 {
			return c
		}
		return int(a.Status) - int(b.Status)
	})
	if !slices.Equal(all, got) {
		t.Errorf("rows differ between one run and runs through a pruned state")
	}
}

// runThrough prices taps with an engine of shards shards (unbounded
// window) going on from state (none when empty), closes the days up to
// through, and returns the rows and the state it leaves.
func runThrough(t *testing.T, shards int, state []byte, taps []transit.Tap, through transit.Day) ([]transit.Priced, []byte) {
	t.Helper()
	c := newCollect(shards)
	e, err := New(book(t), c, Options{Shards: shards, Window: Unbounded, Calendar: calendar(t), KeepCharges: true})
	must(t, err)
	if len(state) > 0 {
		if _, err := e.ReadState(bytes.NewReader(state)); err != nil {
			t.Fatal(err)
		}
	}
	e.Submit(taps)
	e.CloseDay(through)
	e.Stop()
	var out bytes.Buffer
	must(t, e.WriteState(&out, through))
	return c.rows(), out.Bytes()
}
