package settlement

import (
	"encoding/binary"
	"hash/crc32"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/transit"
)

// A segment is one checkpoint's output of a streaming partition: the rows
// priced and the malformed records quarantined since the previous
// checkpoint, in one immutable file. docs/segment-format.md specifies the
// layout; the constants below are its single source in code.
//
//	header   magic, version, row size, counts, body lengths, days, CRC-32C
//	body     one S2 block: the row records, then the reject records
//	trailer  CRC-32C of the body, end magic
//
// Every integer is little-endian. Every byte of the file is covered by a
// check (a literal magic, the header CRC, the body CRC), so any change to
// a byte, a truncation or an appended byte is refused, never misread.

// segmentMagic opens every segment. As in PNG, the first byte is not ASCII
// (a transfer that strips the eighth bit is caught) and CR LF follows the
// name (a text-mode line-ending conversion is caught).
const segmentMagic = "\x89TSSEG\r\n"

// segmentEndMagic closes every segment, so a torn write (a writer that
// died before the last byte) is recognisable from the file's tail alone.
const segmentEndMagic = "TSSEGEND"

// segmentVersion is the layout version. Any change to the header, the
// trailer, the row or reject records, or the codec is a new version; a
// reader refuses versions it does not know with ErrSegmentVersion.
const segmentVersion = 1

// Header field offsets. The fixed part is followed by day_count days (int32
// each) and the header CRC.
const (
	segOffVersion  = 8  // uint16
	segOffRowSize  = 10 // uint16: segmentRowSize, a guard against a layout change without a version change
	segOffRows     = 12 // uint32: row records in the body
	segOffRejects  = 16 // uint32: reject records in the body
	segOffDayCount = 20 // uint32: days listed in the header
	segOffRawLen   = 24 // uint32: body length once decompressed
	segOffBodyLen  = 28 // uint32: body length as stored (compressed)
	segFixedHeader = 32
	segTrailerSize = 4 + len(segmentEndMagic) // body CRC-32C, end magic
	// segMinSize is the size of an empty segment's frame around its body.
	segMinSize = segFixedHeader + 4 + segTrailerSize
)

// MaxSegmentSize bounds a segment's body before compression: 1 GiB, about
// 4.7 million rows. A checkpoint is orders of magnitude smaller; the bound
// keeps a reader from being asked for an unbounded buffer, and keeps every
// length within the header's 32-bit fields.
const MaxSegmentSize = 1 << 30

// segCRCTable is CRC-32C, which amd64 and arm64 compute in hardware.
var segCRCTable = crc32.MakeTable(crc32.Castagnoli)

// The row record: transit.Tap's fixed-size binary form (Tap.AppendBinary),
// then the verdict. Identifiers keep their
// NUL-padded fixed width: the record has one layout whatever the values,
// and the compressor removes the padding.
const (
	segRowDay       = transit.TapBinarySize // int32
	segRowStatus    = segRowDay + 4         // uint8
	segRowReason    = segRowStatus + 1      // uint8
	segRowRules     = segRowReason + 1      // uint32
	segRowAmounts   = segRowRules + 4       // 6 x int64 fen: gross, discount, charged, product, transfer, cap
	segRowEntryStop = segRowAmounts + 6*8   // [transit.MaxCode]byte
	segRowEntryTime = segRowEntryStop + transit.MaxCode
	segmentRowSize  = segRowEntryTime + 8
)

// The reject record: a fixed part, then four strings, each a uint32 length
// and its bytes. Rejects are rare, so the record favours simplicity.
const (
	segRejDay    = 0  // int32; Undated for a reject without a settlement day
	segRejFlags  = 4  // uint8: bit 0 is Reject.HasTime; other bits zero
	segRejLine   = 5  // int64
	segRejTime   = 13 // int64 Unix nanoseconds
	segRejFixed  = 21
	segRejStrMin = 4 * 4 // four empty strings
	// segRejMinSize is the smallest reject record.
	segRejMinSize = segRejFixed + segRejStrMin

	segRejHasTime = 1
)

var segLE = binary.LittleEndian

// appendSegmentRow appends r's row record (segmentRowSize bytes).
func appendSegmentRow(b []byte, r *transit.Priced) []byte {
	b = r.Tap.AppendBinary(b)
	b = segLE.AppendUint32(b, uint32(r.Day))
	b = append(b, byte(r.Status), byte(r.Reason))
	b = segLE.AppendUint32(b, uint32(r.Rules))
	b = segLE.AppendUint64(b, uint64(r.Gross))
	b = segLE.AppendUint64(b, uint64(r.Discount))
	b = segLE.AppendUint64(b, uint64(r.Charged))
	b = segLE.AppendUint64(b, uint64(r.ProductDiscount))
	b = segLE.AppendUint64(b, uint64(r.TransferDiscount))
	b = segLE.AppendUint64(b, uint64(r.CapDiscount))
	b = append(b, r.EntryStop[:]...)
	return segLE.AppendUint64(b, uint64(r.EntryTime))
}

