package engine

import "github.com/tapsettle/tapsettle/transit"

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
// Each card state keeps its recent tap_ids inline (seenEntry), pointing into
// the per-day logs; a card with more recent tap_ids than inline slots
// spills the rest to the pricer's spill set, probed only for cards that
// spilled within the window. A card seen in several cities has one state
// per city (cardState.multi): its other states are checked too.

// loggedID is a tap_id in a day's log, with the content sum of the tap
// that carried it (contentSum; 0: unknown, restored from a checkpoint that
// did not record it).
type loggedID struct {
	id  transit.TapID
	sum uint64
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

func spillHash(id *transit.TapID, card *transit.CardID) uint64 {
	return mix(tapHash(id), cardHash(card))
}

// spillSet is an exact multiset of spill entries: an open-addressing table
// of 8-byte slots (32 bits of hash, 32 bits of index) over a dense array of
// the entries. A hash match is confirmed against the stored identifier and
// card, so a hash collision can never turn a real tap into a "duplicate"
// that is not charged. The same tap_id of a card may be held for two days
// further apart than the window (a reused identifier): find checks each
// entry's day. It allocates only when it grows.
type spillSet struct {
	slots   []uint64 // hash<<32 | (index+1); 0 = empty
	entries []spillEntry
	// ck counts the entries already checkpointed (Partition only): they
	// are the first ck, as entries are only appended, and an eviction
	// keeps their order.
	ck int
}

// add appends e, which find did not find within the window.
func (s *spillSet) add(e *spillEntry) {
	if len(s.entries)*2 >= len(s.slots) {
		s.grow()
	}
	h := spillHash(&e.id, &e.card.card)
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.entries = append(s.entries, *e)
	s.slots[i] = h>>32<<32 | uint64(len(s.entries))
}

// find returns the entry of card's id whose day is within window days of
// d, or nil.
func (s *spillSet) find(id *transit.TapID, card *transit.CardID, d transit.Day, window int) *spillEntry {
	if len(s.entries) == 0 {
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
		e := &s.entries[uint32(v)-1]
		if e.id == *id && e.card.card == *card && withinDays(e.day, d, window) {
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
	for k := range s.entries {
		e := &s.entries[k]
		h := spillHash(&e.id, &e.card.card)
		i := h & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h>>32<<32 | uint64(k+1)
	}
}

// evict drops the entries of days before oldest, keeping the others in
// their order (and ck counting the checkpointed ones among them).
func (s *spillSet) evict(oldest transit.Day) {
	keep, ck := 0, 0
	for k := range s.entries {
		if s.entries[k].day < oldest {
			continue
		}
		if k < s.ck {
			ck++
		}
		s.entries[keep] = s.entries[k]
		keep++
	}
	if keep == len(s.entries) {
		return
	}
	clear(s.entries[keep:])
	s.entries, s.ck = s.entries[:keep], ck
	if len(s.slots) > 0 {
		s.rebuild(len(s.slots))
	}
}

func (s *spillSet) len() int { return len(s.entries) }
