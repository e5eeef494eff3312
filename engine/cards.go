package engine

import (
	"math"
	"math/bits"
	"unsafe"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/internal/chunked"
	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/internal/prefetch"
	"github.com/tapsettle/tapsettle/transit"
)

// seenInline is how many recent tap_ids a card state keeps inline: the
// dedup window is a week, and a commuter taps two to four times a working
// day, so sixteen hold the week of most cards in the state's own cache
// lines; the rest spill to the pricer's exact set (see dedup.go), a probe
// at random per tap for the cards that do.
const seenInline = 16

// cardState is the journey state of one card in one city: the rider's
// accumulators and recent tap_ids together, so that the probe that finds
// it brings in everything a tap needs.
//
// Its size matters (192 bytes: three cache lines): a tap costs about one
// miss per line of its card's state once the states outgrow the caches
// (prefetched, they overlap with other taps' work). That is why the
// inline tap_ids are a fingerprint (days and tags, seenSet) and the way
// to the identifiers themselves is a chain through the day logs (head),
// not an index per entry: sixteen indices were a fourth line.
type cardState struct {
	key     cardKey
	journey int32 // 1-based index into shard.journeys; 0 = none open
	// spillLo..spillHi span the days (16-bit, as in seenEntry) of this
	// card's tap_ids in the spill set; spillLo == 0: none. spillFar: a day
	// beyond 16 bits may be there. A miss inline probes the set only when
	// the span meets the tap's window (see seenBefore), not on every tap
	// of a card that ever spilled.
	spillLo, spillHi uint16
	spillFar         bool
	// dirty: changed since the last checkpoint, listed in pricer.dirty.
	dirty bool
	// multi: the card has states in other cities too, whose tap_ids its
	// duplicate check must also see (cardTable.eachOther).
	multi bool
	// settled: pricer.settled remembers an incomplete metro charge of
	// this state, which a late tap may complete (adjust.go).
	settled bool
	rider   fares.Rider
	// head is where the newest of the card's inline tap_ids is logged;
	// each logged one links to the card's one before (loggedID.prev).
	head chainLink
	// seen is the state's last cache line, which the duplicate check
	// reads whole.
	seen seenSet
}

// chainLink is where a logged tap_id is: its day's log (by the 16-bit
// day, as in seenEntry; 0: nowhere, the chain's end) and its index there.
// A card's inline tap_ids are chained newest first, their days never
// increasing (seenBefore spills a tap older than the chain's head), so a
// walk stops at the first link of a day before its window.
type chainLink struct {
	idx uint32
	day uint16
}

// inlineDay reports whether day d fits a seenEntry's 16 bits.
func inlineDay(d transit.Day) bool { return d >= 1 && d <= math.MaxUint16 }

// noteSpill records that one of the card's tap_ids of day d went to the
// spill set.
func (st *cardState) noteSpill(d transit.Day) {
	switch {
	case !inlineDay(d):
		st.spillFar = true
	case st.spillLo == 0:
		st.spillLo, st.spillHi = uint16(d), uint16(d)
	default:
		st.spillLo, st.spillHi = min(st.spillLo, uint16(d)), max(st.spillHi, uint16(d))
	}
}

// mayHaveSpilled reports whether the spill set may hold one of the card's
// tap_ids of a day fewer than window days from d.
func (st *cardState) mayHaveSpilled(d transit.Day, window int) bool {
	if st.spillFar {
		return true
	}
	return st.spillLo != 0 && int64(st.spillHi)+int64(window) > int64(d) && int64(st.spillLo)-int64(window) < int64(d)
}

// spilled reports whether any of the card's tap_ids may be in a spill set.
func (st *cardState) spilled() bool { return st.spillLo != 0 || st.spillFar }

// seenEntry is a card's inline tap_id as its fingerprint: its settlement
// day and the top 16 bits of its hash. A tag match is confirmed exactly
// against the identifiers in the card's chain (so a short tag costs only
// a rare extra look, never a false duplicate).
type seenEntry struct {
	// day is the transit.Day; 0 means empty. Days that do not fit (before
	// 1970-01-02 or after 2149) are never kept inline: they spill.
	day uint16
	tag uint16
}

// seenSet is a card state's inline seenEntries, stored as two arrays
// (days, tags) rather than as entries: a tap compares its tag and its
// window with four entries per 64-bit word (SWAR: SIMD within a register),
// a dozen instructions for all sixteen where a loop over the entries took
// some three hundred. Entry i is lane i%4 of word i/4, lane 0 in the low
// bits.
type seenSet struct {
	days [seenWords]uint64 // 16-bit days; 0 = empty
	tags [seenWords]uint64
}

// seenWords is how many 64-bit words hold seenInline 16-bit lanes (scan
// writes out each of the four).
const seenWords = seenInline / 4

var _ = [1]struct{}{}[seenWords-4] // scan and its callers assume four words

