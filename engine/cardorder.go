package engine

import (
	"errors"

	"github.com/tapsettle/tapsettle/transit"
)

// CardOrder returns the hash by which an engine with an Unbounded window
// releases cards (the package comment): every shard prices its cards in
// ascending CardOrder. A card's states in every city share it, since it
// hashes the card alone.
//
// The batch job partitions a day too large for its memory by the top bits
// of CardOrder and prices the partitions in turn, each in an engine of its
// own: a card's taps all fall in one partition, which is all its rows
// depend on (duplicates, journeys, transfers and caps are per card), and
// each partition is a contiguous range of every shard's release order.
func CardOrder(c *transit.CardID) uint64 { return cardKeyOf(c) }

// ErrRunning is returned by Held for an engine that was not stopped.
var ErrRunning = errors.New("engine: held taps of a running engine")

// Held calls f with every tap the stopped engine (see Stop) holds
// unpriced, shard by shard, in no particular order; the tap is valid
// until f returns. With an Unbounded window and no day closed, that is
// every tap submitted: the batch job stops an engine this way when the
// day turns out larger than its memory budget, and partitions the taps
// to disk instead.
func (e *Engine) Held(f func(*transit.Tap)) error {
	if !e.closed {
		return ErrRunning
	}
	for _, s := range e.shards {
		s.held.each(f)
	}
	return nil
}

// HoldFloor is, in taps, the memory a shard of an engine with an
// Unbounded window sets aside for held taps once its taps spread over all
// its card buckets: a chunk of taps in each (about 37 MB for two shards,
// however few taps they hold). A caller with a small day, or a small
// memory budget, holds its taps itself until they outgrow that.
const HoldFloor = cardBuckets * chunkTaps
