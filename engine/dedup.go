package engine

import "github.com/tapsettle/tapsettle/transit"

// spillKey is a tap identifier qualified by its card and city: duplicates
// are the same tap_id for the same card in the same city, so two cards
// that happen to share an identifier never shadow each other.
type spillKey struct {
	id   transit.TapID
	card cardKey
}

func spillHash(k *spillKey) uint64 { return mix(tapHash(&k.id), keyHash(&k.card)) }

// idSet is an exact set of spill keys: an open-addressing table of 8-byte
// slots (32 bits of hash, 32 bits of index) over a dense array of the keys
// themselves. A hash match is confirmed against the stored key, so a hash
// collision can never turn a real tap into a "duplicate" that is not
// charged. It allocates only when it grows.
type idSet struct {
	slots []uint64 // hash<<32 | (index+1); 0 = empty
	ids   []spillKey
}

// add inserts id and reports whether it was already present.
func (s *idSet) add(id *spillKey) (dup bool) {
	if len(s.ids)*2 >= len(s.slots) {
		s.grow()
	}
	i, h, found := s.probe(id)
	if !found {
		s.ids = append(s.ids, *id)
		s.slots[i] = h>>32<<32 | uint64(len(s.ids))
	}
	return found
}

// probe returns the slot holding id, or the empty slot where it belongs,
// with its hash. The table must not be empty.
func (s *idSet) probe(id *spillKey) (slot uint64, h uint64, found bool) {
	h = spillHash(id)
	tag := h >> 32 << 32
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return i, h, false
		}
		if v&^0xFFFFFFFF == tag && s.ids[uint32(v)-1] == *id {
			return i, h, true
		}
	}
}

func (s *idSet) grow() {
	n := 1024
	if len(s.slots) > 0 {
		n = len(s.slots) * 2
	}
	slots := make([]uint64, n)
	mask := uint64(n - 1)
	for k := range s.ids {
		h := spillHash(&s.ids[k])
		i := h & mask
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = h>>32<<32 | uint64(k+1)
	}
	s.slots = slots
}

// reset empties the set, keeping its memory for the next day.
func (s *idSet) reset() {
	clear(s.slots)
	s.ids = s.ids[:0]
}

func (s *idSet) len() int { return len(s.ids) }

// has reports whether id is in the set.
func (s *idSet) has(id *spillKey) bool {
	if len(s.slots) == 0 {
		return false
	}
	_, _, found := s.probe(id)
	return found
}
