package engine

import (
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/internal/prefetch"
	"github.com/tapsettle/tapsettle/transit"
)

// shard is one of an Engine's single-writer workers: a goroutine that
// feeds batches from the router to its pricing core.
type shard struct {
	pricer
	e  *Engine
	in chan *batch
}

// pricer owns the journey state of a set of cards and prices their taps. It
// is the single-writer unit shared by the Engine's shards and by
// Partition. Every field is touched by the owning goroutine only, except
// published.
type pricer struct {
	id        int
	sink      Sink
	dedupDays int
	book      *fares.Book // loaded once per batch
	cal       *transit.Calendar
	days      transit.DayCache
	// live caches liveFrom's answer for a day and the oldest day then
	// kept: taps of one day come in long runs.
	live struct {
		day, oldest transit.Day
		lanes       uint64
	}

	// held is the reorder buffer: taps not yet priced. released is the
	// watermark already applied: every non-late tap older than it has
	// been priced.
	held     reorder
	released int64
	step     int64 // hysteresis: release when the watermark moved this far

	cards    cardTable
	blocks   pages.Blocks  // the memory of held, cards and logs (see init)
	journeys []openJourney // open metro journeys; index+1 in cardState.journey
	freeJ    []int32

	// settled remembers incomplete metro charges by card state, for late
	// taps that complete them (adjust.go); closed is the last day closed
	// (a Partition's, or that of the state an Engine read): rows of days
	// up to it are settled in the day after (settledDay).
	settled map[int32]settledCharge
	closed  transit.Day

	logs   []*dayLog // tap_ids of the retained days
	spare  []*dayLog // evicted logs, kept for their memory
	spill  spillSet  // tap_ids that did not fit their card's inline slots
	oldest transit.Day

	out []transit.Priced
	// keepRows: record the money rows in the charge logs for corrections
	// (Options.KeepCharges). lateTaps: a tap may come after a charge it
	// completes, so incomplete charges are remembered (adjust.go): with
	// KeepCharges, or a bounded window.
	keepRows, lateTaps bool
	stats              Stats
	published          publishedStats

	// dirty lists the card states changed since the last checkpoint
	// (Partition only; see checkpoint.go). track enables it.
	track bool
	dirty []int32
}

// cardKey keys journey state by card and city: transfers, open entries and
// caps never span cities, and a card seen in two cities is two riders to
// two fare policies.
type cardKey struct {
	card transit.CardID
	city transit.City
}

// openJourney is a metro entry awaiting its exit. What pricing the exit
// reads first (the day, the entry's station) comes before the entry tap,
// which is read whole only to write the entry's row.
type openJourney struct {
	// day is the settlement day the journey is charged on: its entry's,
	// or the next once carried past the cut-off (carry).
	day   transit.Day
	state int32 // owning cardState
	// station is the entry's index in its network when it entered: a hint
	// (fares.Network.StationHint) that spares the exit a lookup by code.
	station int32
	carried bool // day is the day after the entry's (carry)
	entry   transit.Tap
}

// DefaultCarryWindow is how long before its day's cut-off a metro entry
// may be and still carry to the next day, where its exit is (see the
// package comment), when its policy sets no time-in-system limit.
const DefaultCarryWindow = 4 * time.Hour

// inQueue is how many batches may wait for a shard: enough to keep it busy
// while the router fills the next, few enough to bound the memory in
// flight.
const inQueue = 4

func newShard(id int, e *Engine) *shard {
	s := &shard{e: e, in: make(chan *batch, inQueue)}
	s.pricer.init(id, e.sink, &e.opts)
	return s
}

func (pr *pricer) init(id int, sink Sink, opts *Options) {
	step := int64(opts.Window / 8)
	if step < int64(1e9) {
		step = 1e9
	}
	*pr = pricer{
		id:        id,
		sink:      sink,
		dedupDays: opts.DedupDays,
		keepRows:  opts.KeepCharges,
		lateTaps:  opts.KeepCharges || opts.Window != Unbounded,
		cal:       opts.Calendar,
		days:      transit.NewDayCache(opts.Calendar),
		released:  math.MinInt64,
		step:      step,
		oldest:    math.MinInt32,
		out:       make([]transit.Priced, 0, 2*opts.BatchSize),
	}
	// The held taps, the card states and the tap_id logs share one set
	// of blocks: the chunks of released taps are the next chunks of the
	// states and logs (a batch job prices a day's cards as it releases
	// their taps).
	pr.held = newReorder(min(step, int64(time.Minute)), &pr.blocks)
	if opts.Window == Unbounded && !opts.timeOrder {
		pr.held = newCardReorder(&pr.blocks) // nothing is released before the end
	}
	pr.cards.states.UseBlocks(&pr.blocks)
}

