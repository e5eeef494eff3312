package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

var shanghaiTZ = time.FixedZone("CST", 8*3600)

func calendar(t testing.TB) *transit.Calendar {
	t.Helper()
	cal, err := transit.NewCalendar(shanghaiTZ, 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

func book(t testing.TB) *fares.Book {
	t.Helper()
	b, err := fares.Default()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// collect is a Sink that keeps every row, one part per shard (the same
// single-writer discipline as the real collector).
type collect struct {
	mu    sync.Mutex // guards nothing on the Emit path; used by rows()
	parts [][]transit.Priced
}

func newCollect(shards int) *collect { return &collect{parts: make([][]transit.Priced, shards)} }

func (c *collect) Emit(shard int, rows []transit.Priced) {
	c.parts[shard] = append(c.parts[shard], rows...)
}

// rows returns all rows in ledger order.
func (c *collect) rows() []transit.Priced {
	var all []transit.Priced
	for _, p := range c.parts {
		all = append(all, p...)
	}
	slices.SortFunc(all, func(a, b transit.Priced) int {
		if c := transit.Compare(&a.Tap, &b.Tap); c != 0 {
			return c
		}
		return int(a.Status) - int(b.Status)
	})
	return all
}

// run prices taps through a fresh engine and returns the rows in order.
func run(t testing.TB, taps []transit.Tap, opts Options) []transit.Priced {
	t.Helper()
	opts.Calendar = calendar(t)
	opts.EnsureDefaults()
	c := newCollect(opts.Shards)
	e, err := New(book(t), c, opts)
	if err != nil {
		t.Fatal(err)
	}
	for len(taps) > 0 { // submit in uneven slices to exercise batching
		n := min(len(taps), 7)
		e.Submit(taps[:n])
		taps = taps[n:]
	}
	e.Close()
	return c.rows()
}

// tapper builds taps for tests.
type tapper struct {
	t   testing.TB
	seq int
}

func (tp *tapper) tap(card string, product transit.Product, issuer, city transit.City, mode transit.Mode, action transit.Action, stop string, at string) transit.Tap {
	tp.t.Helper()
	tp.seq++
	var x transit.Tap
	when, err := time.Parse(time.RFC3339, at)
	if err != nil {
		tp.t.Fatal(err)
	}
	_, off := when.Zone()
	x.Time, x.Offset = when.UnixNano(), int32(off)
	x.Issuer, x.City, x.Mode, x.Action, x.Product = issuer, city, mode, action, product
	must(tp.t, x.ID.Set(fmt.Appendf(nil, "t%05d", tp.seq)))
	must(tp.t, x.Card.Set([]byte(card)))
	must(tp.t, x.Stop.Set([]byte(stop)))
	return x
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// stations returns two stations of a city's network and their fare.
func stations(t testing.TB, city transit.City, day transit.Day) (a, b string, fare transit.Fen) {
	t.Helper()
	pol := book(t).Policy(city, day)
	if pol == nil || pol.Metro == nil {
		t.Fatalf("city %v has no metro policy", city)
	}
	n := pol.Metro
	// The pair with the highest fare exercises the ladder beyond its base.
	for i := 0; i < n.NumStations(); i++ {
		for j := 0; j < n.NumStations(); j++ {
			if f := n.Fare(int32(i), int32(j)); f > fare {
				a, b, fare = n.StationCode(int32(i)).String(), n.StationCode(int32(j)).String(), f
			}
		}
	}
	return a, b, fare
}

const (
	shanghai transit.City = 310100
	day1                  = "2025-03-03"
)

func mustDay(t testing.TB, s string) transit.Day {
	d, err := transit.ParseDay(s)
	must(t, err)
	return d
}

func find(t testing.TB, rows []transit.Priced, status transit.Status, mode transit.Mode, action transit.Action, card string) transit.Priced {
	t.Helper()
	for _, r := range rows {
		if r.Status == status && r.Mode == mode && r.Action == action && r.Card.String() == card {
			return r
		}
	}
	t.Fatalf("no %v %v %v row for card %s in %d rows", status, mode, action, card, len(rows))
	return transit.Priced{}
}

// The fares of Join in Card journeys in and out of Ningbo are checked by
// testdata/scenarios/joinin.txt and ningbo_transfers.txt, incomplete and
// overtime journeys by ningbo.txt: see TestScenarios.

// TestExitRowNamesItsEntry: an exit row names the entry it was priced
// from (entry_stop, entry_time), which after an entry closed by a new
// entry is the second one; and a row keeps its tap's issuer and city, so
// a Ningbo card priced in Shanghai is interregional.
func TestExitRowNamesItsEntry(t *testing.T) {
	tp := &tapper{t: t}
	a, b, _ := stations(t, transit.Ningbo, mustDay(t, day1))
	sa, sb, _ := stations(t, shanghai, mustDay(t, day1))
	const std, join = transit.ProductStandard, transit.ProductJoinIn
	metro, entry, exit := transit.ModeMetro, transit.ActionEntry, transit.ActionExit
	taps := []transit.Tap{
		tp.tap("EE", std, transit.Ningbo, transit.Ningbo, metro, entry, a, "2025-03-03T09:00:00+08:00"),
		tp.tap("EE", std, transit.Ningbo, transit.Ningbo, metro, entry, b, "2025-03-03T11:00:00+08:00"),
		tp.tap("EE", std, transit.Ningbo, transit.Ningbo, metro, exit, a, "2025-03-03T11:20:00+08:00"),
		tp.tap("JOIN", join, transit.Ningbo, shanghai, metro, entry, sa, "2025-03-03T09:00:00+08:00"),
		tp.tap("JOIN", join, transit.Ningbo, shanghai, metro, exit, sb, "2025-03-03T10:10:00+08:00"),
	}
	rows := run(t, taps, Options{Window: Unbounded, Shards: 3})
	if first := find(t, rows, transit.StatusIncomplete, metro, entry, "EE"); first.Time != taps[0].Time {
		t.Errorf("the incomplete entry is at %v, want the first one", first.Time)
	}
	if ex := find(t, rows, transit.StatusCharged, metro, exit, "EE"); ex.EntryStop.String() != b || ex.EntryTime != taps[1].Time {
		t.Errorf("exit row names entry %s at %v, want the second entry, %s at %v", ex.EntryStop, ex.EntryTime, b, taps[1].Time)
	}
	ex := find(t, rows, transit.StatusCharged, metro, exit, "JOIN")
	if ex.EntryStop.String() != sa || ex.EntryTime != taps[3].Time {
		t.Errorf("exit row names entry %s at %v, want %s at %v", ex.EntryStop, ex.EntryTime, sa, taps[3].Time)
	}
	if !ex.Interregional() || ex.Issuer != transit.Ningbo || ex.City != shanghai {
		t.Errorf("row is not Ningbo->Shanghai interregional: issuer %v city %v", ex.Issuer, ex.City)
	}
}

func TestDuplicatesAreNotCharged(t *testing.T) {
	tp := &tapper{t: t}
	x := tp.tap("C1", transit.ProductStandard, 110100, 110100, transit.ModeBus, transit.ActionBoard, "", "2025-03-03T08:00:00+08:00")
	y := x
	y.Device[0] = 'D' // a resend that differs in an unimportant field is still a duplicate
	rows := run(t, []transit.Tap{x, x, y}, Options{Window: Unbounded, Shards: 2})
	var charged, dups int
	var total transit.Fen
	for _, r := range rows {
		switch r.Status {
		case transit.StatusCharged:
			charged++
		case transit.StatusDuplicate:
			dups++
			if r.Charged != 0 {
				t.Errorf("duplicate charged %v", r.Charged)
			}
		}
		total += r.Charged
	}
	if charged != 1 || dups != 2 {
		t.Errorf("charged %d duplicates %d, want 1 and 2", charged, dups)
	}
	if fare, _ := book(t).Policy(110100, mustDay(t, day1)).BusFare(transit.Code{}); total != fare {
		t.Errorf("total charged %v, want one fare %v", total, fare)
	}
}

func TestIncompleteJourneys(t *testing.T) {
	tp := &tapper{t: t}
	a, b, _ := stations(t, transit.Ningbo, mustDay(t, day1))
	pol := book(t).Policy(transit.Ningbo, mustDay(t, day1))
	maxFare := pol.Metro.MaxFare()
	taps := []transit.Tap{
		// exit with no entry
		tp.tap("X", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionExit, b, "2025-03-03T08:00:00+08:00"),
		// entry never closed by the cut-off
		tp.tap("E", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionEntry, a, "2025-03-03T23:00:00+08:00"),
		// entry followed by another entry, then a proper exit
		tp.tap("EE", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionEntry, a, "2025-03-03T09:00:00+08:00"),
		tp.tap("EE", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionEntry, a, "2025-03-03T11:00:00+08:00"),
		tp.tap("EE", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionExit, a, "2025-03-03T11:20:00+08:00"),
		// over the time-in-system limit
		tp.tap("OT", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionEntry, a, "2025-03-03T13:00:00+08:00"),
		tp.tap("OT", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionExit, b, "2025-03-03T16:00:00+08:00"),
	}
	rows := run(t, taps, Options{Window: Unbounded})
	x := find(t, rows, transit.StatusIncomplete, transit.ModeMetro, transit.ActionExit, "X")
	if x.Charged != maxFare || x.Rules&transit.RuleUnmatchedExit == 0 {
		t.Errorf("unmatched exit: charged %v rules %v, want max fare %v and unmatched-exit", x.Charged, x.Rules, maxFare)
	}
	e := find(t, rows, transit.StatusIncomplete, transit.ModeMetro, transit.ActionEntry, "E")
	if e.Charged != maxFare || e.Rules&transit.RuleUnclosedEntry == 0 || e.Day != mustDay(t, day1) {
		t.Errorf("unclosed entry: charged %v rules %v day %v", e.Charged, e.Rules, e.Day)
	}
	first := find(t, rows, transit.StatusIncomplete, transit.ModeMetro, transit.ActionEntry, "EE")
	if first.Time != taps[2].Time {
		t.Errorf("the incomplete entry is the first one, at %v", first.Time)
	}
	if ex := find(t, rows, transit.StatusCharged, transit.ModeMetro, transit.ActionExit, "EE"); ex.EntryTime != taps[3].Time {
		t.Errorf("the exit pairs with the second entry")
	}
	ot := find(t, rows, transit.StatusCharged, transit.ModeMetro, transit.ActionExit, "OT")
	exitIdx, _ := pol.Metro.Station(transit.MustCode(b))
	if ot.Rules&transit.RuleOvertime == 0 || ot.Gross != pol.Metro.MaxFareFrom(exitIdx) {
		t.Errorf("overtime: gross %v rules %v, want the highest fare from the exit station %v", ot.Gross, ot.Rules, pol.Metro.MaxFareFrom(exitIdx))
	}
}

func TestRejectsWellFormedButUnpriceable(t *testing.T) {
	tp := &tapper{t: t}
	taps := []transit.Tap{
		tp.tap("U1", transit.ProductStandard, 110100, 990100, transit.ModeBus, transit.ActionBoard, "", "2025-03-03T08:00:00+08:00"),
		tp.tap("U2", transit.ProductStandard, 990100, 110100, transit.ModeBus, transit.ActionBoard, "", "2025-03-03T08:00:00+08:00"),
		tp.tap("U3", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeMetro, transit.ActionEntry, "NOPE", "2025-03-03T08:00:00+08:00"),
		tp.tap("U4", transit.ProductStandard, transit.Ningbo, transit.Ningbo, transit.ModeBus, transit.ActionExit, "", "2025-03-03T08:00:00+08:00"),
	}
	want := map[string]transit.Reason{"U1": transit.ReasonUnknownCity, "U2": transit.ReasonUnknownIssuer, "U3": transit.ReasonUnknownStation, "U4": transit.ReasonModeAction}
	rows := run(t, taps, Options{Window: Unbounded})
	if len(rows) != len(taps) {
		t.Fatalf("%d rows for %d taps", len(rows), len(taps))
	}
	for _, r := range rows {
		if r.Status != transit.StatusRejected || r.Reason != want[r.Card.String()] {
			t.Errorf("card %s: status %v reason %v, want rejected %v", r.Card, r.Status, r.Reason, want[r.Card.String()])
		}
	}
}

// dayOfTaps builds a busy synthetic day for order-independence tests:
// several cards in Ningbo and Shanghai with bus rides, metro journeys,
// transfers, duplicates and an unclosed entry.
func dayOfTaps(t testing.TB, n int, seed uint64) []transit.Tap {
	tp := &tapper{t: t}
	r := rand.New(rand.NewPCG(seed, 1))
	a, b, _ := stations(t, transit.Ningbo, mustDay(t, day1))
	sa, sb, _ := stations(t, shanghai, mustDay(t, day1))
	base, _ := time.Parse(time.RFC3339, "2025-03-03T05:00:00+08:00")
	var taps []transit.Tap
	for i := 0; len(taps) < n; i++ {
		card := fmt.Sprintf("C%03d", r.IntN(n/6+1))
		at := base.Add(time.Duration(r.IntN(20*3600)) * time.Second).Format(time.RFC3339)
		city, issuer, prod := transit.Ningbo, transit.Ningbo, transit.ProductJoinIn
		st1, st2 := a, b
		if r.IntN(3) == 0 {
			city, st1, st2 = shanghai, sa, sb
		}
		if r.IntN(2) == 0 {
			prod = transit.ProductStandard
		}
		switch r.IntN(4) {
		case 0, 1:
			taps = append(taps, tp.tap(card, prod, issuer, city, transit.ModeBus, transit.ActionBoard, "", at))
		case 2:
			en := tp.tap(card, prod, issuer, city, transit.ModeMetro, transit.ActionEntry, st1, at)
			ex := en
			ex.Action, ex.Time = transit.ActionExit, en.Time+int64(time.Duration(5+r.IntN(60))*time.Minute)
			must(t, ex.Stop.Set([]byte(st2)))
			must(t, ex.ID.Set(fmt.Appendf(nil, "x%05d", i)))
			taps = append(taps, en, ex)
		case 3:
			if len(taps) > 0 {
				taps = append(taps, taps[r.IntN(len(taps))]) // duplicate
			}
		}
	}
	return taps
}

func TestOutputIndependentOfOrderAndShards(t *testing.T) {
	taps := dayOfTaps(t, 3000, 7)
	want := run(t, slices.Clone(taps), Options{Window: Unbounded, Shards: 1})
	if len(want) < len(taps) {
		t.Fatalf("%d rows for %d taps", len(want), len(taps))
	}
	var charged transit.Fen
	for _, r := range want {
		charged += r.Charged
	}
	if charged == 0 {
		t.Fatal("nothing charged")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, shards := range []int{2, 3, 8} {
		shuffled := slices.Clone(taps)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := run(t, shuffled, Options{Window: Unbounded, Shards: shards, BatchSize: 64})
		if !slices.Equal(got, want) {
			t.Fatalf("shards=%d shuffled: rows differ from one shard in order", shards)
		}
	}
}

func TestReorderWindow(t *testing.T) {
	taps := dayOfTaps(t, 2000, 11)
	slices.SortFunc(taps, func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
	want := run(t, slices.Clone(taps), Options{Window: Unbounded})

	// Disorder within the window: every tap displaced by up to 60 s of
	// event time. Priced as if in order, nothing late.
	jittered := slices.Clone(taps)
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([]int64, len(jittered))
	for i := range keys {
		keys[i] = jittered[i].Time + int64(r.IntN(60))*1e9
	}
	idx := make([]int, len(jittered))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return int(keys[a] - keys[b]) })
	var in []transit.Tap
	for _, i := range idx {
		in = append(in, jittered[i])
	}
	for _, shards := range []int{1, 4} {
		got := run(t, slices.Clone(in), Options{Window: 2 * time.Minute, Shards: shards, BatchSize: 16})
		if !slices.Equal(got, want) {
			t.Fatalf("shards=%d: disorder within the window changed the output", shards)
		}
	}

	// A tap an hour late is priced on arrival and flagged, and the flag
	// does not depend on the shard count.
	late := slices.Clone(taps)
	moved := late[10]
	late = append(late[:10], late[11:]...)
	late = append(late, moved)
	one := run(t, slices.Clone(late), Options{Window: time.Minute, Shards: 1})
	four := run(t, slices.Clone(late), Options{Window: time.Minute, Shards: 4, BatchSize: 8})
	if !slices.Equal(one, four) {
		t.Fatal("late handling depends on the shard count")
	}
	flagged := 0
	for _, r := range one {
		if r.Rules&transit.RuleLate != 0 {
			flagged++
			if r.ID != moved.ID {
				t.Errorf("tap %s flagged late, want only %s", r.ID, moved.ID)
			}
		}
	}
	if flagged != 1 {
		t.Errorf("%d rows flagged late, want 1", flagged)
	}
}

func TestSetBookConcurrently(t *testing.T) {
	opts := Options{Window: time.Minute, Shards: 2, Calendar: calendar(t)}
	c := newCollect(2)
	e, err := New(book(t), c, opts)
	must(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			e.SetBook(book(t))
			_ = e.Stats()
		}
	}()
	taps := dayOfTaps(t, 2000, 5)
	e.Submit(taps)
	<-done
	e.Close()
	st := e.Stats()
	if st.Taps != int64(len(taps)) {
		t.Errorf("Stats.Taps = %d, want %d", st.Taps, len(taps))
	}
	var rows int64
	for _, n := range st.Rows {
		rows += n
	}
	if rows != int64(len(c.rows())) {
		t.Errorf("Stats rows %d, sink rows %d", rows, len(c.rows()))
	}
}

func TestOptionsValidate(t *testing.T) {
	cal := calendar(t)
	for _, o := range []Options{
		{Shards: -1, Calendar: cal},
		{BatchSize: -5, Calendar: cal},
		{Window: -time.Second, Calendar: cal},
		{},
	} {
		o.EnsureDefaults()
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", o)
		}
	}
}

func TestShardOfIsStableAndSpread(t *testing.T) {
	counts := make([]int, 4)
	for i := 0; i < 4000; i++ {
		var c transit.CardID
		must(t, c.Set(fmt.Appendf(nil, "card-%d", i)))
		s := ShardOf(&c, 4)
		if s != ShardOf(&c, 4) {
			t.Fatal("ShardOf is not deterministic")
		}
		counts[s]++
	}
	for i, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d got %d of 4000 cards", i, n)
		}
	}
}

