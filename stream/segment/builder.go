package segment

import (
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/transit"
)

// Builder accumulates a checkpoint's priced rows and rejects and
// encodes them as one segment file (docs/segment-format.md). A streaming
// partition keeps one builder: AddRows as rows are priced, WriteTo (or
// Encode) at the checkpoint, Reset, and so on; the buffers are reused, so
// in steady state nothing is allocated per row or per checkpoint.
//
// The zero value is an empty builder, ready to use. A Builder is not
// safe for concurrent use.
type Builder struct {
	// Compress stores the body as one S2 block instead of as it is,
	// trading the streaming service's CPU on the hot path for disk (see
	// docs/performance.md): set it where disk, not CPU, is what is short.
	// It may change between segments; the reader reads both.
	Compress bool

	// chunks hold the row records in the order added, filled one after
	// the other: a segment reaches tens of megabytes, and one growing
	// buffer would copy it at every doubling and map twice its size in
	// fresh pages. Reset keeps them, so only a partition's first segments
	// allocate.
	chunks  [][]byte
	cur     int    // the chunk being filled; those after it are empty
	rejects []byte // reject records, in the order added
	nRows   int
	nRejs   int
	days    []transit.Day // distinct days of rows and rejects, sorted
	// lastDay short-cuts the day bookkeeping: a partition's rows are
	// nearly all of one day.
	lastDay transit.Day
	hasLast bool
	flat    []byte // the body in one piece, for the codecs that compress it
	out     []byte // header and trailer, or the whole compressed file, for WriteTo
}

// Chunk sizes: the first chunk is small, for partitions that see few
// taps between checkpoints; each new one doubles, up to segChunkMax.
const (
	segChunkMin = 64 << 10
	segChunkMax = 4 << 20
)

// AddRows appends rows to the segment. They are copied: the caller may
// reuse the slice once AddRows returns. Every field of every row is kept
// exactly; a row the engine could not have produced (an enumeration out of
// range) is encoded as it is but makes Read refuse the segment.
func (b *Builder) AddRows(rows []transit.Priced) {
	b.nRows += len(rows)
	for len(rows) > 0 {
		// The rows that surely fit in the chunk in hand go in without a
		// check each.
		c := b.room(segCompactRowMax)
		buf := *c
		k := min(len(rows), (cap(buf)-len(buf))/segCompactRowMax)
		for i := range rows[:k] {
			r := &rows[i]
			if !b.hasLast || r.Day != b.lastDay {
				b.noteDay(r.Day)
			}
			buf = appendSegmentRow(buf, r)
		}
		*c = buf
		rows = rows[k:]
	}
}

// room returns the chunk to append a row of at most n bytes to, moving on
// to the next chunk (or a new one) when the current one lacks the room.
func (b *Builder) room(n int) *[]byte {
	for ; b.cur < len(b.chunks); b.cur++ {
		if c := &b.chunks[b.cur]; cap(*c)-len(*c) >= n {
			return c
		}
	}
	size := segChunkMin
	if k := len(b.chunks); k > 0 {
		size = min(segChunkMax, 2*cap(b.chunks[k-1]))
	}
	b.chunks = append(b.chunks, pages.Make[byte](max(size, n))[:0])
	return &b.chunks[b.cur]
}

// AddReject appends a malformed record, quarantined in settlement day d:
// the day of r.Time on the partition's calendar, or [settlement.Undated] when r has no
// time (or there is no calendar), as [settlement.Collector.Reject] places it. r is
// copied.
func (b *Builder) AddReject(r *transit.Reject, d transit.Day) {
	b.rejects = appendSegmentReject(b.rejects, r, d)
	b.nRejs++
	b.noteDay(d)
}

func (b *Builder) noteDay(d transit.Day) {
	b.days = addSegmentDay(b.days, d)
	b.lastDay, b.hasLast = d, true
}

// Rows returns the number of rows added since the last Reset.
func (b *Builder) Rows() int { return b.nRows }

// Rejects returns the number of rejects added since the last Reset.
func (b *Builder) Rejects() int { return b.nRejs }

// Days returns the distinct settlement days of the rows and rejects added,
// sorted ([settlement.Undated] first when an undated reject was added). The slice is
// the caller's.
func (b *Builder) Days() []transit.Day { return slices.Clone(b.days) }