// Lane masks: the top bit of every 16-bit lane, and the low fifteen bits.
const (
	laneHigh = 0x8000_8000_8000_8000
	laneLow  = ^uint64(laneHigh)
	laneOnes = 0x0001_0001_0001_0001
)

// at returns entry i.
func (s *seenSet) at(i int) seenEntry {
	sh := uint(i%4) * 16
	return seenEntry{day: uint16(s.days[i/4] >> sh), tag: uint16(s.tags[i/4] >> sh)}
}

// set makes entry i e.
func (s *seenSet) set(i int, e seenEntry) {
	sh := uint(i%4) * 16
	s.days[i/4] = s.days[i/4]&^(0xFFFF<<sh) | uint64(e.day)<<sh
	s.tags[i/4] = s.tags[i/4]&^(0xFFFF<<sh) | uint64(e.tag)<<sh
}

// scan compares every entry with a tap's tag and window (both repeated in
// every lane): dead marks the entries of days before live (empty ones
// included), free to reuse; match the others whose tag is the tap's. The
// four words are written out: no loop, no branch.
func (s *seenSet) scan(tags, live uint64) (match, dead [seenWords]uint64) {
	dead[0] = lanesBelow(s.days[0], live)
	dead[1] = lanesBelow(s.days[1], live)
	dead[2] = lanesBelow(s.days[2], live)
	dead[3] = lanesBelow(s.days[3], live)
	match[0] = lanesEqual(s.tags[0], tags) &^ dead[0]
	match[1] = lanesEqual(s.tags[1], tags) &^ dead[1]
	match[2] = lanesEqual(s.tags[2], tags) &^ dead[2]
	match[3] = lanesEqual(s.tags[3], tags) &^ dead[3]
	return match, dead
}

// firstLane returns the index of the first entry marked in m, or -1.
func firstLane(m *[seenWords]uint64) int {
	for w, x := range m {
		if x != 0 {
			return w*4 + lane(x)
		}
	}
	return -1
}

// inUse reports whether entry i holds a tap_id.
func (s *seenSet) inUse(i int) bool { return uint16(s.days[i/4]>>(uint(i%4)*16)) != 0 }

// lanesBelow returns the lanes of x whose 16-bit value is below t's (t
// repeated in every lane), as the top bit of each such lane. The low
// fifteen bits are compared with a guard bit that stops a borrow crossing
// lanes; the top bits decide where they differ.
func lanesBelow(x, t uint64) uint64 {
	low := (x | laneHigh) - (t & laneLow) // top bit clear: x's low bits < t's
	return (^x&t | ^(x^t)&^low) & laneHigh
}

// lanesEqual returns the lanes of x equal to t's (t repeated in every
// lane), as the top bit of each such lane. Exact: no lane carries into
// another.
func lanesEqual(x, t uint64) uint64 {
	z := x ^ t
	nonzero := (z&laneLow + laneLow) | z
	return ^nonzero & laneHigh
}

// lane returns the index, within its word, of the lowest lane marked in m
// (a mask of lanes' top bits, not 0).
func lane(m uint64) int { return bits.TrailingZeros64(m) / 16 }

// cardTable is the card states of a shard: stored densely, in the order
// cards were first seen, in fixed-size chunks, and found through an
// open-addressing (linear probing) index of 8-byte slots.
//
// The split is about memory, which is what a day of new cards costs: an
// inline table, kept part empty and rebuilt at every doubling, touches
// several states' worth of fresh memory per card; dense states touch
// their own size once and the index 8 bytes per slot. States
// never move, so their indices stay valid (open journeys and the dirty
// list hold them) and growing rewrites only the index.
//
// A key's home slot is the top bits of its hash, so slots are in hash
// order whatever the table's size: a run of taps sorted by card hash (the
// batch job's release, see reorder) walks the index, and creates the
// states, front to back instead of at random.
type cardTable struct {
	index  []uint64 // low 32 bits of hash<<32 | (state index+1); 0 = empty
	shift  uint8    // 64 - log2(len(index))
	states chunked.Vec[cardState]
}

// keyHash hashes a state's key by its card alone: a card's states in
// several cities share a home slot, so that finding one passes the others
// (see find and eachOther), and the batch job's card order prices a card's
// taps in every city together, in event-time order. It is cardHash mixed
// once more: a card's shard is the top bits of cardHash (ShardOf), and so
// are its home slot's of keyHash, so were they one hash a shard's cards
// would crowd into a fraction of its index.
func keyHash(k *cardKey) uint64 { return cardKeyOf(&k.card) }

// cardKeyOf is keyHash of card c's states.
func cardKeyOf(c *transit.CardID) uint64 { return mix(cardHash(c), 0x6A09E667F3BCC909) }

// len returns the number of card states.
func (t *cardTable) len() int { return t.states.Len() }

// at returns state i; the pointer stays valid for the table's life.
func (t *cardTable) at(i int32) *cardState { return t.states.At(int(i)) }

