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
// day or the day's close finds still open (and that does not carry, below),
// is incomplete: charged the network's maximum fare and flagged. Over the
// time-in-system limit a journey pays the highest single fare from its exit
// station. A late tap that completes a journey charged as incomplete books
// adjustments instead of a second charge (adjust.go).
//
// # Journeys across the cut-off: the carry rule
//
// A journey is charged once, on its exit's settlement day (a card is
// charged at the exit gate), whatever side of the cut-off its taps fall.
// An open entry of day D is carryable when it entered within the carry
// window before D's cut-off: the time-in-system limit of its policy on D
// or, when that sets none, [DefaultCarryWindow]. When D closes, or a tap
// of a later day finds it open, a carryable entry is not closed: it
// carries to D+1, once, and stays open there. Its exit on D+1 pairs with
// it; a new entry, a later day, D+1's close or the end of input closes it
// as incomplete in D+1. The entry row (0 fen, or the incomplete charge) is
// then in D+1 and flagged [transit.RuleCarried]; the exit row, on its own
// day, names the entry in its entry fields. An entry that is not
// carryable is closed as incomplete in its own day. Carrying does not
// depend on whether the days are closed one by one (a stream) or all at
// the end (the batch job), so both give the same rows.
package engine
