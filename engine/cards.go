package engine

import (
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// seenInline is how many recent tap_ids a card state keeps inline. Riders
// tap two to six times a day, so eight covers the dedup horizon of almost
// every card without touching another cache line; the rest spill to the
// day's exact set (see dayLog).
const seenInline = 8

// cardState is the journey state of one card in one city, stored inline in
// the card table so that the one probe that finds it also brings in the
// rider's accumulators and recent tap_ids: one cache miss per tap instead
// of one per structure.
type cardState struct {
	hash    uint64 // of key; 0 marks an empty slot
	key     cardKey
	journey int32 // 1-based index into shard.journeys; 0 = none open
	// spilled: some of this card's tap_ids are in the day sets, not
	// inline, so a miss inline must also check there.
	spilled bool
	// dirty: changed since the last checkpoint, listed in core.dirty.
	dirty bool
	rider fares.Rider
	seen  [seenInline]seenEntry
}

// seenEntry remembers a tap_id: the high half of its hash, and its index in
// the day's log of identifiers, where a tag match is confirmed exactly.
type seenEntry struct {
	day transit.Day // 0 means empty (day 0 is 1970-01-01, never a tap's day)
	tag uint32
	idx uint32
}

// cardTable is an open-addressing (linear probing) hash table of card
// states. It grows by doubling at a load factor of 5/8 and is the only
// allocation on the per-card path, amortised over new cards.
type cardTable struct {
	slots []cardState
	n     int
}

func keyHash(k *cardKey) uint64 {
	h := cardHash(&k.card)
	h = mix(h, uint64(k.city))
	return h | 1 // never 0, which marks an empty slot
}

// find returns the index of k's state, creating it if needed, and whether
// the table was rebuilt (which moves every state).
func (t *cardTable) find(k *cardKey) (idx int32, grew bool) {
	if t.n*8 >= len(t.slots)*5 {
		t.grow()
		grew = true
	}
	h := keyHash(k)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.hash == h && s.key == *k {
			return int32(i), grew
		}
		if s.hash == 0 {
			s.hash = h
			s.key = *k
			t.n++
			return int32(i), grew
		}
	}
}

// lookup returns the index of k's state, or -1.
func (t *cardTable) lookup(k *cardKey) int32 {
	if len(t.slots) == 0 {
		return -1
	}
	h := keyHash(k)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.hash == h && s.key == *k {
			return int32(i)
		}
		if s.hash == 0 {
			return -1
		}
	}
}

func (t *cardTable) grow() {
	n := 1 << 12
	if len(t.slots) > 0 {
		n = 2 * len(t.slots)
	}
	old := t.slots
	t.slots = make([]cardState, n)
	mask := uint64(n - 1)
	for i := range old {
		if old[i].hash == 0 {
			continue
		}
		j := old[i].hash & mask
		for t.slots[j].hash != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = old[i]
	}
}

// dayLog holds the tap_ids of one settlement day seen by a shard: a dense
// log that inline seenEntries point into, and an exact set for the ids of
// cards whose inline entries were full.
type dayLog struct {
	day   transit.Day
	ids   chunked[transit.TapID]
	spill idSet

	// Checkpoint bookkeeping (Partition only): fresh marks a log created
	// since the last checkpoint; ckIDs and ckSpill count the identifiers
	// already checkpointed.
	fresh          bool
	ckIDs, ckSpill int
}

func (l *dayLog) reset(d transit.Day) {
	l.day = d
	l.ids.reset()
	l.spill.reset()
	l.fresh, l.ckIDs, l.ckSpill = true, 0, 0
}
