package fares

import (
	"errors"

	"github.com/tapsettle/tapsettle/transit"
)

// Rider is the pricing state of one card in one city, read and updated by
// Policy.Price: the current transfer chain and the spend accumulators that
// caps read. The engine keeps one per (card, acquirer city) and
// checkpoints it with AppendCompact. Rider is fixed-size and pointer-free,
// so millions of them cost the garbage collector nothing; its zero value
// is a card never seen. Its fields are in order of width, the widest
// first, so that it has no padding: 80 bytes, and the engine's card state
// three cache lines.
type Rider struct {
	// ChainStart is the instant (unix ns) of the first tap of the current
	// transfer chain; transfer windows are measured from it.
	ChainStart int64
	// DaySpend and MonthSpend are the fares charged per mode (indexed by
	// transit.Mode; index 0 is unused) in the day and in the month. Caps
	// sum the modes they cover.
	DaySpend   [transit.NumModes]transit.Fen
	MonthSpend [transit.NumModes]transit.Fen
	// ChainFrom is the EffectiveFrom of the policy version that started
	// the chain. Uses are indexed by that version's transfer rules, so a
	// leg priced by another version starts a new chain.
	ChainFrom transit.Day
	// Day is the settlement day DaySpend belongs to, Month (Day.Month())
	// the calendar month MonthSpend belongs to. Both are valid only when
	// HasDay is set.
	Day    transit.Day
	Month  int32
	HasDay bool
	// LastMode is the mode of the chain's latest leg; 0 when there is no
	// chain.
	LastMode transit.Mode
	// Uses counts the legs discounted by each transfer rule in this chain.
	Uses [MaxTransferRules]uint8
}

// ErrRiderEncoding is returned by Rider.DecodeCompact for bytes that are
// not a Rider written by AppendCompact.
var ErrRiderEncoding = errors.New("invalid rider state encoding")

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
