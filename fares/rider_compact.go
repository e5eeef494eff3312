package fares

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tapsettle/tapsettle/internal/varint"
	"github.com/tapsettle/tapsettle/transit"
)

// The compact form of a Rider, which checkpoints write: a version byte
// (riderCompactVersion), a 3-byte little-endian mask of the fields that
// are not zero, then each of those fields, in the order below, as a
// zig-zag varint: ChainStart, ChainFrom, LastMode, Uses[0..7], Day, Month,
// HasDay (1), DaySpend[1..], MonthSpend[1..]. Most fields of most riders
// are zero (one mode ridden, few transfers), so the form is far shorter
// than the struct for most riders, and a checkpoint writes one per changed
// card. Version 1 was a fixed-size form, never released; the number stays
// taken. The mask has a fixed width so that AppendCompact
// writes the fields in one pass and fills the mask in after.
const (
	riderCompactVersion = 2
	riderFields         = 3 + MaxTransferRules + 3 + 2*(transit.NumModes-1)
	riderMaskBytes      = 3
)

// AppendCompact appends the rider's compact binary form to b.
func (r *Rider) AppendCompact(b []byte) []byte {
	at := len(b) + 1
	b = append(b, riderCompactVersion, 0, 0, 0)
	var mask uint32
	bit := uint32(1)
	field := func(v int64) {
		if v != 0 {
			mask |= bit
			b = binary.AppendVarint(b, v)
		}
		bit <<= 1
	}
	field(r.ChainStart)
	field(int64(r.ChainFrom))
	field(int64(r.LastMode))
	if r.Uses == ([MaxTransferRules]uint8{}) {
		bit <<= MaxTransferRules
	} else {
		for _, u := range r.Uses {
			field(int64(u))
		}
	}
	field(int64(r.Day))
	field(int64(r.Month))
	field(int64(boolByte(r.HasDay)))
	for m := 1; m < transit.NumModes; m++ {
		field(int64(r.DaySpend[m]))
	}
	for m := 1; m < transit.NumModes; m++ {
		field(int64(r.MonthSpend[m]))
	}
	b[at], b[at+1], b[at+2] = byte(mask), byte(mask>>8), byte(mask>>16)
	return b
}

// DecodeCompact reads a rider written by AppendCompact from the start of b
// and returns the rest of b. It accepts exactly the encodings AppendCompact
// produces (a field marked present is not zero, every varint is shortest,
// every value fits its field), so that a rider read back from a checkpoint
// is written out again byte for byte. On error r is unchanged.
func (r *Rider) DecodeCompact(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != riderCompactVersion {
		return b, fmt.Errorf("not a compact rider (version %v): %w", b[:min(1, len(b))], ErrRiderEncoding)
	}
	if len(b) < 1+riderMaskBytes {
		return b, fmt.Errorf("%d bytes, shorter than a compact rider's header: %w", len(b), ErrRiderEncoding)
	}
	mask := uint32(b[1]) | uint32(b[2])<<8 | uint32(b[3])<<16
	if mask >= 1<<riderFields {
		return b, fmt.Errorf("field mask %x: %w", mask, ErrRiderEncoding)
	}
	rest := b[1+riderMaskBytes:]
	var err error
	var f [riderFields]int64
	for i := range f {
		if mask&(1<<i) == 0 {
			continue
		}
		if f[i], rest, err = varint.Varint(rest); err != nil || f[i] == 0 {
			return b, fmt.Errorf("field %d: %w", i, ErrRiderEncoding)
		}
	}
	var x Rider
	if err := x.setFields(&f); err != nil {
		return b, err
	}
	*r = x
	return rest, nil
}

// setFields sets the rider from its fields in the compact form's order; it
// refuses values that do not fit.
func (r *Rider) setFields(f *[riderFields]int64) error {
	in32 := func(v int64) bool { return v >= math.MinInt32 && v <= math.MaxInt32 }
	in8 := func(v int64) bool { return v >= 0 && v <= math.MaxUint8 }
	bad := func(what string, v int64) error { return fmt.Errorf("%s %d: %w", what, v, ErrRiderEncoding) }
	r.ChainStart = f[0]
	if !in32(f[1]) {
		return bad("chain_from", f[1])
	}
	if f[2] < 0 || f[2] >= transit.NumModes {
		return bad("mode", f[2])
	}
	r.ChainFrom, r.LastMode = transit.Day(f[1]), transit.Mode(f[2])
	i := 3
	for u := range r.Uses {
		if !in8(f[i]) {
			return bad("transfer uses", f[i])
		}
		r.Uses[u] = uint8(f[i])
		i++
	}
	if !in32(f[i]) || !in32(f[i+1]) || f[i+2] < 0 || f[i+2] > 1 {
		return bad("day, month or has_day", f[i])
	}
	r.Day, r.Month, r.HasDay = transit.Day(f[i]), int32(f[i+1]), f[i+2] == 1
	i += 3
	for m := 1; m < transit.NumModes; m++ {
		r.DaySpend[m], r.MonthSpend[m] = transit.Fen(f[i]), transit.Fen(f[i+transit.NumModes-1])
		i++
	}
	return nil
}