func (s *shard) run() {
	defer s.e.wg.Done()
	for b := range s.in {
		s.book = s.e.book.Load()
		if b.ctl != nil && b.ctl.corr != nil {
			s.applyCorrections(b.ctl.corr)
			s.finishBatch()
			b.ctl.done <- struct{}{}
			continue
		}
		if b.ctl != nil {
			s.closeDays(b.ctl.closeDay)
			s.finishBatch()
			b.ctl.done <- struct{}{}
			continue
		}
		s.accept(b)
		s.finishBatch()
		select {
		case s.e.free <- b:
		default: // the free list is full; let the GC have it
		}
	}
}

// accept takes a batch from the router: the router marked the late taps.
func (pr *pricer) accept(b *batch) {
	marks := b.late
	for i := range b.taps {
		late := len(marks) > 0 && marks[0].index == int32(i)
		var w int64
		if late {
			w, marks = marks[0].watermark, marks[1:]
		}
		pr.admit(&b.taps[i], late, w)
	}
	pr.advance(b.watermark)
}

// admit holds t for reordering or, when it is late against watermark w,
// prices it on the spot after an exact release up to w (package comment):
// everything older than the watermark of its arrival was priced before it.
// A tap older than a forced release (a day close that ran ahead of the
// watermark) is priced on the spot too. Both are flagged late.
func (pr *pricer) admit(t *transit.Tap, late bool, w int64) {
	switch {
	case late:
		pr.release(w)
	case t.Time >= pr.released:
		pr.held.add(t)
		return
	}
	pr.stats.Late++
	pr.price(t, cardKeyHash(t), transit.RuleLate)
}

// advance releases up to watermark w once it has moved at least a step on
// since the last release (hysteresis: a release sorts what it prices).
func (pr *pricer) advance(w int64) {
	if w > pr.released && (pr.released == math.MinInt64 || w-pr.released >= pr.step) {
		pr.release(w)
	}
}

// release prices every held tap older than w: in transit.Compare order, or
// card by card (each card's taps in that order) in the batch job's card
// order.
func (pr *pricer) release(w int64) {
	if w <= pr.released {
		return
	}
	if pr.held.byCard() {
		// In card order every held tap may be a new card (see reserve).
		pr.cards.reserve(pr.cards.len() + pr.held.len())
	}
	pr.held.release(w, pr.priceHeld, pr.prefetchCard)
	pr.released = w
}

// prefetchCard readies the cache for pricing, a few taps from now, tap t
// whose card hash is h (see reorder.release and cardTable.prefetch). Once
// a day's cards outgrow the caches, the index slot, the state and the
// spill slot are most of a tap's cost; prefetched, their misses overlap
// with pricing the taps before it.
func (pr *pricer) prefetchCard(t *transit.Tap, h uint64, stage int) {
	switch stage {
	case 0, 1:
		pr.cards.prefetch(h, stage)
		return
	}
	// Stage 2 or aheadSpill, the state having arrived (or, in card order,
	// being near): a card that spilled probes the spill set, and a card
	// with an open journey is about to exit, which reads the journey (160
	// bytes, three or four cache lines, far from the state).
	st := pr.cards.peek(h)
	if st == nil {
		return
	}
	if st.spilled() && pr.spill.len() > 0 {
		pr.spill.prefetch(&t.ID, &t.Card)
	}
	if stage == 2 && st.journey != 0 {
		prefetch.Bytes(uintptr(unsafe.Pointer(&pr.journeys[st.journey-1])), unsafe.Sizeof(openJourney{}))
	}
}

// priceHeld prices a tap released from the reorder buffer.
func (pr *pricer) priceHeld(t *transit.Tap, h uint64) { pr.price(t, h, 0) }

func (pr *pricer) finishBatch() {
	pr.flushOut()
	pr.stats.Held = int64(pr.held.len())
	pr.stats.Open = int64(len(pr.journeys) - len(pr.freeJ))
	pr.published.store(&pr.stats)
}

