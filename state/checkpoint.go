package state

import (
	"context"
	"errors"
	"fmt"
)

// Limits on what a checkpoint may hold. They keep records and Redis keys
// bounded; the engine's card keys are far shorter.
const (
	// MaxKeyLen is the longest card key, in bytes.
	MaxKeyLen = 64
	// MaxListNameLen is the longest list name, in bytes. A list name becomes
	// part of a Redis key, so it is kept short.
	MaxListNameLen = 255
)

// Checkpoint is one atomic change to a partition's state. A Store applies all
// of it or none of it, together with Offset.
//
// Order of application: Full (drop every card and list), then Cards, then
// Drops, then Appends, then Seq, Offset and Meta. The Store does not retain
// the checkpoint or any slice in it after Commit returns.
type Checkpoint struct {
	Seq     uint64   // must be (last loaded or committed Seq)+1
	Offset  int64    // next Kafka offset to consume after this checkpoint
	Meta    []byte   // replaces the stored meta blob (nil stores an empty blob)
	Full    bool     // holds the whole state: every card and list is dropped first (compaction)
	Cards   []KV     // upserts into the partition's card map; a later duplicate key wins
	Drops   []string // lists deleted entirely, applied before Appends
	Appends []Append // blobs appended to named lists, in order
}

// KV is one card upsert: a key and its value. Key is at most MaxKeyLen
// bytes.
type KV struct{ Key, Value []byte }

// Append adds Blob to the end of the list named List (1 to MaxListNameLen bytes).
type Append struct {
	List string
	Blob []byte
}

// Snapshot is a partition's committed state, as returned by Load. The caller
// owns it; the Store keeps no reference.
type Snapshot struct {
	Seq    uint64 // 0 = nothing committed yet
	Offset int64
	Meta   []byte
	Cards  map[string][]byte
	Lists  map[string][][]byte // blobs in append order
}

// Store keeps per-partition checkpoints. Methods are safe for concurrent use
// on different partitions; calls for one partition are serialised.
type Store interface {
	// Load returns partition p's last committed state and takes ownership of p:
	// afterwards a Commit for p from an earlier owner (another Store value,
	// another process) fails with ErrFenced.
	Load(ctx context.Context, p int) (*Snapshot, error)
	// Commit applies cp atomically (all or nothing). A transient failure
	// returns an error wrapping ErrUnavailable; the caller retries the SAME
	// checkpoint later, and a retry of a checkpoint that was in fact applied
	// (reply lost) succeeds without applying it twice. Seq gaps return ErrSeq.
	Commit(ctx context.Context, p int, cp *Checkpoint) error
	// Release gives up ownership of p (graceful hand-off); optional for callers.
	Release(p int) error
	// Close releases every partition. It does not close resources the caller
	// passed in (a Redis client).
	Close() error
}

// newSnapshot returns an empty snapshot with non-nil maps.
func newSnapshot() *Snapshot {
	return &Snapshot{Cards: make(map[string][]byte), Lists: make(map[string][][]byte)}
}

// apply folds cp into s. Slices of cp are stored as they are, so the caller
// hands over ownership of cp's memory (the local log replay passes freshly
// read record buffers).
func (s *Snapshot) apply(cp *Checkpoint) {
	if cp.Full {
		clear(s.Cards)
		clear(s.Lists)
	}
	for _, e := range cp.Cards {
		s.Cards[string(e.Key)] = e.Value
	}
	for _, name := range cp.Drops {
		delete(s.Lists, name)
	}
	for _, a := range cp.Appends {
		s.Lists[a.List] = append(s.Lists[a.List], a.Blob)
	}
	s.Seq, s.Offset, s.Meta = cp.Seq, cp.Offset, cp.Meta
}

// fullCheckpoint expresses s as a Full checkpoint with s's own Seq, so that
// writing it reproduces s exactly. Used to rewrite a local log.
func (s *Snapshot) fullCheckpoint() *Checkpoint {
	cp := &Checkpoint{Seq: s.Seq, Offset: s.Offset, Meta: s.Meta, Full: true,
		Cards: make([]KV, 0, len(s.Cards))}
	for k, v := range s.Cards {
		cp.Cards = append(cp.Cards, KV{Key: []byte(k), Value: v})
	}
	for name, blobs := range s.Lists {
		for _, b := range blobs {
			cp.Appends = append(cp.Appends, Append{List: name, Blob: b})
		}
	}
	return cp
}

// validate checks the limits every backend enforces, so both backends accept
// and reject exactly the same checkpoints.
func validate(p int, cp *Checkpoint) error {
	if err := checkPartition(p); err != nil {
		return err
	}
	if cp == nil {
		return fmt.Errorf("state: partition %d: nil checkpoint: %w", p, ErrInvalid)
	}
	if cp.Seq == 0 {
		return fmt.Errorf("state: partition %d: seq 0 is reserved for the empty state: %w", p, ErrInvalid)
	}
	for i := range cp.Cards {
		if n := len(cp.Cards[i].Key); n > MaxKeyLen {
			return fmt.Errorf("state: partition %d seq %d: card %d key is %d bytes (max %d): %w", p, cp.Seq, i, n, MaxKeyLen, ErrInvalid)
		}
	}
	for _, name := range cp.Drops {
		if err := validListName(name); err != nil {
			return fmt.Errorf("state: partition %d seq %d: drop: %v: %w", p, cp.Seq, err, ErrInvalid)
		}
	}
	for i := range cp.Appends {
		if err := validListName(cp.Appends[i].List); err != nil {
			return fmt.Errorf("state: partition %d seq %d: append %d: %v: %w", p, cp.Seq, i, err, ErrInvalid)
		}
	}
	return nil
}

func validListName(name string) error {
	if name == "" {
		return errors.New("empty list name")
	}
	if len(name) > MaxListNameLen {
		return fmt.Errorf("list name is %d bytes (max %d)", len(name), MaxListNameLen)
	}
	return nil
}

// checkPartition rejects negative partition numbers.
func checkPartition(p int) error {
	if p < 0 {
		return fmt.Errorf("state: partition %d is negative: %w", p, ErrInvalid)
	}
	return nil
}