// find returns the index of k's state, creating it if needed; h is
// keyHash(k), which the caller has at hand. A new state of a card that has
// states in other cities marks them all multi: they lie on its probe path.
func (t *cardTable) find(k *cardKey, h uint64) int32 {
	if (t.states.Len()+1)*8 > len(t.index)*5 {
		t.grow()
	}
	mask := uint64(len(t.index) - 1)
	multi := false
	for i := t.home(h); ; i = (i + 1) & mask {
		v := t.index[i]
		if v == 0 {
			idx := t.states.Push(&cardState{key: *k, multi: multi})
			t.index[i] = slot(h, idx)
			return int32(idx)
		}
		if j, ok := t.match(v, h); ok {
			st := t.at(j)
			if st.key == *k {
				return j
			}
			if st.key.card == k.card {
				st.multi, multi = true, true
			}
		}
	}
}

// eachOther calls f for every state of st's card in another city (st being
// state h's, and multi).
func (t *cardTable) eachOther(st *cardState, h uint64, f func(*cardState)) {
	mask := uint64(len(t.index) - 1)
	for i := t.home(h); t.index[i] != 0; i = (i + 1) & mask {
		if j, ok := t.match(t.index[i], h); ok {
			if o := t.at(j); o != st && o.key.card == st.key.card {
				f(o)
			}
		}
	}
}

// The index slot encoding: the low 32 bits of the hash (the home slot is
// the top bits, so these tell keys of one neighbourhood apart) over the
// state index + 1; 0 is an empty slot.
func (t *cardTable) home(h uint64) uint64 { return h >> t.shift }

func slot(h uint64, idx int) uint64 { return h<<32 | uint64(idx+1) }

// match returns the state index in slot value v if v is taken and its
// hash bits are h's.
func (t *cardTable) match(v, h uint64) (int32, bool) {
	return int32(uint32(v) - 1), v != 0 && v&^0xFFFFFFFF == h<<32
}

// prefetch asks for what find(k, h) will read: stage 0 the home slot,
// stage 1 (the slot having arrived) the state it names, when it is k's
// by its hash bits; a key past its home slot is left to find.
func (t *cardTable) prefetch(h uint64, stage int) {
	if len(t.index) == 0 {
		return
	}
	if stage == 0 {
		prefetch.Line(uintptr(unsafe.Pointer(&t.index[t.home(h)])))
		return
	}
	if st := t.peek(h); st != nil {
		// Its three cache lines (192 bytes, 64-byte aligned in its
		// chunk), unrolled: this runs for every tap.
		p := uintptr(unsafe.Pointer(st))
		prefetch.Line(p)
		prefetch.Line(p + 64)
		prefetch.Line(p + 128)
	}
}

// peek returns the state in h's home slot if its hash bits are h's (most
// likely, not surely, the state of the key hashed to h), or nil.
func (t *cardTable) peek(h uint64) *cardState {
	if len(t.index) == 0 {
		return nil
	}
	if j, ok := t.match(t.index[t.home(h)], h); ok {
		return t.at(j)
	}
	return nil
}

// reserve grows the index to hold n states without growing again. A run
// of new cards in hash order needs it: the keys seen so far share a narrow
// range of home slots, so an index sized for their number, not for the
// final one, would pack them into long probe runs.
func (t *cardTable) reserve(n int) {
	size := max(len(t.index), 1<<12)
	for (n+1)*8 > size*5 {
		size *= 2
	}
	if size > len(t.index) {
		t.resize(size)
	}
}

func (t *cardTable) grow() { t.resize(max(2*len(t.index), 1<<12)) }

// resize rebuilds the index with n slots, a power of two.
func (t *cardTable) resize(n int) {
	t.index = pages.Make[uint64](n)
	t.shift = uint8(64 - bits.TrailingZeros(uint(n)))
	mask := uint64(n - 1)
	for j := range t.states.Len() {
		h := keyHash(&t.states.At(j).key)
		i := t.home(h)
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = slot(h, j)
	}
}

// dayLog holds the tap_ids of one settlement day seen by a shard: a dense
// log that card states' chains (cardState.head) run through.
type dayLog struct {
	day transit.Day
	ids chunked.Vec[loggedID]
	// charges holds the day's money rows when the pricer keeps them
	// (Options.KeepCharges), for corrections (charges.go).
	charges chargeLog

	// Checkpoint bookkeeping (Partition only): fresh marks a log created
	// since the last checkpoint; ckIDs counts the identifiers already
	// checkpointed.
	fresh bool
	ckIDs int
}

// room is how many identifiers the log holds without growing.
func (l *dayLog) room() int { return l.ids.Cap() }

func (l *dayLog) reset(d transit.Day) {
	l.day = d
	l.ids.Reset()
	l.charges.reset()
	l.fresh, l.ckIDs = true, 0
}