func (pr *pricer) flushOut() {
	if len(pr.out) == 0 {
		return
	}
	if pr.closed != 0 {
		for i := range pr.out {
			if r := &pr.out[i]; r.Day <= pr.closed {
				r.Day = pr.settledDay(r.Day)
				r.Rules |= transit.RuleLate
			}
		}
	}
	if pr.keepRows {
		pr.keepCharges(pr.out)
	}
	pr.sink.Emit(pr.id, pr.out)
	pr.out = pr.out[:0]
}

// settledDay returns the day a row of day d is settled in: d, or when d is
// closed (its files are written and never change), the first open day,
// where the row is a late adjustment. flushOut moves rows so, flagged late.
func (pr *pricer) settledDay(d transit.Day) transit.Day {
	if pr.closed != 0 && d <= pr.closed {
		return pr.closed + 1
	}
	return d
}

// appendRow appends a row for t and returns it for the caller to fill in.
func (pr *pricer) appendRow(t *transit.Tap, day transit.Day, status transit.Status) *transit.Priced {
	if len(pr.out) == cap(pr.out) {
		pr.flushOut()
	}
	pr.out = append(pr.out, transit.Priced{Tap: *t, Day: day, Status: status})
	pr.stats.Rows[status]++
	return &pr.out[len(pr.out)-1]
}

func (pr *pricer) reject(t *transit.Tap, day transit.Day, r transit.Reason) {
	p := pr.appendRow(t, day, transit.StatusRejected)
	p.Reason = r
}

func setQuote(p *transit.Priced, q *fares.Quote) {
	p.Gross = q.Gross
	p.ProductDiscount = q.ProductDiscount
	p.TransferDiscount = q.TransferDiscount
	p.CapDiscount = q.CapDiscount
	p.Discount = q.ProductDiscount + q.TransferDiscount + q.CapDiscount
	p.Charged = q.Charged
	p.Rules |= q.Rules
}

// price decides one tap. h is its card hash (cardKeyHash), flags are
// rules to record on its row (late).
func (pr *pricer) price(t *transit.Tap, h uint64, flags transit.Rules) {
	pr.stats.Taps++
	day := pr.days.DayOf(t.Time)
	st, si := pr.state(t, h)
	book := pr.book
	pol := book.Policy(t.City, day)
	// A metro tap's stations are looked up before the duplicate check (no
	// decision is taken on them before it), so that an exit's fare cell,
	// a likely cache miss, is on its way while the check runs.
	var sp stops
	if pol != nil && pol.Metro != nil && t.Mode == transit.ModeMetro {
		sp = pr.lookStops(pol.Metro, t, st)
	}
	if dup, differs := pr.seenBefore(st, h, day, t); dup {
		p := pr.appendRow(t, day, transit.StatusDuplicate)
		p.Rules = flags
		if differs {
			p.Reason = transit.ReasonContentDiffers
		}
		return
	}
	if pol == nil {
		r := transit.ReasonNoPolicy
		if !book.Participant(t.City) {
			r = transit.ReasonUnknownCity
		}
		pr.reject(t, day, r)
		return
	}
	if !book.Participant(t.Issuer) {
		pr.reject(t, day, transit.ReasonUnknownIssuer)
		return
	}
	if st.journey != 0 && pr.journeys[st.journey-1].day < day {
		// An entry from an earlier day is still open (its day is not
		// closed yet, or it carried): carry it to this day if it may,
		// else close it.
		pr.closeBefore(si, day, t.Time)
	}
	if pol.Default {
		flags |= transit.RuleDefaultPolicy
	}
	switch {
	case t.Mode == transit.ModeBus && t.Action == transit.ActionBoard:
		gross, rules := pol.BusFare(t.Line)
		leg := fares.Leg{Mode: t.Mode, Product: t.Product, Issuer: t.Issuer, Start: t.Time, Day: day, Gross: gross, Rules: rules | flags}
		q := pol.Price(&leg, &st.rider)
		p := pr.appendRow(t, day, transit.StatusCharged)
		setQuote(p, &q)
	case t.Mode == transit.ModeMetro && (t.Action == transit.ActionEntry || t.Action == transit.ActionExit):
		pr.priceMetro(t, day, pol, st, si, &sp, flags)
	default:
		pr.reject(t, day, transit.ReasonModeAction)
	}
}

