package fares

import (
	"encoding/binary"
	"math/bits"

	"github.com/tapsettle/tapsettle/transit"
)

// stationTable finds a station's index by its code. Every metro tap looks
// its station up, so the table is built for that one query: open
// addressing (linear probing) over 8-byte slots at a load of at most one
// half, the code hashed by one multiply, a slot naming the station's index
// in Network.codes, where the code is confirmed. A Go map did the same at
// about twice the cost per lookup (its general hashing and call).
type stationTable struct {
	slots []uint64 // low 32 bits of the hash << 32 | (index+1); 0 = empty
	shift uint8    // 64 - log2(len(slots))
}

// codeHash hashes a 16-byte code: a wyhash-style multiply of its two
// halves, each mixed with a constant, folded.
func codeHash(c *transit.Code) uint64 {
	a := binary.LittleEndian.Uint64(c[0:8]) ^ 0xA0761D6478BD642F
	b := binary.LittleEndian.Uint64(c[8:16]) ^ 0xE7037ED1A0B428DB
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// newStationTable indexes codes, which must be distinct.
func newStationTable(codes []transit.Code) stationTable {
	size := 16
	for size < 2*len(codes) {
		size *= 2
	}
	t := stationTable{slots: make([]uint64, size), shift: uint8(64 - bits.TrailingZeros(uint(size)))}
	mask := uint64(size - 1)
	for i := range codes {
		h := codeHash(&codes[i])
		j := h >> t.shift
		for t.slots[j] != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = h<<32 | uint64(i+1)
	}
	return t
}

// find returns the index of stop in codes (the slice the table was built
// from) and whether it is there.
func (t *stationTable) find(codes []transit.Code, stop *transit.Code) (int32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	h := codeHash(stop)
	mask := uint64(len(t.slots) - 1)
	for j := h >> t.shift; ; j = (j + 1) & mask {
		v := t.slots[j]
		if v == 0 {
			return 0, false
		}
		if v>>32 == h&0xFFFFFFFF {
			if i := int32(uint32(v) - 1); codes[i] == *stop {
				return i, true
			}
		}
	}
}
