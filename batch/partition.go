package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// A day larger than the run's memory budget is partitioned by card to
// disk and priced a group of partitions at a time (see Settle.MemoryBudget):
// a tap goes to the partition named by partitionBits bits of its card's
// engine.CardOrder, so a card's taps, in every city, are all in one
// partition. Its taps are written in their compact form
// (transit.Tap.AppendCompact, about 70 bytes against 144 in memory), a
// buffer of them at a time, each buffer a section of a run file of
// internal/spill: S2-compressed, CRC-checked and counted, in a spill
// folder that is removed when the run ends and, after a crash, by the next
// run.
//
// Which bits: engine.CardPartition's, bits 32 to 39 of CardOrder, the
// next 8 below at each split. Not the top ones, though a partition of
// them would be a contiguous range of the release order: they place a
// card's home slot in the engine's card index, so a group of such
// partitions crowds its cards into a sliver of the index, whose linear
// probing then collapses (a 2,000,000-tap day under a 64 MiB budget spent
// 10 of its 15 seconds of CPU in the index; 3.1 in all with these bits).

// partitionBits is how many bits of CardOrder name a partition: 256
// partitions, so that a group of them fits the budget closely (a 20
// million tap day makes partitions of some 80,000 taps, 25 MB to price).
// A partition larger than the budget is split again by the next bits
// (see pricePartitions), up to engine.PartitionLevels levels: cards that
// share all those bits (in practice one card with a day's worth of taps)
// are priced together whatever their size.
const partitionBits = 8

// partitions is the number of partitions of one split.
const partitions = 1 << partitionBits

// partBufMax and partBufMin bound a partition's buffer of compact taps:
// the run holds one per partition, so their sum is kept to about an
// eighth of the budget; a buffer is one section on disk.
const (
	partBufMax = 64 << 10
	partBufMin = 4 << 10
)

// partBufSize is the buffer of each partition under a budget.
func partBufSize(budget int64) int {
	return int(min(max(budget/8/partitions, partBufMin), partBufMax))
}

// compactRoom is more than the longest compact tap (143 bytes: a tap's
// time, offset, codes and enums, and its five identifiers at their
// longest): a buffer with less room left is written, so it never grows.
const compactRoom = 256

// partition is one partition on disk: its sections and their taps; in a
// run with a state folder, the sections of its cards' state and their
// records (partstate.go), and the corrections of its cards (indexes of
// pricing.corrections).
type partition struct {
	secs  []spill.Section
	taps  int64
	bytes int64 // on disk

	state     []spill.Section
	stateRecs int64
	corr      []int
}

// weight is what the partition counts for against the budget's plan.
func (pt *partition) weight() int64 { return pt.taps + pt.stateRecs }

// partBuf gathers the compact taps of one partition until it is written.
type partBuf struct {
	p   int    // the partition
	seq int    // the buffer's place among the partition's: its section's
	n   int    // taps in b
	b   []byte // the taps, compact, one after another
}

// tapParts partitions taps to disk. add is called by one goroutine (the
// router); writers compress and write full buffers concurrently.
type tapParts struct {
	dir   *spill.Dir
	level int // a tap's partition is engine.CardPartition at level
	size  int // a buffer's capacity

	bufs [partitions]*partBuf
	next [partitions]int // the next buffer's seq, by partition
	jobs chan *partBuf
	free chan *partBuf
	wg   sync.WaitGroup

	mu    sync.Mutex // guards parts and err, written by the writers
	parts [partitions]partition
	err   error
}

// newTapParts starts writers of partitions of taps split at level, in
// dir.
func newTapParts(dir *spill.Dir, level int, size int) *tapParts {
	w := min(runtime.GOMAXPROCS(0), 4)
	tp := &tapParts{dir: dir, level: level, size: size, jobs: make(chan *partBuf, w), free: make(chan *partBuf, 2*w)}
	for range w {
		tp.wg.Go(tp.write)
	}
	return tp
}

// add copies t into its partition's buffer, handing the buffer to a
// writer when it is full.
func (tp *tapParts) add(t *transit.Tap) {
	b := tp.buf(engine.CardPartition(&t.Card, tp.level), compactRoom)
	b.b = t.AppendCompact(b.b)
	tp.added(b)
}

// addRaw copies rec, a record of an engine state, into partition p's
// buffer (partstate.go), handing the buffer to a writer when it is full.
func (tp *tapParts) addRaw(p int, rec []byte) {
	b := tp.buf(p, len(rec))
	b.b = append(b.b, rec...)
	tp.added(b)
}