// A card with more tap_ids than its inline slots spills to the day's exact
// set; duplicates are still caught, and nothing else is flagged.
func TestDedupSpillsBeyondInlineSlots(t *testing.T) {
	tp := &tapper{t: t}
	var taps []transit.Tap
	for i := 0; i < 3*seenInline; i++ {
		at := time.Date(2025, 3, 3, 6, i, 0, 0, shanghaiTZ).Format(time.RFC3339)
		taps = append(taps, tp.tap("BUSY", transit.ProductStandard, 110100, 110100, transit.ModeBus, transit.ActionBoard, "", at))
	}
	taps = append(taps, taps[1], taps[2*seenInline+1]) // one duplicate inline, one spilled
	rows := run(t, taps, Options{Window: Unbounded})
	var dups []string
	for _, r := range rows {
		if r.Status == transit.StatusDuplicate {
			dups = append(dups, r.ID.String())
		}
	}
	want := []string{taps[1].ID.String(), taps[2*seenInline+1].ID.String()}
	if !slices.Equal(dups, want) {
		t.Errorf("duplicates %v, want %v", dups, want)
	}
}

// TestSpilledIDsArePerCard: two busy cards whose taps share identifiers
// beyond the inline slots are two riders; neither is a duplicate of the
// other, whatever the shard count (which decides who shares a spill set).
func TestSpilledIDsArePerCard(t *testing.T) {
	tp := &tapper{t: t}
	var taps []transit.Tap
	for _, card := range []string{"BUSY-A", "BUSY-B"} {
		tp.seq = 0 // same identifiers for both cards
		for i := 0; i < 2*seenInline; i++ {
			at := time.Date(2025, 3, 3, 6, i, 0, 0, shanghaiTZ).Format(time.RFC3339)
			taps = append(taps, tp.tap(card, transit.ProductStandard, 110100, 110100, transit.ModeBus, transit.ActionBoard, "", at))
		}
	}
	for _, shards := range []int{1, 2, 5} {
		rows := run(t, slices.Clone(taps), Options{Window: Unbounded, Shards: shards})
		for _, r := range rows {
			if r.Status != transit.StatusCharged {
				t.Fatalf("shards=%d: %s of %s is %v, want charged", shards, r.ID, r.Card, r.Status)
			}
		}
	}
}