// Size returns the segment's body length before any compression. Encode
// requires it to be at most [MaxSize]; a caller that may buffer
// that much should checkpoint on size as well as on time.
func (b *Builder) Size() int {
	n := len(b.rejects)
	for _, c := range b.chunks {
		n += len(c)
	}
	return n
}

// Encode appends the whole segment file to dst and returns the extended
// slice. The builder is unchanged, so Encode may be called again; the same
// rows and rejects always give the same bytes. It allocates only when dst
// lacks capacity: reusing the previous segment's buffer, dst[:0], keeps a
// checkpoint free of allocations. WriteTo writes the same bytes without
// assembling them.
//
// Encode panics if Size() exceeds MaxSize: that is a caller that
// never checkpoints, and a segment that large could not be read back.
func (b *Builder) Encode(dst []byte) []byte {
	b.checkSize()
	f := b.format()
	if f.compressed() {
		return appendSegment(dst, f, b.nRows, b.nRejs, b.days, b.flatBody())
	}
	dst = pages.Grow(dst, segHeaderLen(len(b.days))+b.Size()+segTrailerSize)
	_ = b.storedPieces(func(p []byte) error { // appending cannot fail
		dst = append(dst, p...)
		return nil
	})
	return dst
}

// WriteTo writes the segment file that Encode would return to w. A stored
// body goes out chunk by chunk as it was built, so the stream never holds
// a second copy of a segment; a compressed one is encoded first.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	b.checkSize()
	if b.format().compressed() {
		b.out = b.Encode(b.out[:0])
		n, err := w.Write(b.out)
		return int64(n), err
	}
	var total int64
	err := b.storedPieces(func(p []byte) error {
		n, err := w.Write(p)
		total += int64(n)
		return err
	})
	return total, err
}

// storedPieces hands emit a stored segment file piece by piece, in order:
// the header, the chunks and the rejects as built, the trailer. It stops
// at emit's first error.
func (b *Builder) storedPieces(emit func([]byte) error) error {
	size, hdrLen := b.Size(), segHeaderLen(len(b.days))
	b.out = slices.Grow(b.out[:0], hdrLen)[:hdrLen]
	putSegmentHeader(b.out, b.format(), b.nRows, b.nRejs, b.days, size, size)
	if err := emit(b.out); err != nil {
		return err
	}
	var crc uint32
	body := func(p []byte) error {
		if len(p) == 0 {
			return nil
		}
		crc = crc32.Update(crc, segCRCTable, p)
		return emit(p)
	}
	for _, c := range b.chunks {
		if err := body(c); err != nil {
			return err
		}
	}
	if err := body(b.rejects); err != nil {
		return err
	}
	b.out = appendSegmentTrailer(b.out[:0], crc)
	return emit(b.out)
}

// checkSize panics if the segment is larger than a reader accepts (see
// Encode).
func (b *Builder) checkSize() {
	if n := b.Size(); n > MaxSize {
		panic(fmt.Sprintf("segment.Builder.Encode: %d bytes of rows and rejects, at most %d per segment", n, MaxSize))
	}
}

// flatBody returns the rows and rejects in one piece, as a compressor
// needs them: the only chunk in use as it is, otherwise a copy into a
// buffer the builder keeps.
func (b *Builder) flatBody() []byte {
	// Chunks past cur are empty: with cur at 0 the rows are all in the
	// first.
	if len(b.rejects) == 0 && b.cur == 0 {
		if len(b.chunks) == 0 {
			return nil
		}
		return b.chunks[0]
	}
	b.flat = pages.Grow(b.flat[:0], b.Size())
	for _, c := range b.chunks {
		b.flat = append(b.flat, c...)
	}
	b.flat = append(b.flat, b.rejects...)
	return b.flat
}

// format returns the format Encode writes.
func (b *Builder) format() segFormat {
	if b.Compress {
		return segFormat{version: segmentVersion, codec: segCodecS2}
	}
	return segFormat{version: segmentVersion, codec: segCodecStored}
}

// Reset empties the builder for the next segment, keeping its buffers.
func (b *Builder) Reset() {
	for i := range b.chunks {
		b.chunks[i] = b.chunks[i][:0]
	}
	b.cur = 0
	b.rejects = b.rejects[:0]
	b.nRows, b.nRejs = 0, 0
	b.days = b.days[:0]
	b.hasLast = false
}