// buf returns partition p's buffer for a record of room bytes: a new
// one when it has none, or when the one it has has less room left, which
// goes to a writer. A tap always fits: a buffer kept has compactRoom
// left (added).
func (tp *tapParts) buf(p, room int) *partBuf {
	b := tp.bufs[p]
	if b != nil && cap(b.b)-len(b.b) < room {
		tp.jobs <- b
		b = nil
	}
	if b == nil {
		b = tp.newBuf(p)
		tp.bufs[p] = b
	}
	return b
}

// added counts the record just appended to b, and hands b to a writer
// when it has less than compactRoom left.
func (tp *tapParts) added(b *partBuf) {
	b.n++
	if cap(b.b)-len(b.b) < compactRoom {
		tp.jobs <- b
		tp.bufs[b.p] = nil
	}
}

// newBuf returns an empty buffer for partition p, a written one if one
// is free.
func (tp *tapParts) newBuf(p int) *partBuf {
	select {
	case b := <-tp.free:
		b.p, b.n, b.b = p, 0, b.b[:0]
		b.seq = tp.nextSeq(p)
		return b
	default:
		return &partBuf{p: p, seq: tp.nextSeq(p), b: make([]byte, 0, tp.size)}
	}
}

// nextSeq numbers partition p's next buffer, from 0: the buffers made
// are the partition's sections, since each gets a record at once.
func (tp *tapParts) nextSeq(p int) int {
	tp.next[p]++
	return tp.next[p] - 1
}

// write is a writer: it writes each buffer it is handed as a section of
// its own run file (a record: the count of taps, then the taps). The
// writers finish buffers in any order: each puts its section in its
// buffer's place (seq), so that a partition's sections are in the order
// they were filled, which a state's records need (a card's state before
// its tap_ids). After a failed write a partition has gaps, but finish
// returns the error then.
func (tp *tapParts) write() {
	var f *spill.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var rec []byte
	for b := range tp.jobs {
		err := tp.failed()
		if err == nil && f == nil {
			f, err = tp.dir.Create()
		}
		var sec spill.Section
		if err == nil {
			rec = binary.AppendUvarint(rec[:0], uint64(b.n))
			rec = append(rec, b.b...)
			if err = f.Append(rec); err == nil {
				sec, err = f.EndSection()
			}
		}
		tp.mu.Lock()
		if err != nil {
			tp.err = firstOf(tp.err, err)
		} else {
			pt := &tp.parts[b.p]
			if len(pt.secs) <= b.seq {
				pt.secs = append(pt.secs, make([]spill.Section, b.seq+1-len(pt.secs))...)
			}
			pt.secs[b.seq] = sec
			pt.taps += int64(b.n)
			pt.bytes += sec.Len
		}
		tp.mu.Unlock()
		select {
		case tp.free <- b:
		default:
		}
	}
}

// firstOf returns a if it is set, else b: the first error wins.
func firstOf(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (tp *tapParts) failed() error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.err
}

// finish writes the buffers still held, waits for the writers and returns
// the partitions, or the first error.
func (tp *tapParts) finish() ([partitions]partition, error) {
	for p, b := range tp.bufs {
		if b != nil && b.n > 0 {
			tp.jobs <- b
		}
		tp.bufs[p] = nil
	}
	close(tp.jobs)
	tp.wg.Wait()
	if tp.err != nil {
		return tp.parts, fmt.Errorf("settle: partition taps to disk: %w", tp.err)
	}
	return tp.parts, nil
}

// errPartition is wrapped by the errors of a partition that does not read
// back as written.
var errPartition = errors.New("damaged partition record")

// readSection calls f with every batch of taps of a section (a record),
// decoded into the slice get returns for its count; f owns the slice.
func readSection(sec spill.Section, get func(n int) []transit.Tap, f func([]transit.Tap) error) error {
	rd, err := spill.OpenSection(sec)
	if err != nil {
		return err
	}
	defer rd.Close()
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		// A compact tap takes at least 16 bytes: a count above that is
		// damage, not a reason to allocate.
		n, k := binary.Uvarint(rec)
		if k <= 0 || n > uint64(len(rec))/16 {
			return fmt.Errorf("%w: %s at %d: bad tap count", errPartition, sec.Path, sec.Off)
		}
		rec = rec[k:]
		buf := get(int(n))
		for i := range buf {
			if rec, err = buf[i].DecodeCompact(rec); err != nil {
				return fmt.Errorf("%w: %s at %d: tap %d of %d: %w", errPartition, sec.Path, sec.Off, i+1, n, err)
			}
		}
		if len(rec) != 0 {
			return fmt.Errorf("%w: %s at %d: %d bytes after %d taps", errPartition, sec.Path, sec.Off, len(rec), n)
		}
		if err := f(buf); err != nil {
			return err
		}
	}
}

// tapSlice returns buf with length n, reallocated if it is too short.
func tapSlice(buf []transit.Tap, n int) []transit.Tap {
	if cap(buf) < n {
		return make([]transit.Tap, n)
	}
	return buf[:n]
}