// TestDedupBeyondInlineDays: a day that does not fit an inline entry's 16
// bits (after 2149) goes to the exact spill set; duplicates are still
// caught there, before and after the change of representation.
func TestDedupBeyondInlineDays(t *testing.T) {
	tp := &tapper{t: t}
	var taps []transit.Tap
	for _, day := range []string{"2149-06-01", "2150-03-03"} {
		for i := range 3 {
			taps = append(taps, tp.tap("FAR", transit.ProductStandard, 110100, 110100, transit.ModeBus, transit.ActionBoard, "",
				fmt.Sprintf("%sT08:0%d:00+08:00", day, i)))
		}
	}
	taps = append(taps, taps[1], taps[4])
	rows := run(t, taps, Options{Window: Unbounded})
	var dups []string
	for _, r := range rows {
		if r.Status == transit.StatusDuplicate {
			dups = append(dups, r.ID.String())
		}
	}
	if want := []string{taps[1].ID.String(), taps[4].ID.String()}; !slices.Equal(dups, want) {
		t.Errorf("duplicates %v, want %v", dups, want)
	}
	if d := calendar(t).DayOf(taps[4].Time); d <= math.MaxUint16 {
		t.Fatalf("test day %d fits 16 bits: the test no longer reaches the spill path", d)
	}
}

