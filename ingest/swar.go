package ingest

import (
	"encoding/binary"
	"math/bits"
)

// SWAR ("SIMD within a register") helpers: the CSV splitter and the JSON
// string scanner look at eight bytes per step for the few bytes that end a
// field or a string. Records are short, so this beats both a byte loop and
// a bytes.IndexByte call per field (whose call overhead dominates on
// 5-to-40-byte fields).

const (
	swarLo7  = 0x7f7f7f7f7f7f7f7f
	swarHigh = 0x8080808080808080
	swarOnes = 0x0101010101010101
)

// load64 reads eight bytes of b at i, little-endian; i+8 <= len(b).
func load64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i:]) }

// eqMask sets the high bit of every byte of w equal to c, and no other
// bit. It is exact (no carries between bytes), so every set bit can be
// used as a position.
func eqMask(w uint64, c byte) uint64 {
	t := w ^ (swarOnes * uint64(c))
	return ^(((t & swarLo7) + swarLo7) | t | swarLo7)
}

// strStopMask flags the bytes of w that stop a JSON string scan: '"',
// '\\', a control character (< 0x20) or a non-ASCII byte. Only the lowest
// flag is exact: the zero-byte tests (t-1)&^t let a borrow flag bytes above
// a true hit, never below, which is all a scan for the first one needs,
// and it costs half of three exact tests.
func strStopMask(w uint64) uint64 {
	q := w ^ (swarOnes * '"')
	b := w ^ (swarOnes * '\\')
	return ((q-swarOnes)&^q | (b-swarOnes)&^b | (w - swarOnes*0x20) | w) & swarHigh
}

// firstByte returns the index of the lowest byte whose high bit is set in
// a non-zero mask.
func firstByte(m uint64) int { return bits.TrailingZeros64(m) >> 3 }