// priceMetro decides a metro entry or exit: an entry opens a journey, an
// exit closes the card's open journey with a fare between the two
// stations (sp, see lookStops).
func (pr *pricer) priceMetro(t *transit.Tap, day transit.Day, pol *fares.Policy, st *cardState, si int32, sp *stops, flags transit.Rules) {
	net := pol.Metro
	if net == nil {
		pr.reject(t, day, transit.ReasonNoMetro)
		return
	}
	if !sp.atOK {
		pr.reject(t, day, transit.ReasonUnknownStation)
		return
	}
	exit := sp.at
	if net.Synthetic {
		flags |= transit.RuleSynthetic
	}
	if st.settled && pr.adjustLate(t, day, pol, st, si, exit, flags) {
		return
	}
	if t.Action == transit.ActionEntry {
		if st.journey != 0 {
			pr.closeJourney(si, t.Time) // entry after entry: the first never exited
		}
		pr.openJourney(si, t, day, exit)
		return
	}
	if st.journey == 0 {
		pr.priceUnmatchedExit(t, day, pol, st, si, flags)
		return
	}
	j := &pr.journeys[st.journey-1]
	entry := sp.entry
	if !sp.entryOK {
		// The network changed under an open journey (a policy reload
		// dropped its entry station): price it as unmatched.
		pr.closeJourney(si, t.Time)
		pr.priceUnmatchedExit(t, day, pol, st, si, flags)
		return
	}
	// The distance fare, or past the time-in-system limit the version's
	// overtime charge (fares.Policy.MetroFare, written out so that the
	// common case inlines).
	gross, rules := net.Fare(entry, exit), transit.RuleMetroDistance
	if pol.Overtime(t.Time - j.entry.Time) {
		gross, rules = pol.OvertimeFare(entry, exit)
	}
	leg := fares.Leg{Mode: t.Mode, Product: j.entry.Product, Issuer: j.entry.Issuer, Start: j.entry.Time, Day: day, Gross: gross, Rules: rules | flags}
	q := pol.Price(&leg, &st.rider)
	ep := pr.appendRow(&j.entry, j.day, transit.StatusCharged)
	ep.Rules = transit.RuleMetroEntry | flags&^transit.RuleLate
	if j.carried {
		ep.Rules |= transit.RuleCarried
	}
	p := pr.appendRow(t, day, transit.StatusCharged)
	setQuote(p, &q)
	p.EntryStop = j.entry.Stop
	p.EntryTime = j.entry.Time
	pr.dropJourney(si)
}

// priceUnmatchedExit charges a metro exit that has no open journey to
// close as incomplete, at the network's maximum fare.
func (pr *pricer) priceUnmatchedExit(t *transit.Tap, day transit.Day, pol *fares.Policy, st *cardState, si int32, flags transit.Rules) {
	leg := fares.Leg{Mode: t.Mode, Product: t.Product, Issuer: t.Issuer, Start: t.Time, Day: day,
		Gross: pol.Metro.MaxFare(), Rules: transit.RuleUnmatchedExit | flags, Incomplete: true}
	q := pol.Price(&leg, &st.rider)
	p := pr.appendRow(t, day, transit.StatusIncomplete)
	setQuote(p, &q)
	pr.remember(si, p, math.MaxInt64)
}

// stops are a metro tap's stations in its network (fares.Network.Station):
// at, the tap's own, and for an exit with an open journey, entry, the
// journey's.
type stops struct {
	at, entry     int32
	atOK, entryOK bool
}

// lookStops looks up t's stops in net, st being t's card state, and for an
// exit with both found asks for their fare cell (see price).
func (pr *pricer) lookStops(net *fares.Network, t *transit.Tap, st *cardState) stops {
	var sp stops
	sp.at, sp.atOK = net.Station(t.Stop)
	if t.Action == transit.ActionExit && st.journey != 0 {
		j := &pr.journeys[st.journey-1]
		sp.entry, sp.entryOK = net.StationHint(j.entry.Stop, j.station)
		if sp.atOK && sp.entryOK {
			net.PrefetchFare(sp.entry, sp.at)
		}
	}
	return sp
}

// state returns the journey state of t's card in t's city (card hash h),
// creating it, and its index.
func (pr *pricer) state(t *transit.Tap, h uint64) (*cardState, int32) {
	k := cardKey{card: t.Card, city: t.City}
	i := pr.cards.find(&k, h)
	st := pr.cards.at(i)
	pr.markDirty(st, i)
	return st, i
}