// TestCardStateSize pins the card state at three cache lines: once states
// outgrow the caches, a tap costs about a miss per line of its card's
// state, so a field added here is a cost on every tap.
func TestCardStateSize(t *testing.T) {
	if n := unsafe.Sizeof(cardState{}); n != 192 {
		t.Errorf("cardState is %d bytes, want 192 (three cache lines): see the comment on cardState", n)
	}
	// The duplicate check reads the inline tap_ids whole: one line.
	if off := unsafe.Offsetof(cardState{}.seen); off%64 != 0 {
		t.Errorf("cardState.seen at offset %d, across two cache lines", off)
	}
}

// TestCardOrderMatchesTimeOrder: the batch job's card-order release
// (Unbounded) prices every card's taps exactly as a time-order release
// does, whatever the input order: the same day, sorted and priced through
// a window that never finds a tap late, gives the same rows.
func TestCardOrderMatchesTimeOrder(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		taps := dayOfTaps(t, 4000, seed)
		sorted := slices.Clone(taps)
		slices.SortFunc(sorted, func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
		want := run(t, sorted, Options{Window: time.Hour, Shards: 2})
		rand.New(rand.NewPCG(seed, 9)).Shuffle(len(taps), func(i, j int) { taps[i], taps[j] = taps[j], taps[i] })
		got := run(t, taps, Options{Window: Unbounded, Shards: 2})
		sortRows(want)
		sortRows(got)
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d rows in card order, %d in time order", seed, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("seed %d: row %d differs:\ncard order %+v\ntime order %+v", seed, i, got[i], want[i])
			}
		}
		if late := slices.ContainsFunc(want, func(r transit.Priced) bool { return r.Rules&transit.RuleLate != 0 }); late {
			t.Fatalf("seed %d: the time-order run found late taps; the comparison needs none", seed)
		}
	}
}

