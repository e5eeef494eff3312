package ingest

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// Identifier fields (tap_id, card_id, line, stop, device) are checked on
// the hot path by a table lookup per byte, about half the cost of transit's
// byte-by-byte switch. transit's Set functions stay the definition of a
// valid identifier: a value this check refuses is handed to Set, whose
// error becomes the reject's reason (and whose success, should the two
// ever disagree that way, stands). The other direction, this check
// accepting what Set refuses, would let a bad identifier through, so
// TestIDClassMatchesTransit compares the two on every byte and
// FuzzIDClass on arbitrary strings.

// Byte classes for identifiers.
const (
	idByteBad   = 1 // refused by transit's rule: controls, space, DEL, , " | \
	idByteUTF8  = 2 // part of a multi-byte sequence: needs a UTF-8 check
	idByteClean = 0
)

var idClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 0x80:
			t[c] = idByteUTF8
		case c <= 0x20 || c == 0x7f || c == ',' || c == '"' || c == '|' || c == '\\':
			t[c] = idByteBad
		}
	}
	return t
}()

// idStatus is the outcome of storeID.
type idStatus uint8

const (
	idStored  idStatus = iota // v was valid and is stored
	idRefused                 // v is not valid by the table: ask transit
	idBadUTF8                 // v has only allowed bytes but is not UTF-8
)

// storeID stores v, NUL-padded, in dst (an identifier array) if it is a
// valid identifier of at most len(dst) bytes. An empty v clears dst and is
// stored: whether it is allowed is the caller's business.
func storeID(dst, v []byte) idStatus {
	if len(v) > len(dst) {
		return idRefused
	}
	// Four accumulators break the dependency chain of a single one, so
	// the lookups run in parallel.
	var a0, a1, a2, a3 uint8
	i := 0
	for ; i+4 <= len(v); i += 4 {
		a0 |= idClass[v[i]]
		a1 |= idClass[v[i+1]]
		a2 |= idClass[v[i+2]]
		a3 |= idClass[v[i+3]]
	}
	for ; i < len(v); i++ {
		a0 |= idClass[v[i]]
	}
	acc := a0 | a1 | a2 | a3
	if acc&idByteBad != 0 {
		return idRefused
	}
	if acc&idByteUTF8 != 0 && !utf8.Valid(v) {
		return idBadUTF8
	}
	// Clear the whole array with a constant-size store (inlined), rather
	// than the tail through a call to memclr.
	switch len(dst) {
	case transit.MaxTapID:
		*(*[transit.MaxTapID]byte)(dst) = [transit.MaxTapID]byte{}
	case transit.MaxCardID:
		*(*[transit.MaxCardID]byte)(dst) = [transit.MaxCardID]byte{}
	case transit.MaxCode:
		*(*[transit.MaxCode]byte)(dst) = [transit.MaxCode]byte{}
	default:
		clear(dst)
	}
	// Copy in eight-byte words, the last one overlapping, instead of a
	// call to memmove: identifiers are short and the call dominates.
	if n := len(v); n >= 8 {
		for i := 0; i < n-8; i += 8 {
			binary.LittleEndian.PutUint64(dst[i:], load64(v, i))
		}
		binary.LittleEndian.PutUint64(dst[n-8:], load64(v, n-8))
	} else {
		for i := range n {
			dst[i] = v[i]
		}
	}
	return idStored
}
