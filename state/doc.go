// Package state keeps the streaming service's per-partition state durable:
// for every Kafka partition, a card map, named lists of blobs (tap-id logs)
// and a meta blob, committed as checkpoints that are applied atomically
// together with the partition's next Kafka offset. A new owner of a
// partition Loads its state and resumes from the stored offset, so every
// tap is reflected exactly once in the state, whatever crashed when.
//
// # Checkpoints
//
// A Checkpoint carries a Seq that must be the stored Seq+1. The rules that
// make retries safe:
//   - Commit is all or nothing.
//   - An error wrapping ErrUnavailable means "unknown": the caller retries the
//     same checkpoint (same Seq) until it gets nil or another error. A retry of
//     a checkpoint that was in fact applied — its reply was lost — finds the
//     stored Seq equal to its own and returns nil without applying it again.
//     Idempotence is by Seq alone: a different checkpoint sent with an
//     already-committed Seq is also answered nil and not applied.
//   - A Seq that is neither stored+1 nor stored is a *SeqError (ErrSeq).
//   - A Full checkpoint replaces the whole state (compaction); the caller
//     sends one when (*Local).LogBytes has grown to a few times the live state.
//
// # Ownership and fencing
//
// Load takes ownership of the partition. Afterwards a Commit from any
// earlier owner fails with ErrFenced and changes nothing, so a zombie
// instance that lost its partition in a rebalance cannot overwrite its
// successor's state.
//
// # Backends
//
// Local (the default) keeps dir/p<NNNN>/log, an append-only log of CRC-32C
// checked records, one fdatasync per Commit; a Full checkpoint is written
// to a new file renamed over the log. Ownership is an exclusive flock held
// by the Store value; a second Load elsewhere gets ErrLocked until the owner
// releases, closes or dies. Load truncates a torn tail (a crash mid-write)
// and reports damage anywhere else as a *CorruptError with file and offset.
//
// Redis keeps partition p under the hash tag {prefix:p}: ":meta" (seq,
// offset and meta blob in one binary string), ":cards" (hash), ":lists" (set
// of list names), ":l:<name>" (one list each) and ":owner" (the fencing
// token). Load INCRs the token; Commit is one WATCH/MULTI/EXEC that checks
// the token and the stored Seq and applies everything, three round trips
// whatever the checkpoint's size. Keys sharing one hash tag makes it work on
// Redis Cluster.
//
// Both backends pass the same contract tests (contract_test.go).
package state