// TestCardOrderPartialReleases: with days closed while the input goes on
// (partial releases, late taps of a closed day), the card-order release
// gives the rows the time-order release gives on the same submissions.
func TestCardOrderPartialReleases(t *testing.T) {
	var taps []transit.Tap
	for d := range 3 {
		day := dayOfTaps(t, 3000, uint64(10+d))
		for i := range day {
			day[i].Time += int64(d) * int64(24*time.Hour)
		}
		taps = append(taps, day...)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	rng.Shuffle(len(taps), func(i, j int) {
		// Mostly in day order: shuffle within a day, and move a few taps
		// past their day's close.
		if taps[i].Time/int64(24*time.Hour) == taps[j].Time/int64(24*time.Hour) || rng.IntN(50) == 0 {
			taps[i], taps[j] = taps[j], taps[i]
		}
	})
	cal := calendar(t)
	first := cal.DayOf(taps[0].Time)
	submit := func(shards int, timeOrder bool) []transit.Priced {
		opts := Options{Window: Unbounded, Shards: shards, Calendar: cal, timeOrder: timeOrder}
		opts.EnsureDefaults()
		c := newCollect(opts.Shards)
		e, err := New(book(t), c, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i, third := 0, len(taps)/3; i < 3; i++ {
			e.Submit(taps[i*third : (i+1)*third])
			e.CloseDay(first + transit.Day(i) - 1)
		}
		e.Close()
		rows := c.rows()
		sortRows(rows)
		return rows
	}
	for _, shards := range []int{1, 3} {
		got := submit(shards, false)
		want := submit(shards, true)
		if len(got) != len(want) || len(got) < len(taps) {
			t.Fatalf("%d shards: %d rows in card order, %d in time order, %d taps", shards, len(got), len(want), len(taps))
		}
		late := 0
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%d shards: row %d differs:\ncard order %+v\ntime order %+v", shards, i, got[i], want[i])
			}
			if want[i].Rules&transit.RuleLate != 0 {
				late++
			}
		}
		if late == 0 {
			t.Fatalf("%d shards: no late taps; the test does not reach the forced-release path", shards)
		}
	}
}