// markDirty lists state i (st) for the next checkpoint, once (Partition
// only).
func (pr *pricer) markDirty(st *cardState, i int32) {
	if pr.track && !st.dirty {
		st.dirty = true
		pr.dirty = append(pr.dirty, i)
	}
}

// seenBefore reports whether t's tap_id was seen before for its card, in
// any city, on a day within the dedup window of day d (dedup.go), and
// whether the tap first seen differed from t; it remembers t's if not. The
// check is exact: a tag match inline is confirmed against the identifiers
// themselves along the card's chain, a spill set match against the stored
// one. h is the card's hash.
//
// A miss inline probes the spill set, a likely cache miss, only when the
// card spilled within the window (mayHaveSpilled). Older entries are not
// moved out to make room for new ones: each move would read the old id
// back from its log.
func (pr *pricer) seenBefore(st *cardState, h uint64, d transit.Day, t *transit.Tap) (dup, differs bool) {
	id := &t.ID
	tag := uint16(tapHash(id) >> 48)
	sum := contentSum(t)
	tags, live := uint64(tag)*laneOnes, pr.liveFrom(d)
	match, dead := st.seen.scan(tags, live)
	if st.walks(&match, d) {
		if old := pr.chained(st, uint16(live), d, id); old != nil {
			return true, old.sum != 0 && old.sum != sum
		}
	}
	free := firstLane(&dead)
	spilled := st.mayHaveSpilled(d, pr.dedupDays)
	if st.multi {
		pr.cards.eachOther(st, h, func(o *cardState) {
			spilled = spilled || o.mayHaveSpilled(d, pr.dedupDays)
			if match, _ := o.seen.scan(tags, live); !dup && o.walks(&match, d) {
				if old := pr.chained(o, uint16(live), d, id); old != nil {
					dup, differs = true, old.sum != 0 && old.sum != sum
				}
			}
		})
		if dup {
			return dup, differs
		}
	}
	if spilled {
		if e := pr.spill.find(id, &st.key.card, d, pr.dedupDays); e != nil {
			return true, e.sum != 0 && e.sum != sum
		}
	}
	// The day's log exists once the day has a tap_id, inline or spilled:
	// a checkpoint keeps the lists of the days that have a log.
	log := pr.dayLog(d)
	// A tap of a day before the chain's head spills: the chain's days
	// never increase, which is what lets a walk stop at its window.
	if free < 0 || !inlineDay(d) || st.behind(d) {
		st.noteSpill(d)
		pr.spill.add(&spillEntry{id: *id, card: st.key, day: d, sum: sum})
		return false, false
	}
	i := log.ids.Push(&loggedID{id: *id, sum: sum, prev: st.head})
	st.seen.set(free, seenEntry{day: uint16(d), tag: tag})
	st.head = chainLink{idx: uint32(i), day: uint16(d)}
	return false, false
}

// behind reports whether day d is before the day of the card's newest
// inline tap_id (a late tap).
func (st *cardState) behind(d transit.Day) bool { return transit.Day(st.head.day) > d }

// walks reports whether a tap of day d must walk st's chain: a live
// inline entry has its tag (match, from seenSet.scan), or d is behind the
// chain's head, and that late tap's window may hold an entry whose slot a
// later tap took. Inlined: it runs for every tap.
func (st *cardState) walks(match *[seenWords]uint64, d transit.Day) bool {
	return *match != ([seenWords]uint64{}) || st.behind(d)
}

// chained walks st's chain from its newest tap_id through the tap_ids of
// days from the day from on, and returns the one that is id within d's
// window, or nil.
func (pr *pricer) chained(st *cardState, from uint16, d transit.Day, id *transit.TapID) *loggedID {
	for l := st.head; l.day != 0 && l.day >= from; {
		e, next := pr.logged(l)
		if e == nil {
			return nil
		}
		if e.id == *id && withinDays(transit.Day(l.day), d, pr.dedupDays) {
			return e
		}
		l = next
	}
	return nil
}

