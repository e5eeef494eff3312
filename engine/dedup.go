package engine

import (
	"unsafe"

	"github.com/tapsettle/tapsettle/internal/chunked"
	"github.com/tapsettle/tapsettle/internal/prefetch"
	"github.com/tapsettle/tapsettle/transit"
)

// Duplicates.
//
// A tap is a duplicate when the same card's tap_id was priced before on a
// tap whose settlement day is within the dedup window of its own: fewer
// than Options.DedupDays days apart, in any city. The window is in
// settlement days, not in arrival or run time, so a batch run over a month
// and a stream closing day by day agree on every duplicate. A duplicate
// whose other fields differ from the tap first seen is still a duplicate
// (never charged), flagged transit.ReasonContentDiffers.
//
// Each card state keeps its recent tap_ids inline as a fingerprint
// (seenEntry: day and tag), the identifiers themselves in the per-day logs,
// chained newest first from the state (cardState.head); a card with more
// recent tap_ids than inline slots spills the rest to the pricer's spill
// set, probed only for cards that spilled within the window. A card seen in several cities has one state
// per city (cardState.multi): its other states are checked too.

// loggedID is a tap_id in a day's log, with the content sum of the tap
// that carried it (contentSum; 0: unknown, restored from a checkpoint that
// did not record it) and the link to its card's previous inline tap_id
// (cardState.head).
type loggedID struct {
	id   transit.TapID
	sum  uint64
	prev chainLink
}

// spillEntry is a tap_id that did not fit its card state's inline slots:
// the identifier, the card state it belongs to, the settlement day of its
// tap and its content sum. Entries match on the identifier and the card,
// whatever the city.
type spillEntry struct {
	id   transit.TapID
	card cardKey
	day  transit.Day
	sum  uint64
}

type dayCount struct {
	day transit.Day
	n   int
}

func spillHash(id *transit.TapID, card *transit.CardID) uint64 {
	return mix(tapHash(id), cardHash(card))
}

// spillSet is an exact multiset of spill entries: an open-addressing table
// of 8-byte slots (32 bits of hash, 32 bits of index) over a dense array of
// the entries. A hash match is confirmed against the stored identifier and
// card, so a hash collision can never turn a real tap into a "duplicate"
// that is not charged. The same tap_id of a card may be held for two days
// further apart than the window (a reused identifier): find checks each
// entry's day. It allocates only when it grows; the entries are in chunks,
// so that growing never copies them (a busy week holds millions).
type spillSet struct {
	slots   []uint64 // hash<<32 | (index+1); 0 = empty
	entries chunked.Vec[spillEntry]
	// oldest is the first day kept: entries of earlier days are dead,
	// never found, and dropped once they are many (evict). perDay counts
	// the entries of each day held, dead or not.
	oldest transit.Day
	perDay []dayCount
	// ck counts the entries already checkpointed (Partition only): they
	// are the first ck, as entries are only appended, and an eviction
	// keeps their order.
	ck int
}

// add appends e, which find did not find within the window.
func (s *spillSet) add(e *spillEntry) {
	if s.entries.Len()*2 >= len(s.slots) {
		// Full: drop the dead entries if they are many, else grow.
		if n := s.entries.Len(); n == 0 || s.dead()*4 < n {
			s.grow()
		} else {
			s.compact()
		}
	}
	h := spillHash(&e.id, &e.card.card)
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = h>>32<<32 | uint64(s.entries.Push(e)+1)
	k := len(s.perDay) - 1
	for k >= 0 && s.perDay[k].day != e.day {
		k--
	}
	if k < 0 {
		s.perDay = append(s.perDay, dayCount{day: e.day})
		k = len(s.perDay) - 1
	}
	s.perDay[k].n++
}

// prefetch asks for the slot where find(id, card, ...) starts, a likely
// cache miss, a few taps before it runs.
func (s *spillSet) prefetch(id *transit.TapID, card *transit.CardID) {
	if len(s.slots) == 0 {
		return
	}
	h := spillHash(id, card)
	prefetch.Line(uintptr(unsafe.Pointer(&s.slots[h&uint64(len(s.slots)-1)])))
}

// find returns the entry of card's id whose day is within window days of
// d, or nil.
func (s *spillSet) find(id *transit.TapID, card *transit.CardID, d transit.Day, window int) *spillEntry {
	if s.entries.Len() == 0 {
		return nil
	}
	h := spillHash(id, card)
	tag := h >> 32 << 32
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return nil
		}
		if v&^0xFFFFFFFF != tag {
			continue
		}
		e := s.entries.At(int(uint32(v) - 1))
		if e.id == *id && e.card.card == *card && e.day >= s.oldest && withinDays(e.day, d, window) {
			return e
		}
	}
}

// withinDays reports whether days a and b are fewer than window days apart.
func withinDays(a, b transit.Day, window int) bool {
	diff := int64(a) - int64(b)
	return diff < int64(window) && -diff < int64(window)
}

func (s *spillSet) grow() {
	s.rebuild(max(1024, 2*len(s.slots)))
}

// rebuild remakes the slots, n of them (a power of two), for the entries.
func (s *spillSet) rebuild(n int) {
	if len(s.slots) == n {
		clear(s.slots)
	} else {
		s.slots = make([]uint64, n)
	}
	mask := uint64(n - 1)
	for k := range s.entries.Len() {
		e := s.entries.At(k)
		h := spillHash(&e.id, &e.card.card)
		i := h & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h>>32<<32 | uint64(k+1)
	}
}

// evict drops the entries of days before oldest: at once from what find
// sees, and from memory once they are half the set, keeping the others in
// their order (and ck counting the checkpointed ones among them).
// Rebuilding the slots costs a write at random per slot, so a set that
// keeps a week is not rebuilt at every day's close.
func (s *spillSet) evict(oldest transit.Day) {
	s.oldest = max(s.oldest, oldest)
	if dead := s.dead(); dead != 0 && dead*2 >= s.entries.Len() {
		s.compact()
	}
}

// dead counts the entries of days before oldest.
func (s *spillSet) dead() int {
	n := 0
	for _, c := range s.perDay {
		if c.day < s.oldest {
			n += c.n
		}
	}
	return n
}

// compact drops the dead entries and rebuilds the slots.
func (s *spillSet) compact() {
	keep, ck := 0, 0
	for k := range s.entries.Len() {
		e := s.entries.At(k)
		if e.day < s.oldest {
			continue
		}
		if k < s.ck {
			ck++
		}
		if keep != k {
			*s.entries.At(keep) = *e
		}
		keep++
	}
	if keep == s.entries.Len() {
		return
	}
	s.entries.Truncate(keep)
	s.ck = ck
	live := s.perDay[:0]
	for _, c := range s.perDay {
		if c.day >= s.oldest {
			live = append(live, c)
		}
	}
	s.perDay = live
	if len(s.slots) > 0 {
		s.rebuild(len(s.slots))
	}
}

func (s *spillSet) len() int { return s.entries.Len() }

// live reports whether entry e is not evicted.
func (s *spillSet) live(e *spillEntry) bool { return e.day >= s.oldest }