// TestDayLogReusesRoomiestSpare: a new day's log is the roomiest of the
// evicted ones, so a day's tap_id set is not grown anew because a small
// log (a few taps past midnight, a late tap) was evicted last.
func TestDayLogReusesRoomiestSpare(t *testing.T) {
	var pr pricer
	pr.init(0, nil, &Options{Calendar: calendar(t), DedupDays: 1, Window: DefaultWindow})
	var big, small dayLog
	big.reset(1)
	small.reset(2)
	for i := range 5000 {
		var id transit.TapID
		copy(id[:], fmt.Sprintf("id-%d", i))
		big.ids.Push(&loggedID{id: id})
	}
	pr.spare = []*dayLog{&big, &small} // the small one last, as the bench's days leave them
	if got := pr.dayLog(10); got != &big {
		t.Fatalf("the new day got the log with room %d, want the roomiest (%d)", got.room(), big.room())
	}
	if got := pr.dayLog(11); got != &small {
		t.Fatalf("the second new day did not get the remaining spare")
	}
	if len(pr.spare) != 0 || len(pr.logs) != 2 || pr.logs[0].day != 10 || pr.logs[1].day != 11 {
		t.Fatalf("spare %d logs %d", len(pr.spare), len(pr.logs))
	}
	if big.ids.Len() != 0 {
		t.Fatalf("a reused log was not emptied: %d ids", big.ids.Len())
	}
}

