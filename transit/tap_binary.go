package transit

import (
	"encoding/binary"
	"errors"
)

// TapBinarySize is the length of a Tap's binary form.
const TapBinarySize = 8 + 4 + 4 + 4 + 3 + MaxTapID + MaxCardID + 2*MaxCode + MaxDeviceID

// ErrTapEncoding is returned by DecodeBinary for bytes that are not a Tap
// written by AppendBinary.
var ErrTapEncoding = errors.New("transit: invalid tap encoding")

// AppendBinary appends the tap's fixed-size little-endian binary form
// (TapBinarySize bytes): the layout of checkpoints and segments, so it is
// explicit field by field and never depends on the struct's memory layout.
func (t *Tap) AppendBinary(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Time))
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Offset))
	b = binary.LittleEndian.AppendUint32(b, uint32(t.Issuer))
	b = binary.LittleEndian.AppendUint32(b, uint32(t.City))
	b = append(b, byte(t.Mode), byte(t.Action), byte(t.Product))
	b = append(b, t.ID[:]...)
	b = append(b, t.Card[:]...)
	b = append(b, t.Line[:]...)
	b = append(b, t.Stop[:]...)
	return append(b, t.Device[:]...)
}

// DecodeBinary reads a tap written by AppendBinary from the start of b. It
// checks the length and the enumerations, not the identifiers' bytes:
// callers decode their own checksummed data.
func (t *Tap) DecodeBinary(b []byte) error {
	if len(b) < TapBinarySize {
		return ErrTapEncoding
	}
	t.Time = int64(binary.LittleEndian.Uint64(b))
	t.Offset = int32(binary.LittleEndian.Uint32(b[8:]))
	t.Issuer = City(binary.LittleEndian.Uint32(b[12:]))
	t.City = City(binary.LittleEndian.Uint32(b[16:]))
	t.Mode, t.Action, t.Product = Mode(b[20]), Action(b[21]), Product(b[22])
	if t.Mode >= NumModes || t.Action > ActionExit || t.Product >= NumProducts {
		return ErrTapEncoding
	}
	b = b[23:]
	b = b[copy(t.ID[:], b):]
	b = b[copy(t.Card[:], b):]
	b = b[copy(t.Line[:], b):]
	b = b[copy(t.Stop[:], b):]
	copy(t.Device[:], b)
	return nil
}
