package state

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a Store returns for one of these conditions
// wraps the sentinel, so callers test with errors.Is.
var (
	// ErrFenced means the Store no longer owns the partition: another Store
	// (in this process or another) took it over with Load, or this Store never
	// loaded it or released it. The caller must stop working on the partition;
	// nothing was changed.
	ErrFenced = errors.New("state: partition is owned by another store")

	// ErrSeq means a checkpoint's Seq is not the stored Seq+1 (and not a retry of
	// the stored Seq). The error is a *SeqError carrying both numbers. Nothing
	// was changed.
	ErrSeq = errors.New("state: checkpoint sequence out of order")

	// ErrUnavailable means a transient failure (network, server, disk I/O). The
	// checkpoint may or may not have been applied; the caller retries the same
	// checkpoint later and the Store applies it at most once.
	ErrUnavailable = errors.New("state: store unavailable")

	// ErrCorrupt means the stored state cannot be read back as written. Local
	// stores return a *CorruptError naming the file and byte offset.
	ErrCorrupt = errors.New("state: stored state is corrupt")

	// ErrLocked is returned by (*Local).Load when another live Store value
	// (in this process or another) holds the partition's lock file. It is not
	// ErrFenced: the caller did not lose anything, it simply cannot take the
	// partition yet and should retry once the other owner has released it (a
	// killed process releases its locks immediately).
	ErrLocked = errors.New("state: partition is locked by another store")

	// ErrInvalid means a malformed checkpoint or argument (a card key longer
	// than MaxKeyLen, an empty list name, Seq 0, a negative partition). Nothing
	// was changed; retrying the same value fails again.
	ErrInvalid = errors.New("state: invalid checkpoint")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("state: store closed")
)

// SeqError reports a checkpoint whose Seq does not follow the stored one.
type SeqError struct {
	Partition int
	Stored    uint64 // the last committed Seq
	Got       uint64 // the checkpoint's Seq
}

func (e *SeqError) Error() string {
	return fmt.Sprintf("state: partition %d: checkpoint seq %d does not follow stored seq %d", e.Partition, e.Got, e.Stored)
}

// Unwrap makes errors.Is(err, ErrSeq) true.
func (e *SeqError) Unwrap() error { return ErrSeq }

// CorruptError says where a local log fails its checks.
type CorruptError struct {
	Path   string // the log file
	Offset int64  // byte offset of the first bad record (or header)
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state: %s is corrupt at byte %d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }
