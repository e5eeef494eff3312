package settlement

import (
	"fmt"
	"slices"

	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/transit"
)

// SegmentBuilder accumulates a checkpoint's priced rows and rejects and
// encodes them as one segment file (docs/segment-format.md). A streaming
// partition keeps one builder: AddRows as rows are priced, Encode at the
// checkpoint, Reset, and so on; the buffers are reused, so in steady state
// nothing is allocated per row or per checkpoint.
//
// The zero value is an empty builder, ready to use. A SegmentBuilder is not
// safe for concurrent use.
type SegmentBuilder struct {
	// Compress stores the body as one S2 block instead of as it is. The
	// compact rows of version 2 are about 85 bytes; S2 takes them to about
	// 40 for some 130 ns a row on the 2-core machines tapsettle is
	// benchmarked on, about 8% of the streaming service's CPU per tap.
	// Set it where disk, not CPU, is what is short. It may change between
	// segments; the reader reads both.
	Compress bool
	// fixed writes version 1 (fixed-width rows, S2): the tests' way to
	// make the segments an earlier build wrote. It must not change while
	// rows are held.
	fixed bool

	rows    []byte // row records, in the order added
	rejects []byte // reject records, in the order added
	nRows   int
	nRejs   int
	days    []transit.Day // distinct days of rows and rejects, sorted
	// lastDay short-cuts the day bookkeeping: a partition's rows are
	// nearly all of one day.
	lastDay transit.Day
	hasLast bool
}

// AddRows appends rows to the segment. They are copied: the caller may
// reuse the slice once AddRows returns. Every field of every row is kept
// exactly; a row the engine could not have produced (an enumeration out of
// range) is encoded as it is but makes ReadSegment refuse the segment.
func (b *SegmentBuilder) AddRows(rows []transit.Priced) {
	// Doubling, rather than append's gentle growth of large slices: a
	// segment reaches tens of megabytes, and every growth is a copy. The
	// capacity is kept by Reset, so only a partition's first segments grow.
	b.rows = pages.Grow(b.rows, len(rows)*max(segCompactRowMax, segmentRowSize))
	for i := range rows {
		r := &rows[i]
		if !b.hasLast || r.Day != b.lastDay {
			b.noteDay(r.Day)
		}
		if b.fixed {
			b.rows = appendSegmentRowFixed(b.rows, r)
		} else {
			b.rows = appendSegmentRow(b.rows, r)
		}
	}
	b.nRows += len(rows)
}

// AddReject appends a malformed record, quarantined in settlement day d:
// the day of r.Time on the partition's calendar, or [Undated] when r has no
// time (or there is no calendar), as [Collector.Reject] places it. r is
// copied.
func (b *SegmentBuilder) AddReject(r *transit.Reject, d transit.Day) {
	b.rejects = appendSegmentReject(b.rejects, r, d)
	b.nRejs++
	b.noteDay(d)
}

func (b *SegmentBuilder) noteDay(d transit.Day) {
	b.days = addSegmentDay(b.days, d)
	b.lastDay, b.hasLast = d, true
}

// Rows returns the number of rows added since the last Reset.
func (b *SegmentBuilder) Rows() int { return b.nRows }

// Rejects returns the number of rejects added since the last Reset.
func (b *SegmentBuilder) Rejects() int { return b.nRejs }

// Days returns the distinct settlement days of the rows and rejects added,
// sorted ([Undated] first when an undated reject was added). The slice is
// the caller's.
func (b *SegmentBuilder) Days() []transit.Day { return slices.Clone(b.days) }

// Size returns the segment's body length before any compression. Encode
// requires it to be at most [MaxSegmentSize]; a caller that may buffer
// that much should checkpoint on size as well as on time.
func (b *SegmentBuilder) Size() int { return len(b.rows) + len(b.rejects) }

// Encode appends the whole segment file to dst and returns the extended
// slice. The builder is unchanged, so Encode may be called again; the same
// rows and rejects always give the same bytes. It allocates only when dst
// lacks capacity: reusing the previous segment's buffer, dst[:0], keeps a
// checkpoint free of allocations.
//
// Encode panics if Size() exceeds MaxSegmentSize: that is a caller that
// never checkpoints, and a segment that large could not be read back.
func (b *SegmentBuilder) Encode(dst []byte) []byte {
	if n := b.Size(); n > MaxSegmentSize {
		panic(fmt.Sprintf("settlement.SegmentBuilder.Encode: %d bytes of rows and rejects, at most %d per segment", n, MaxSegmentSize))
	}
	// The body is compressed as one block from one buffer, so the rejects
	// go behind the rows in the rows buffer's spare capacity for the
	// duration of the call (no copy at all when there are none).
	raw := append(b.rows, b.rejects...)
	b.rows = raw[:len(b.rows)]
	return appendSegment(dst, b.format(), b.nRows, b.nRejs, b.days, raw)
}

// format returns the format Encode writes.
func (b *SegmentBuilder) format() segFormat {
	switch {
	case b.fixed:
		return segFormat{version: segmentVersionFixed, codec: segCodecS2}
	case b.Compress:
		return segFormat{version: segmentVersion, codec: segCodecS2}
	}
	return segFormat{version: segmentVersion, codec: segCodecStored}
}

// Reset empties the builder for the next segment, keeping its buffers.
func (b *SegmentBuilder) Reset() {
	b.rows = b.rows[:0]
	b.rejects = b.rejects[:0]
	b.nRows, b.nRejs = 0, 0
	b.days = b.days[:0]
	b.hasLast = false
}
