package segment

import (
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// Info describes a segment that Read read in full.
type Info struct {
	Rows, Rejects int
	// Days are the distinct settlement days of the rows and rejects,
	// sorted ([settlement.Undated] first when present).
	Days []transit.Day
	// Sum is the SHA-256 of the file's bytes, for a manifest of the
	// segments merged into a day.
	Sum [32]byte
}

// segmentHeader is the parsed and checked frame of a segment.
type segmentHeader struct {
	segFormat
	rows, rejects int
	days          []transit.Day
	rawLen        int
	body          []byte
	bodyOff       int
}

// Read decodes a whole segment: it calls row for each row and rej
// for each reject, in the order they were added to the builder (all rows
// first, then all rejects), and returns what the segment holds. A nil
// callback skips those records. The *transit.Priced and *transit.Reject
// passed are valid only during the call: copy what you keep. dated is
// false exactly when day is [settlement.Undated].
//
// Read checks everything before it calls anything: the magic, the
// version, both checksums, the lengths, every record's bounds and
// enumerations, and that the header's days are those of the records. So a
// segment that is damaged, truncated or extended in any byte yields a
// *Error (wrapping ErrCorrupt, or ErrVersion for a
// layout this build does not know) and no callback at all: the caller
// never sees part of a bad segment. An error returned by a callback stops
// the read and is returned wrapped, with the record's index. Read
// never panics, whatever data holds.
func Read(data []byte, row func(*transit.Priced) error, rej func(r *transit.Reject, day transit.Day, dated bool) error) (Info, error) {
	var r Reader
	info, err := r.Read(data, row, rej)
	if err == nil {
		info.Sum = sha256.Sum256(data)
	}
	return info, err
}

// Reader reads segments as Read does, keeping its buffers
// from one segment to the next: a day close reads hundreds of segments of
// megabytes each, and fresh buffers for every one are garbage and, on
// some machines, mostly page faults. The zero value is ready to use; a
// Reader is not safe for concurrent use.
type Reader struct {
	raw     []byte
	rejects []transit.Reject
	rejDays []transit.Day
}

// Read is Read with the reader's buffers, except that it leaves
// Info.Sum zero: a caller that checks the file's SHA-256 against a
// list already has it.
func (sr *Reader) Read(data []byte, row func(*transit.Priced) error, rej func(r *transit.Reject, day transit.Day, dated bool) error) (Info, error) {
	h, serr := parseSegmentHeader(data)
	if serr != nil {
		return Info{}, serr
	}
	raw := h.body
	if h.compressed() {
		if raw, serr = decompressSegmentBody(&h, sr.raw); serr != nil {
			return Info{}, serr
		}
		sr.raw = raw
	}

	// First pass: check every record and collect the days.
	var days []transit.Day
	var p transit.Priced
	off := 0
	for i := 0; i < h.rows; i++ {
		last := p.Day
		n, why := decodeSegmentRow(raw[off:], &p, h.version)
		if why != "" {
			return Info{}, segmentBodyCorrupt(off, "row %d: %s", i, why)
		}
		if i == 0 || p.Day != last {
			days = addSegmentDay(days, p.Day)
		}
		off += n
	}
	rejects := slices.Grow(sr.rejects[:0], h.rejects)[:h.rejects]
	rejDays := slices.Grow(sr.rejDays[:0], h.rejects)[:h.rejects]
	sr.rejects, sr.rejDays = rejects, rejDays
	for i := range rejects {
		n, d, at, why := decodeSegmentReject(raw[off:], &rejects[i])
		if why != "" {
			return Info{}, segmentBodyCorrupt(off+at, "reject %d: %s", i, why)
		}
		rejDays[i] = d
		days = addSegmentDay(days, d)
		off += n
	}
	if off != len(raw) {
		return Info{}, segmentBodyCorrupt(off, "%d bytes after the last reject", len(raw)-off)
	}
	if !slices.Equal(days, h.days) {
		return Info{}, segmentCorrupt(segFixedHeader, "header lists days %v, the records have %v", h.days, days)
	}

	// Second pass: hand the records over.
	if row != nil {
		off := 0
		for i := 0; i < h.rows; i++ {
			n, _ := decodeSegmentRow(raw[off:], &p, h.version) // checked above
			off += n
			if err := row(&p); err != nil {
				return Info{}, fmt.Errorf("segment row %d: %w", i, err)
			}
		}
	}
	if rej != nil {
		for i := range rejects {
			if err := rej(&rejects[i], rejDays[i], rejDays[i] != settlement.Undated); err != nil {
				return Info{}, fmt.Errorf("segment reject %d: %w", i, err)
			}
		}
	}
	clear(rejects) // drop the strings for the garbage collector
	return Info{Rows: h.rows, Rejects: h.rejects, Days: h.days}, nil
}

// parseSegmentHeader checks the frame of a segment: magic, version, header
// checksum, lengths, trailer and body checksum. It allocates only the
// days.
func parseSegmentHeader(data []byte) (segmentHeader, *Error) {
	var h segmentHeader
	if len(data) < len(segmentMagic) || string(data[:len(segmentMagic)]) != segmentMagic {
		return h, segmentCorrupt(0, "not a segment: no magic number")
	}
	if len(data) < segFixedHeader {
		return h, segmentCorrupt(len(data), "truncated: %d bytes, the header alone is %d", len(data), segFixedHeader)
	}
	h.version = segLE.Uint16(data[segOffVersion:])
	if h.version != segmentVersion && h.version != segmentVersionV2 {
		return h, &Error{Offset: segOffVersion, Err: ErrVersion,
			Reason: fmt.Sprintf("segment version %d; this build reads versions %d and %d", h.version, segmentVersionV2, segmentVersion)}
	}
	h.codec = segLE.Uint16(data[segOffCodec:])
	if h.codec != segCodecStored && h.codec != segCodecS2 {
		return h, segmentCorrupt(segOffCodec, "unknown body codec %d", h.codec)
	}
	nDays := uint64(segLE.Uint32(data[segOffDayCount:]))
	if uint64(len(data)) < uint64(segMinSize)+4*nDays {
		return h, segmentCorrupt(segOffDayCount, "%d days do not fit in a %d-byte segment", nDays, len(data))
	}
	hdrLen := segFixedHeader + 4*int(nDays) + 4
	if got, want := crc32.Checksum(data[:hdrLen-4], segCRCTable), segLE.Uint32(data[hdrLen-4:]); got != want {
		return h, segmentCorrupt(hdrLen-4, "header checksum %08x, computed %08x", want, got)
	}
	// The header is intact: from here on its values are what the writer
	// wrote, and a disagreement with the file's length is a truncation or
	// an extension.
	bodyLen := uint64(segLE.Uint32(data[segOffBodyLen:]))
	if want := uint64(hdrLen) + bodyLen + uint64(segTrailerSize); uint64(len(data)) != want {
		if uint64(len(data)) < want {
			return h, segmentCorrupt(len(data), "truncated: %d bytes, the header says %d", len(data), want)
		}
		return h, segmentCorrupt(int(want), "%d bytes after the end of the segment", uint64(len(data))-want)
	}
	tail := data[len(data)-segTrailerSize:]
	if string(tail[4:]) != segmentEndMagic {
		return h, segmentCorrupt(len(data)-len(segmentEndMagic), "no end magic number")
	}
	h.bodyOff = hdrLen
	h.body = data[hdrLen : hdrLen+int(bodyLen)]
	if got, want := crc32.Checksum(h.body, segCRCTable), segLE.Uint32(tail); got != want {
		return h, segmentCorrupt(len(data)-segTrailerSize, "body checksum %08x, computed %08x", want, got)
	}

	rows := uint64(segLE.Uint32(data[segOffRows:]))
	rejects := uint64(segLE.Uint32(data[segOffRejects:]))
	rawLen := uint64(segLE.Uint32(data[segOffRawLen:]))
	if rawLen > MaxSize {
		return h, segmentCorrupt(segOffRawLen, "body of %d bytes, at most %d", rawLen, MaxSize)
	}
	rowMin := uint64(segCompactRowMin)
	if h.version == segmentVersionV2 {
		rowMin = segCompactRowMinV2
	}
	if least := rows*rowMin + rejects*segRejMinSize; rawLen < least {
		return h, segmentCorrupt(segOffRawLen, "body of %d bytes cannot hold %d rows and %d rejects", rawLen, rows, rejects)
	}
	if !h.compressed() && rawLen != bodyLen {
		return h, segmentCorrupt(segOffRawLen, "stored body of %d bytes, the header says %d once decoded", bodyLen, rawLen)
	}
	if nDays > rows+rejects {
		return h, segmentCorrupt(segOffDayCount, "%d days for %d records", nDays, rows+rejects)
	}
	h.rows, h.rejects, h.rawLen = int(rows), int(rejects), int(rawLen)
	h.days = make([]transit.Day, nDays)
	for i := range h.days {
		h.days[i] = transit.Day(segLE.Uint32(data[segFixedHeader+4*i:]))
		if i > 0 && h.days[i] <= h.days[i-1] {
			return h, segmentCorrupt(segFixedHeader+4*i, "days not in ascending order")
		}
	}
	return h, nil
}

// compressed reports whether the body is an S2 block.
func (f segFormat) compressed() bool { return f.codec == segCodecS2 }

// decompressSegmentBody returns the body, decompressed and of the length
// the header gives.
func decompressSegmentBody(h *segmentHeader, buf []byte) ([]byte, *Error) {
	n, err := s2.DecodedLen(h.body)
	if err != nil || n != h.rawLen {
		return nil, segmentCorrupt(h.bodyOff, "body block is not %d bytes of S2", h.rawLen)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	raw, err := s2.Decode(buf[:n], h.body)
	if err != nil {
		return nil, segmentCorrupt(h.bodyOff, "body does not decompress: %v", err)
	}
	return raw, nil
}