// decodeSegmentRow reads the row record at the start of b, which holds at
// least segmentRowSize bytes. It refuses enumerations out of range (the
// engine cannot produce them, so they mean a writer bug or a forged file)
// and returns what is wrong, or "".
func decodeSegmentRow(b []byte, r *transit.Priced) string {
	b = b[:segmentRowSize]
	if r.Tap.DecodeBinary(b) != nil {
		return "tap mode, action or product out of range"
	}
	r.Day = transit.Day(segLE.Uint32(b[segRowDay:]))
	r.Status = transit.Status(b[segRowStatus])
	r.Reason = transit.Reason(b[segRowReason])
	r.Rules = transit.Rules(segLE.Uint32(b[segRowRules:]))
	a := b[segRowAmounts:]
	r.Gross = transit.Fen(segLE.Uint64(a))
	r.Discount = transit.Fen(segLE.Uint64(a[8:]))
	r.Charged = transit.Fen(segLE.Uint64(a[16:]))
	r.ProductDiscount = transit.Fen(segLE.Uint64(a[24:]))
	r.TransferDiscount = transit.Fen(segLE.Uint64(a[32:]))
	r.CapDiscount = transit.Fen(segLE.Uint64(a[40:]))
	copy(r.EntryStop[:], b[segRowEntryStop:])
	r.EntryTime = int64(segLE.Uint64(b[segRowEntryTime:]))
	switch {
	case r.Status >= transit.NumStatuses:
		return "status out of range"
	case r.Reason >= transit.NumReasons:
		return "reason out of range"
	case r.Rules&^transit.KnownRules != 0:
		return "unknown rule bits"
	}
	return ""
}

// appendSegmentReject appends r's reject record, in settlement day d.
func appendSegmentReject(b []byte, r *transit.Reject, d transit.Day) []byte {
	b = segLE.AppendUint32(b, uint32(d))
	var flags byte
	if r.HasTime {
		flags |= segRejHasTime
	}
	b = append(b, flags)
	b = segLE.AppendUint64(b, uint64(r.Line))
	b = segLE.AppendUint64(b, uint64(r.Time))
	for _, s := range [...]string{r.Source, r.Field, r.Reason, r.Raw} {
		b = segLE.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodeSegmentReject reads the reject record at the start of b and
// returns its length, or 0 and what is wrong. The reason's offset is
// relative to b.
func decodeSegmentReject(b []byte, r *transit.Reject) (n int, d transit.Day, off int, why string) {
	if len(b) < segRejMinSize {
		return 0, 0, 0, "reject record truncated"
	}
	d = transit.Day(segLE.Uint32(b[segRejDay:]))
	flags := b[segRejFlags]
	if flags&^segRejHasTime != 0 {
		return 0, 0, segRejFlags, "unknown reject flags"
	}
	*r = transit.Reject{
		Line:    int64(segLE.Uint64(b[segRejLine:])),
		Time:    int64(segLE.Uint64(b[segRejTime:])),
		HasTime: flags&segRejHasTime != 0,
	}
	n = segRejFixed
	for _, dst := range [...]*string{&r.Source, &r.Field, &r.Reason, &r.Raw} {
		if len(b)-n < 4 {
			return 0, 0, n, "reject record truncated"
		}
		l := uint64(segLE.Uint32(b[n:]))
		n += 4
		if l > uint64(len(b)-n) {
			return 0, 0, n - 4, "reject string runs past the body"
		}
		*dst = string(b[n : n+int(l)])
		n += int(l)
	}
	return n, d, 0, ""
}

// addSegmentDay inserts d into the sorted set days.
func addSegmentDay(days []transit.Day, d transit.Day) []transit.Day {
	i, found := slices.BinarySearch(days, d)
	if found {
		return days
	}
	return slices.Insert(days, i, d)
}

// appendSegment appends a whole segment file: the header for the given
// counts and days, raw compressed as one S2 block, and the trailer. It
// allocates only when dst lacks capacity.
func appendSegment(dst []byte, rows, rejects int, days []transit.Day, raw []byte) []byte {
	hdrLen := segFixedHeader + 4*len(days) + 4
	maxBody := s2.MaxEncodedLen(len(raw))
	start := len(dst)
	dst = pages.Grow(dst, hdrLen+maxBody+segTrailerSize)
	dst = dst[:start+hdrLen]
	// s2.Encode writes into its dst when the capacity suffices, which the
	// growth above guarantees: the block lands right behind the header.
	body := s2.Encode(dst[start+hdrLen:start+hdrLen+maxBody], raw)
	dst = dst[:start+hdrLen+len(body)]

	h := dst[start : start+hdrLen]
	copy(h, segmentMagic)
	segLE.PutUint16(h[segOffVersion:], segmentVersion)
	segLE.PutUint16(h[segOffRowSize:], segmentRowSize)
	segLE.PutUint32(h[segOffRows:], uint32(rows))
	segLE.PutUint32(h[segOffRejects:], uint32(rejects))
	segLE.PutUint32(h[segOffDayCount:], uint32(len(days)))
	segLE.PutUint32(h[segOffRawLen:], uint32(len(raw)))
	segLE.PutUint32(h[segOffBodyLen:], uint32(len(body)))
	for i, d := range days {
		segLE.PutUint32(h[segFixedHeader+4*i:], uint32(d))
	}
	segLE.PutUint32(h[hdrLen-4:], crc32.Checksum(h[:hdrLen-4], segCRCTable))
	dst = segLE.AppendUint32(dst, crc32.Checksum(body, segCRCTable))
	return append(dst, segmentEndMagic...)
}