// logged returns the tap_id logged at link l and the link after it in its
// chain, or nil where l's log is gone or l is past its end (a log made
// anew after its day was evicted: links into it are of days before any
// window). The next link is the zero link, the chain's end, unless it goes
// back (an earlier day, or an earlier index in the same day's log), so a
// damaged chain ends rather than loops.
func (pr *pricer) logged(l chainLink) (e *loggedID, next chainLink) {
	log := pr.findLog(transit.Day(l.day))
	if log == nil || int(l.idx) >= log.ids.Len() {
		return nil, chainLink{}
	}
	e = log.ids.At(int(l.idx))
	if p := e.prev; p.day < l.day || p.day == l.day && p.idx < l.idx {
		next = p
	}
	return e, next
}

// liveFrom returns, repeated in every 16-bit lane, the first day whose
// inline entries a tap of day d must still see: entries of earlier days
// are dead, free to reuse. An entry is dead when its day's log was evicted
// (logs are evicted exactly when their day is before oldest) or it is too
// old for d's window (taps come in event-time order, so mostly too old
// for later taps too); an empty entry (day 0) is always below it.
func (pr *pricer) liveFrom(d transit.Day) uint64 {
	if c := &pr.live; c.lanes != 0 && c.day == d && c.oldest == pr.oldest {
		return c.lanes
	}
	// Past 2149 (the last 16-bit day) the bound is clamped: entries of that
	// last day then count as live, which only means that a chain walk
	// looks at them and finds them out of the window, and that a tap may
	// spill.
	from := min(max(int64(pr.oldest), int64(d)-int64(pr.dedupDays)+1, 1), math.MaxUint16)
	pr.live.day, pr.live.oldest, pr.live.lanes = d, pr.oldest, uint64(from)*laneOnes
	return pr.live.lanes
}

// chainLinks appends the links of st's chain through the days from from
// on, newest first, and returns links.
func (pr *pricer) chainLinks(links []chainLink, st *cardState, from uint16) []chainLink {
	for l := st.head; l.day != 0 && l.day >= from; {
		e, next := pr.logged(l)
		if e == nil {
			break
		}
		links = append(links, l)
		l = next
	}
	return links
}

// findLog returns day d's log, or nil. It looks from the newest log back:
// taps come in event-time order, so almost every tap's day is the newest.
func (pr *pricer) findLog(d transit.Day) *dayLog {
	for i := len(pr.logs) - 1; i >= 0; i-- {
		if l := pr.logs[i]; l.day == d {
			return l
		}
	}
	return nil
}

// openJourney opens a journey for state si at entry t, whose station has
// index station in its network (-1: unknown).
func (pr *pricer) openJourney(si int32, t *transit.Tap, day transit.Day, station int32) {
	var j int32
	if n := len(pr.freeJ); n > 0 {
		j = pr.freeJ[n-1]
		pr.freeJ = pr.freeJ[:n-1]
	} else {
		pr.journeys = pages.Append(pr.journeys, openJourney{})
		j = int32(len(pr.journeys) - 1)
	}
	pr.journeys[j] = openJourney{entry: *t, day: day, state: si, station: station}
	pr.cards.at(si).journey = j + 1
}

func (pr *pricer) dropJourney(si int32) {
	st := pr.cards.at(si)
	pr.markDirty(st, si) // a day close reaches states that no tap touched
	pr.freeJ = append(pr.freeJ, st.journey-1)
	pr.journeys[st.journey-1].state = -1
	st.journey = 0
}

// closeJourney charges an open journey as incomplete on its entry row: its
// exit never came (a new entry, a later day or the day's close found it).
// next is the time of the metro tap that found it, if any, else
// math.MaxInt64 (see settledCharge).
func (pr *pricer) closeJourney(si int32, next int64) {
	st := pr.cards.at(si)
	j := &pr.journeys[st.journey-1]
	t := &j.entry
	pol := pr.book.Policy(t.City, j.day)
	var net *fares.Network
	if pol != nil {
		net = pol.Metro
	}
	if net == nil {
		// A reload removed the city's metro: nothing to charge by.
		pr.reject(t, j.day, transit.ReasonNoMetro)
		pr.dropJourney(si)
		return
	}
	rules := transit.RuleUnclosedEntry
	if j.carried {
		rules |= transit.RuleCarried
	}
	if pol.Default {
		rules |= transit.RuleDefaultPolicy
	}
	if net.Synthetic {
		rules |= transit.RuleSynthetic
	}
	leg := fares.Leg{Mode: t.Mode, Product: t.Product, Issuer: t.Issuer, Start: t.Time, Day: j.day,
		Gross: net.MaxFare(), Rules: rules, Incomplete: true}
	q := pol.Price(&leg, &st.rider)
	p := pr.appendRow(t, j.day, transit.StatusIncomplete)
	setQuote(p, &q)
	pr.remember(si, p, next)
	pr.dropJourney(si)
}

