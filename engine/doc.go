// Package engine is tapsettle's hot path: it prices taps by card, in event
// time order, with each card's journey state owned by exactly one goroutine.
//
// A single router goroutine calls [Engine.Submit]. It hashes each tap's card
// to one of N shards and copies the tap into that shard's current batch;
// full batches are handed over on a channel and their buffers recycled, so
// steady-state hand-off allocates nothing. Each shard is a single writer of
// its cards' state: no mutex is taken per tap. The compiled fare book is read
// through an atomic pointer once per batch, so a policy reload never blocks
// pricing.
//
// # Event-time order and the reorder window
//
// Fares depend on the order of a card's taps (transfers, caps, pairing an
// exit with its entry), so the engine prices each card's taps in
// [transit.Compare] order, not arrival order. Shards hold taps in a reorder
// buffer until the watermark passes them. The watermark is computed by the
// router over all taps in submission order: W(k) = max time of taps 0..k-1
// minus the window. A tap older than W(k) is late: it is priced on arrival
// and flagged [transit.RuleLate]. Because W depends only on the submission
// order, whether a tap is late, and what it is priced at, does not depend on
// the number of shards or on how taps were batched.
//
// With [Options.Window] set to [Unbounded] (the batch job's setting) nothing
// is ever late: shards price everything when the input ends, so the output
// does not depend on input order at all. They hold the taps by card hash
// and release them card by card (each card's taps in [transit.Compare]
// order, which is all its fares depend on): a day's cards outgrow the
// caches, and in hash order the card index, the card states and the held
// taps are walked front to back instead of missed at random, tap by tap.
//
// # Journeys
//
// A bus tap is priced on its own. A metro entry opens a journey held in the
// card's state; the exit prices it on the shortest-path fare and emits both
// rows (the entry at 0 fen with [transit.RuleMetroEntry], the fare on the
// exit row). An exit without an entry, or an entry that a new entry, a later
// day or the day's close finds still open, is incomplete: charged the
// network's maximum fare and flagged. Over the time-in-system limit a
// journey pays the highest single fare from its exit station.
package engine
