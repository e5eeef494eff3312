// Package stream is tapsettle's streaming service: it prices a Kafka topic
// of taps as it arrives, partition by partition, and cuts the same
// settlement files as the batch job.
//
// # One partition, one single writer
//
// Taps are keyed by card, so every tap of a card is in one partition. Each
// partition assigned to the instance is priced by its own
// [engine.Partition] on the goroutine that consumes it: fetching runs
// ahead in the consumer (feed), decoding and pricing happen on the
// partition's goroutine, and partitions proceed in parallel.
//
// # Exactly-once effect
//
// kafka-go has no transactions, so exactly-once comes from storing the
// offset with the state it produced. Every checkpoint of a partition, one
// atomic state.Store commit, holds:
//
//   - the next offset to consume;
//   - the journey state changed since the previous checkpoint (cards,
//     tap_id logs, reorder buffer: engine.Partition.Checkpoint);
//   - the rows priced since the previous checkpoint, as one immutable
//     segment file written and synced under OUT/segments/ before the
//     commit, and registered in the commit (list "segs/<day>").
//
// A partition checkpoints every Config.CheckpointInterval or
// CheckpointTaps taps. A crash loses at most the work since the last
// checkpoint: the next owner restores the state, resumes at the stored
// offset and re-prices the same taps into the same rows (engine.Partition is deterministic in its input
// sequence). A segment written by the crashed attempt but never committed
// is never listed, so it is never read; the next owner removes it (see
// sweep.go, which also bounds the folder by Config.KeepDays). The consumer
// group's committed
// offset is only advanced after the checkpoint, for lag monitoring; it is
// never trusted on restore.
//
// # Days
//
// A partition closes a settlement day when the feed says so (a close-day
// control message, see package feed) or when its event-time watermark is
// clearing.close_after past the day's cut-off. Closing prices what the day
// still holds, closes open metro entries as incomplete, and writes the
// partition's part of the day: OUT/parts/DAY/pNNNN.json, which lists the
// segments (by name and SHA-256) that hold the day's rows. Taps of a closed
// day that arrive later are settled in the next day as late adjustments.
//
// When every partition's part of a day is present, [Clear] merges them
// into the day's files (ledger, clearing files, summary, manifest): the
// same bytes whatever the partitioning, the instances or the crashes, and
// the same bytes as the batch job on the same taps. A single instance does
// this itself; with several instances, the clearing house runs
// `tapsettle clear --day DAY DIR...` over their output folders.
//
// # Fare books
//
// Service.ReloadPolicies (on SIGHUP) and Service.WatchPolicies (on a
// change to the policy directory) compile and check a new book before
// anything changes; Service.SetBook hands it over without waiting. Each
// partition adopts it between two batches, after a checkpoint of what it
// priced with the previous book (worker.adoptBook), so every segment's
// rows come from one book, named in its reference, and a replay from the
// last checkpoint re-prices only taps the latest book priced. Clear counts
// a day's rows by book: a day priced by several lists them in its summary
// (settlement.PolicySet). See reload.go.
//
// # Intraday cycles
//
// Between closes, every Config.ClearingInterval (or ClearingTaps taps) the
// service writes provisional files of the open days from the segments the
// partitions have committed, under OUT/provisional/cycle-NNNNNN/ (see
// cycle.go). A partition whose feed goes quiet checkpoints its pending
// work once the checkpoint interval is up, so cycles, offsets and lag
// catch up without waiting for the next message.
package stream
