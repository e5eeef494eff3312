// Package varint reads the variable-length integers of encoding/binary
// strictly: only the shortest encoding of a value is accepted.
//
// The compact checkpoint forms (a rider's state, a held tap) promise that
// whatever their decoder accepts, their encoder writes back byte for byte,
// so that state read from a checkpoint is checkpointed again unchanged.
// binary.Uvarint also accepts padded encodings (0x80 0x00 for 0), which
// would break that promise; these readers refuse them.
package varint

import (
	"encoding/binary"
	"errors"
)

// ErrVarint reports a truncated, overlong or non-shortest varint.
var ErrVarint = errors.New("invalid varint")

// Uvarint reads an unsigned varint from the start of b and returns it and
// the rest of b.
func Uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	// A shortest encoding never ends in a zero byte, except 0 itself.
	if n <= 0 || (n > 1 && b[n-1] == 0) {
		return 0, b, ErrVarint
	}
	return v, b[n:], nil
}

// Varint reads a zig-zag signed varint (binary.AppendVarint) from the start
// of b and returns it and the rest of b.
func Varint(b []byte) (int64, []byte, error) {
	u, rest, err := Uvarint(b)
	if err != nil {
		return 0, b, err
	}
	return int64(u>>1) ^ -int64(u&1), rest, nil
}

// Uint32 reads an unsigned varint that must fit 32 bits.
func Uint32(b []byte) (uint32, []byte, error) {
	v, rest, err := Uvarint(b)
	if err != nil || v > 1<<32-1 {
		return 0, b, ErrVarint
	}
	return uint32(v), rest, nil
}

// Int32 reads a zig-zag signed varint that must fit 32 bits.
func Int32(b []byte) (int32, []byte, error) {
	v, rest, err := Varint(b)
	if err != nil || v < -1<<31 || v > 1<<31-1 {
		return 0, b, ErrVarint
	}
	return int32(v), rest, nil
}