// TestDedupSpillDays: a card's spill span covers the days its tap_ids
// spilled on (so a miss inline probes the spill set only for a tap within
// the window of one of them), and duplicates of both days, inline or
// spilled, are still caught when they come late, through a checkpoint and
// restore too.
func TestDedupSpillDays(t *testing.T) {
	tp := &tapper{t: t}
	bus := func(card, at string) transit.Tap {
		return tp.tap(card, transit.ProductStandard, 110100, 110100, transit.ModeBus, transit.ActionBoard, "", at)
	}
	var day1, day2 []transit.Tap
	for i := range seenInline + 2 { // two spill
		day1 = append(day1, bus("BUSY", fmt.Sprintf("2025-03-03T08:%02d:00+08:00", i)))
	}
	for i := range 3 { // the inline entries hold day 1's: these spill
		day2 = append(day2, bus("BUSY", fmt.Sprintf("2025-03-04T08:%02d:00+08:00", i)))
	}
	far := bus("OTHER", "2025-03-04T20:00:00+08:00") // moves the watermark past both
	late := []transit.Tap{day1[0], day1[len(day1)-1], day2[1]}
	fresh := bus("BUSY", "2025-03-04T09:00:00+08:00")
	cal := calendar(t)
	d1, d2 := cal.DayOf(day1[0].Time), cal.DayOf(day2[0].Time)
	busy := func(p *Partition) *cardState {
		k := cardKey{card: day1[0].Card, city: day1[0].City}
		return p.pricer.cards.at(p.pricer.cards.find(&k, keyHash(&k)))
	}

	for _, restore := range []bool{false, true} {
		t.Run(fmt.Sprint("restore=", restore), func(t *testing.T) {
			sink := &seqSink{}
			p := newTestPartition(t, sink)
			p.Submit(slices.Concat(day1, []transit.Tap{bus("OTHER", "2025-03-03T20:00:00+08:00")}))
			if st := busy(p); transit.Day(st.spillLo) != d1 || transit.Day(st.spillHi) != d1 {
				t.Fatalf("after day 1: spill days %d..%d, want %d only", st.spillLo, st.spillHi, d1)
			}
			if st := busy(p); !st.mayHaveSpilled(d1+DefaultDedupDays-1, DefaultDedupDays) || st.mayHaveSpilled(d1+DefaultDedupDays, DefaultDedupDays) {
				t.Fatalf("after day 1: spill days %d..%d: the set must be probed for taps of days up to %d only", st.spillLo, st.spillHi, d1+DefaultDedupDays-1)
			}
			p.Submit(append(slices.Clone(day2), far))
			if st := busy(p); transit.Day(st.spillLo) != d1 || transit.Day(st.spillHi) != d2 {
				t.Fatalf("after day 2: spill days %d..%d, want %d..%d", st.spillLo, st.spillHi, d1, d2)
			}
			if restore {
				store := newMemStore()
				store.checkpoint(p, false)
				p = newTestPartition(t, sink)
				if err := p.Restore(store.meta, store.cards, store.lists); err != nil {
					t.Fatal(err)
				}
				if st := busy(p); transit.Day(st.spillLo) > d1 || transit.Day(st.spillHi) < d2 {
					t.Fatalf("restored spill days %d..%d, want at least %d..%d", st.spillLo, st.spillHi, d1, d2)
				}
			}
			p.Submit(append(slices.Clone(late), fresh))
			p.CloseDay(d2)
			var dups []string
			charged := 0
			for _, r := range sink.rows {
				switch r.Status {
				case transit.StatusDuplicate:
					dups = append(dups, r.ID.String())
				case transit.StatusCharged:
					charged++
				}
			}
			var want []string
			for _, tp := range late {
				want = append(want, tp.ID.String())
			}
			slices.Sort(dups)
			slices.Sort(want)
			if !slices.Equal(dups, want) {
				t.Errorf("duplicates %v, want %v", dups, want)
			}
			if wantCharged := len(day1) + len(day2) + 3; charged != wantCharged {
				t.Errorf("%d charged, want %d", charged, wantCharged)
			}
		})
	}
}

