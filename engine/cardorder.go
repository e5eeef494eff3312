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
// The batch job partitions a day too large for its memory by bits of
// CardOrder (CardPartition) and prices the partitions in turn, each in an
// engine of its own: a card's taps all fall in one partition, which is
// all its rows depend on (duplicates, journeys, transfers and caps are
// per card). Not by its top bits: they are a card's home slot in the card
// index, and a partition of them would crowd a sliver of each engine's
// index.
func CardOrder(c *transit.CardID) uint64 { return cardKeyOf(c) }

// PartitionLevels is how many times CardPartition can split cards.
const PartitionLevels = 4

// CardPartition returns the partition, 0 to 255, of card c at split
// level 0 to PartitionLevels-1: bits 32 to 39 of CardOrder at level 0, the
// 8 bits below at each next level, so that the cards of one partition of
// every level are the cards of a partition of the level above. Cards of
// one partition, priced in an engine of their own, spread evenly over its
// card index: the bits lie below every home slot bit (an index has fewer
// than 2^24 slots) and above the 32 bits an index slot keeps of the hash.
func CardPartition(c *transit.CardID, level int) int {
	return int(cardKeyOf(c) >> (32 - 8*level) & 0xFF)
}

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
// its card buckets: a chunk of taps in each (32 MiB for two shards,
// however few taps they hold). A caller with a small day, or a small
// memory budget, holds its taps itself until they outgrow that.
const HoldFloor = cardBuckets * chunkTaps