// carry moves j, an open journey, to the day after its own when it may: it
// has not carried yet and its entry is within the carry window (the entry
// policy's time-in-system limit, else DefaultCarryWindow) before its day's
// cut-off. A journey is charged on its exit's day, so one that crosses the
// cut-off waits for its exit there. carry reports whether j moved; the
// caller marks its state dirty.
func (pr *pricer) carry(j *openJourney) bool {
	if j.carried {
		return false
	}
	w := int64(DefaultCarryWindow)
	if pol := pr.book.Policy(j.entry.City, j.day); pol != nil && pol.MaxInSystem > 0 {
		w = pol.MaxInSystem
	}
	if j.entry.Time < pr.cal.Start(j.day+1).UnixNano()-w {
		return false
	}
	j.day++
	j.carried = true
	return true
}

// closeBefore settles state si's open journey, of a day before d, for a
// tap of day d: it carries the journey if it may, and closes it as
// incomplete unless its day is then d (the tap is the next day's: an exit
// pairs with it, an entry closes it there). Carrying first even when d is
// further on is what makes the rows the same whether days are closed one
// by one (a stream) or all at the end (the batch job): closeDays carries
// the same way.
func (pr *pricer) closeBefore(si int32, d transit.Day, at int64) {
	j := &pr.journeys[pr.cards.at(si).journey-1]
	pr.carry(j)
	if j.day < d {
		pr.closeJourney(si, at)
	}
}

// closeDays prices held taps of days up to d and closes their open
// journeys, but for those that carry to the next day (carry): they are
// closed only if that day is closed too. d == math.MaxInt32 closes
// everything (end of input).
func (pr *pricer) closeDays(d transit.Day) {
	if d == math.MaxInt32 {
		pr.release(math.MaxInt64)
	} else {
		pr.release(pr.cal.Start(d + 1).UnixNano())
	}
	if len(pr.journeys) > len(pr.freeJ) {
		// Close in entry order so the rows and the riders' accumulators
		// do not depend on map or slice order.
		var open []int32
		for i := range pr.journeys {
			if pr.journeys[i].state >= 0 && pr.journeys[i].day <= d {
				open = append(open, int32(i))
			}
		}
		slices.SortFunc(open, func(a, b int32) int {
			return transit.Compare(&pr.journeys[a].entry, &pr.journeys[b].entry)
		})
		for _, j := range open {
			si := pr.journeys[j].state
			if pr.carry(&pr.journeys[j]) {
				// A day close reaches states that no tap touched.
				pr.markDirty(pr.cards.at(si), si)
			}
			if pr.journeys[j].day <= d {
				pr.closeJourney(si, math.MaxInt64)
			}
		}
	}
	if d != math.MaxInt32 {
		pr.oldest = d - transit.Day(pr.dedupDays) + 1
		keep := pr.logs[:0]
		for _, l := range pr.logs {
			if l.day >= pr.oldest {
				keep = append(keep, l)
			} else {
				pr.spare = append(pr.spare, l)
			}
		}
		clear(pr.logs[len(keep):])
		pr.logs = keep
		pr.spill.evict(pr.oldest)
		pr.expireSettled()
	}
}

// dayLog returns the tap_id log of day d.
func (pr *pricer) dayLog(d transit.Day) *dayLog {
	if l := pr.findLog(d); l != nil {
		return l
	}
	var l *dayLog
	if n := len(pr.spare); n > 0 {
		// The roomiest spare: the first log made after a close is usually
		// the new day's, the largest; handing it a small log (one a few
		// taps past midnight or a late tap had made) would grow its
		// tap_id set anew, copies of megabytes, every day.
		best := 0
		for i, sp := range pr.spare {
			if sp.room() > pr.spare[best].room() {
				best = i
			}
		}
		l = pr.spare[best]
		pr.spare[best] = pr.spare[n-1]
		pr.spare[n-1] = nil
		pr.spare = pr.spare[:n-1]
	} else {
		l = new(dayLog)
		l.ids.UseBlocks(&pr.blocks)
	}
	l.reset(d)
	pr.logs = append(pr.logs, l)
	return l
}
