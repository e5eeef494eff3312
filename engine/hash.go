package engine

import (
	"encoding/binary"
	"math/bits"

	"github.com/tapsettle/tapsettle/transit"
)

// mix folds a 64-bit word into h (a wyhash-style multiply-fold). Card and tap
// identifiers are fixed-size arrays, so hashing them is a few loads and
// multiplies with no loop over bytes.
func mix(h, w uint64) uint64 {
	hi, lo := bits.Mul64(h^w, 0x9E3779B97F4A7C15)
	return hi ^ lo
}

// cardHash hashes a card identifier. It decides the card's shard.
func cardHash(c *transit.CardID) uint64 {
	h := uint64(0xA0761D6478BD642F)
	h = mix(h, binary.LittleEndian.Uint64(c[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(c[8:16]))
	h = mix(h, binary.LittleEndian.Uint64(c[16:24]))
	return h
}

// The hashes below write out the words of fixed-size identifiers; these
// fail to compile when a size changes, so that no word is left out.
var (
	_ [40]byte = transit.TapID{}
	_ [16]byte = transit.Code{}
	_ [24]byte = transit.DeviceID{}
	_ [24]byte = transit.CardID{}
)

// tapHash hashes a tap identifier for the duplicate set: its five 8-byte
// words in order, written out so that the hot path has no loop or bound
// check (hash_test.go holds it to the loop over the words).
func tapHash(id *transit.TapID) uint64 {
	h := uint64(0xE7037ED1A0B428DB)
	h = mix(h, binary.LittleEndian.Uint64(id[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(id[8:16]))
	h = mix(h, binary.LittleEndian.Uint64(id[16:24]))
	h = mix(h, binary.LittleEndian.Uint64(id[24:32]))
	return mix(h, binary.LittleEndian.Uint64(id[32:40]))
}

// contentSum hashes what a tap says apart from its identifiers (tap_id and
// card) and the way its time was written (the UTC offset): two taps of one
// card with one tap_id and different sums differ in content. It is never 0,
// which marks a sum unknown.
func contentSum(t *transit.Tap) uint64 {
	h := uint64(0x8EBC6AF09C88C6E3)
	h = mix(h, uint64(t.Time))
	h = mix(h, uint64(t.Issuer)|uint64(t.City)<<32)
	h = mix(h, uint64(t.Mode)|uint64(t.Action)<<8|uint64(t.Product)<<16)
	h = mix(h, binary.LittleEndian.Uint64(t.Line[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(t.Line[8:16]))
	h = mix(h, binary.LittleEndian.Uint64(t.Stop[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(t.Stop[8:16]))
	h = mix(h, binary.LittleEndian.Uint64(t.Device[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(t.Device[8:16]))
	h = mix(h, binary.LittleEndian.Uint64(t.Device[16:24]))
	return h | 1
}

// ShardOf returns the shard, out of n, that owns card c. Exported so that a
// stream consumer can route a partition's messages consistently.
func ShardOf(c *transit.CardID, n int) int {
	// Lemire's multiply-shift maps the hash onto [0, n) without a division.
	hi, _ := bits.Mul64(cardHash(c), uint64(n))
	return int(hi)
}
