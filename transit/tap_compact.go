package transit

import (
	"encoding/binary"
	"errors"

	"github.com/tapsettle/tapsettle/internal/varint"
)

// ErrTapEncoding is returned by DecodeCompact for bytes that are not a Tap
// written by AppendCompact.
var ErrTapEncoding = errors.New("transit: invalid tap encoding")

// idField is one of a tap's identifiers: its name, its padded bytes, and
// whether ingest requires it.
type idField struct {
	name     string
	v        []byte
	required bool
}

// idFields lists the tap's identifiers in the order the compact form
// writes them, aliasing t.
func (t *Tap) idFields() [5]idField {
	return [...]idField{{"tap_id", t.ID[:], true}, {"card_id", t.Card[:], true}, {"line", t.Line[:], false}, {"stop", t.Stop[:], false}, {"device", t.Device[:], false}}
}

// AppendCompact appends the tap's compact binary form, for state that is
// stored rather than streamed (a checkpoint's open journeys and held taps):
// the time as 8 little-endian bytes; the UTC offset (zig-zag), issuer and
// city as varints; mode, action and product as a byte each; then each
// identifier as a length byte and its bytes, without the padding, which
// is most of a Tap's size for typical identifiers.
func (t *Tap) AppendCompact(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Time))
	b = binary.AppendVarint(b, int64(t.Offset))
	b = binary.AppendUvarint(b, uint64(t.Issuer))
	b = binary.AppendUvarint(b, uint64(t.City))
	b = append(b, byte(t.Mode), byte(t.Action), byte(t.Product))
	for _, id := range t.idFields() {
		v := idBytes(id.v)
		b = append(b, byte(len(v)))
		b = append(b, v...)
	}
	return b
}

// DecodeCompact reads a tap written by AppendCompact from the start of b
// and returns the rest of b. It accepts exactly what AppendCompact writes
// for a tap ingest accepts (identifiers valid, tap_id and card_id not
// empty), so a tap read back is written out again byte for byte. On error
// t is unchanged.
func (t *Tap) DecodeCompact(b []byte) ([]byte, error) {
	var x Tap
	if len(b) < 8 {
		return b, ErrTapEncoding
	}
	x.Time = int64(binary.LittleEndian.Uint64(b))
	r := b[8:]
	var err error
	var issuer, city uint32
	if x.Offset, r, err = varint.Int32(r); err != nil {
		return b, ErrTapEncoding
	}
	if issuer, r, err = varint.Uint32(r); err != nil {
		return b, ErrTapEncoding
	}
	if city, r, err = varint.Uint32(r); err != nil || len(r) < 3 {
		return b, ErrTapEncoding
	}
	x.Issuer, x.City = City(issuer), City(city)
	x.Mode, x.Action, x.Product = Mode(r[0]), Action(r[1]), Product(r[2])
	if x.Mode >= NumModes || x.Action > ActionExit || x.Product >= NumProducts {
		return b, ErrTapEncoding
	}
	r = r[3:]
	// The identifiers, held to the Set methods' rules.
	for _, id := range x.idFields() {
		if len(r) < 1 || len(r) < 1+int(r[0]) {
			return b, ErrTapEncoding
		}
		if setID(id.v, r[1:1+int(r[0])], id.required) != nil {
			return b, ErrTapEncoding
		}
		r = r[1+int(r[0]):]
	}
	*t = x
	return r, nil
}
