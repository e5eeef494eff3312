package fares

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tapsettle/tapsettle/transit"
)

// Rider is the pricing state of one card in one city, read and updated by
// Policy.Price: the current transfer chain and the spend accumulators that
// caps read. The engine keeps one per (card, acquirer city) and
// checkpoints it with AppendCompact. Rider is fixed-size and pointer-free,
// so millions of them cost the garbage collector nothing; its zero value
// is a card never seen.
type Rider struct {
	// ChainStart is the instant (unix ns) of the first tap of the current
	// transfer chain; transfer windows are measured from it.
	ChainStart int64
	// ChainFrom is the EffectiveFrom of the policy version that started
	// the chain. Uses are indexed by that version's transfer rules, so a
	// leg priced by another version starts a new chain.
	ChainFrom transit.Day
	// LastMode is the mode of the chain's latest leg; 0 when there is no
	// chain.
	LastMode transit.Mode
	// Uses counts the legs discounted by each transfer rule in this chain.
	Uses [MaxTransferRules]uint8

	// Day is the settlement day DaySpend belongs to, Month (Day.Month())
	// the calendar month MonthSpend belongs to. Both are valid only when
	// HasDay is set.
	Day    transit.Day
	Month  int32
	HasDay bool
	// DaySpend and MonthSpend are the fares charged per mode (indexed by
	// transit.Mode; index 0 is unused) in the day and in the month. Caps
	// sum the modes they cover.
	DaySpend   [transit.NumModes]transit.Fen
	MonthSpend [transit.NumModes]transit.Fen
}

// riderVersion is the first byte of the fixed-size binary form; a change
// of layout gets a new version, and UnmarshalBinary refuses versions it
// does not know.
const riderVersion = 1

// RiderSize is the length of Rider's binary form.
const RiderSize = 1 + 8 + 4 + 1 + MaxTransferRules + 4 + 4 + 1 + 2*(transit.NumModes-1)*8

// ErrRiderEncoding is returned by Rider.UnmarshalBinary for bytes that are
// not a Rider written by AppendBinary.
var ErrRiderEncoding = errors.New("invalid rider state encoding")

// AppendBinary appends the rider's fixed-size binary form (RiderSize
// bytes, little-endian, led by a version byte) to b.
func (r *Rider) AppendBinary(b []byte) []byte {
	b = append(b, riderVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.ChainStart))
	b = binary.LittleEndian.AppendUint32(b, uint32(r.ChainFrom))
	b = append(b, byte(r.LastMode))
	b = append(b, r.Uses[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(r.Day))
	b = binary.LittleEndian.AppendUint32(b, uint32(r.Month))
	b = append(b, boolByte(r.HasDay))
	for m := 1; m < transit.NumModes; m++ {
		b = binary.LittleEndian.AppendUint64(b, uint64(r.DaySpend[m]))
	}
	for m := 1; m < transit.NumModes; m++ {
		b = binary.LittleEndian.AppendUint64(b, uint64(r.MonthSpend[m]))
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// UnmarshalBinary restores a rider from AppendBinary's output. It accepts
// exactly the encodings AppendBinary produces, so that state read back
// from a checkpoint is written out again byte for byte.
func (r *Rider) UnmarshalBinary(data []byte) error {
	if len(data) != RiderSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrRiderEncoding, len(data), RiderSize)
	}
	if data[0] != riderVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrRiderEncoding, data[0], riderVersion)
	}
	var x Rider
	d := data[1:]
	x.ChainStart = int64(binary.LittleEndian.Uint64(d))
	x.ChainFrom = transit.Day(binary.LittleEndian.Uint32(d[8:]))
	x.LastMode = transit.Mode(d[12])
	d = d[13:]
	copy(x.Uses[:], d)
	d = d[MaxTransferRules:]
	x.Day = transit.Day(binary.LittleEndian.Uint32(d))
	x.Month = int32(binary.LittleEndian.Uint32(d[4:]))
	if d[8] > 1 {
		return fmt.Errorf("%w: has_day byte %d", ErrRiderEncoding, d[8])
	}
	x.HasDay = d[8] == 1
	d = d[9:]
	for m := 1; m < transit.NumModes; m++ {
		x.DaySpend[m] = transit.Fen(binary.LittleEndian.Uint64(d))
		d = d[8:]
	}
	for m := 1; m < transit.NumModes; m++ {
		x.MonthSpend[m] = transit.Fen(binary.LittleEndian.Uint64(d))
		d = d[8:]
	}
	if x.LastMode >= transit.NumModes {
		return fmt.Errorf("%w: mode %d", ErrRiderEncoding, x.LastMode)
	}
	*r = x
	return nil
}