// TestExitAfterNetworkReload: a journey entered under one policy and
// exited after a reload whose network orders the stations differently is
// priced by the new network: the entry station is looked up in it, never
// carried over as an index into the old one.
func TestExitAfterNetworkReload(t *testing.T) {
	load := func(stations string) *fares.Book { return suzhouBook(t, stations, "[5000, 5000, 1000]") }
	before, after := load("[A, B, C, X]"), load("[X, C, B, A]")
	tp := &tapper{t: t}
	entry := tp.tap("RIDER", transit.ProductStandard, 320500, 320500, transit.ModeMetro, transit.ActionEntry, "A", "2025-03-03T08:00:00+08:00")
	later := tp.tap("OTHER", transit.ProductStandard, 320500, 320500, transit.ModeBus, transit.ActionBoard, "", "2025-03-03T12:00:00+08:00")
	exit := tp.tap("RIDER", transit.ProductStandard, 320500, 320500, transit.ModeMetro, transit.ActionExit, "B", "2025-03-03T12:30:00+08:00")
	day := calendar(t).DayOf(entry.Time)
	netAfter := after.Policy(320500, day).Metro
	a, _ := netAfter.Station(entry.Stop)
	b, _ := netAfter.Station(exit.Stop)
	want := netAfter.Fare(a, b)
	if stale := netAfter.Fare(3-a, b); stale == want {
		t.Fatalf("test networks do not tell a stale index from a fresh one (both %d)", want)
	}

	sink := &seqSink{}
	p, err := NewPartition(before, sink, 0, Options{Calendar: calendar(t), Window: DefaultWindow})
	if err != nil {
		t.Fatal(err)
	}
	p.Submit([]transit.Tap{entry, later}) // later moves the watermark past the entry: it is priced, its journey open
	if p.Stats().Open != 1 {
		t.Fatalf("%d journeys open before the reload, want 1", p.Stats().Open)
	}
	p.SetBook(after)
	p.Submit([]transit.Tap{exit})
	p.CloseDay(day)
	var got transit.Fen = -1
	for _, r := range sink.rows {
		if r.Action == transit.ActionExit {
			got = r.Gross
		}
	}
	if got != want {
		t.Errorf("exit after the reload priced %d fen gross, want %d (the new network's A to B)", got, want)
	}
}
