package segment

import (
	"encoding/binary"
	"hash/crc32"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/internal/varint"
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

// segmentVersion is the layout version written. Any change to the header,
// the trailer or the records is a new version; a reader refuses versions
// it does not know with ErrVersion. Version 3 added the row's ref_day (an
// adjustment's) and the adjustment status.
const segmentVersion = 3

// segmentVersionV2 is the oldest version read: a running stream's
// committed segments of an open day are read again by the build that
// replaces it, so a build reads its predecessor's segments. Its rows have
// no ref_day (0) and no adjustments.
const segmentVersionV2 = 2

// Header field offsets. The fixed part is followed by day_count days (int32
// each) and the header CRC.
const (
	segOffVersion  = 8  // uint16
	segOffCodec    = 10 // uint16: how the body is stored (segCodec*)
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

// MaxSize bounds a segment's body before compression: 1 GiB. A checkpoint is orders of magnitude smaller; the bound
// keeps a reader from being asked for an unbounded buffer, and keeps every
// length within the header's 32-bit fields.
const MaxSize = 1 << 30

// The body codecs.
const (
	// segCodecStored: the body is stored as it is; raw_len equals
	// body_len.
	segCodecStored = 0
	// segCodecS2: the body is one S2 block.
	segCodecS2 = 1
)

// segCRCTable is CRC-32C, which amd64 and arm64 compute in hardware.
var segCRCTable = crc32.MakeTable(crc32.Castagnoli)

// The reject record: a fixed part, then four strings, each a uint32 length
// and its bytes. Rejects are rare, so the record favours simplicity.
const (
	segRejDay    = 0  // int32; settlement.Undated for a reject without a settlement day
	segRejFlags  = 4  // uint8: bit 0 is Reject.HasTime; other bits zero
	segRejLine   = 5  // int64
	segRejTime   = 13 // int64 Unix nanoseconds
	segRejFixed  = 21
	segRejStrMin = 4 * 4 // four empty strings
	// segRejMinSize is the smallest reject record.
	segRejMinSize = segRejFixed + segRejStrMin

	segRejHasTime = 1
)

// segCompactRowMin is the smallest row record: a compact tap
// of one-byte identifiers (8 bytes of time, three one-byte varints, three
// enumerations, five length bytes and two identifier bytes), then a
// one-byte day, status, reason, one-byte rules, six one-byte amounts, an
// empty entry stop, a one-byte entry time and a one-byte ref_day.
const segCompactRowMin = segCompactRowMinV2 + 1

// segCompactRowMinV2 is segCompactRowMin of version 2, which had no
// ref_day.
const segCompactRowMinV2 = 8 + 3 + 3 + 5 + 2 + 1 + 2 + 1 + 6 + 1 + 1

// segCompactRowMax is the largest row record: every varint
// at its longest, every identifier at its maximum length.
const segCompactRowMax = 8 + 3*binary.MaxVarintLen32 + 3 + 5 + transit.MaxTapID + transit.MaxCardID + 2*transit.MaxCode + transit.MaxDeviceID +
	binary.MaxVarintLen32 + 2 + binary.MaxVarintLen32 + 6*binary.MaxVarintLen64 + 1 + transit.MaxCode + binary.MaxVarintLen64 +
	binary.MaxVarintLen32

var segLE = binary.LittleEndian

// appendSegmentRow appends r's row record: the tap's compact form
// (Tap.AppendCompact), then the verdict: the day, the rules and the six
// amounts as varints (zig-zag for the signed), status and reason as a byte
// each, the entry stop as a length byte and its bytes, the entry time and
// the ref_day as zig-zag varints. No field is padded, which leaves a
// compressor little to do.
func appendSegmentRow(b []byte, r *transit.Priced) []byte {
	b = r.Tap.AppendCompact(b)
	b = binary.AppendVarint(b, int64(r.Day))
	b = append(b, byte(r.Status), byte(r.Reason))
	b = binary.AppendUvarint(b, uint64(r.Rules))
	for _, v := range [...]transit.Fen{r.Gross, r.Discount, r.Charged, r.ProductDiscount, r.TransferDiscount, r.CapDiscount} {
		b = binary.AppendVarint(b, int64(v))
	}
	stop := r.EntryStop.Bytes()
	b = append(b, byte(len(stop)))
	b = append(b, stop...)
	b = binary.AppendVarint(b, r.EntryTime)
	return binary.AppendVarint(b, int64(r.RefDay))
}

// decodeSegmentRow reads a row record of the given segment version from
// the start of b and returns its length, or 0 and what is wrong. It
// accepts exactly what appendSegmentRow writes for a row the engine can
// produce (identifiers valid, varints shortest, enumerations in range,
// amounts signed as the status allows), so a row of the current version
// read back is written again byte for byte. A version-2 row has no
// ref_day.
func decodeSegmentRow(b []byte, r *transit.Priced, version uint16) (int, string) {
	rest, err := r.Tap.DecodeCompact(b)
	if err != nil {
		return 0, "tap: " + err.Error()
	}
	day, rest, err := varint.Int32(rest)
	if err != nil || len(rest) < 2 {
		return 0, "day: truncated or not a shortest varint"
	}
	r.Day = transit.Day(day)
	r.Status, r.Reason = transit.Status(rest[0]), transit.Reason(rest[1])
	rules, rest, err := varint.Uint32(rest[2:])
	if err != nil {
		return 0, "rules: truncated or not a shortest varint"
	}
	r.Rules = transit.Rules(rules)
	for _, dst := range [...]*transit.Fen{&r.Gross, &r.Discount, &r.Charged, &r.ProductDiscount, &r.TransferDiscount, &r.CapDiscount} {
		var v int64
		if v, rest, err = varint.Varint(rest); err != nil {
			return 0, "amount: truncated or not a shortest varint"
		}
		*dst = transit.Fen(v)
	}
	if len(rest) < 1 || int(rest[0]) > len(rest)-1 || int(rest[0]) > len(r.EntryStop) {
		return 0, "entry stop truncated or too long"
	}
	n := int(rest[0])
	if r.EntryStop.Set(rest[1:1+n]) != nil {
		return 0, "entry stop is not a valid code"
	}
	rest = rest[1+n:]
	if r.EntryTime, rest, err = varint.Varint(rest); err != nil {
		return 0, "entry time: truncated or not a shortest varint"
	}
	r.RefDay = 0
	if version > segmentVersionV2 {
		refDay, more, err := varint.Int32(rest)
		if err != nil {
			return 0, "ref_day: truncated or not a shortest varint"
		}
		r.RefDay, rest = transit.Day(refDay), more
	}
	if why := checkVerdict(r, version); why != "" {
		return 0, why
	}
	return len(b) - len(rest), ""
}

// checkVerdict refuses enumerations out of range and amounts signed
// against the status: the engine cannot produce them, so they mean a
// writer bug or a forged file. Only an adjustment (version 3 on) has a
// ref_day, on or before its day, and amounts that may be negative, all
// of one sign.
func checkVerdict(r *transit.Priced, version uint16) string {
	statuses := transit.Status(transit.NumStatuses)
	if version == segmentVersionV2 {
		statuses = transit.StatusAdjustment
	}
	adj := r.Status == transit.StatusAdjustment
	neg := r.Gross < 0 || r.Discount < 0 || r.Charged < 0 || r.ProductDiscount < 0 || r.TransferDiscount < 0 || r.CapDiscount < 0
	pos := r.Gross > 0 || r.Discount > 0 || r.Charged > 0 || r.ProductDiscount > 0 || r.TransferDiscount > 0 || r.CapDiscount > 0
	switch {
	case r.Status >= statuses:
		return "status out of range"
	case !adj && r.RefDay != 0:
		return "a ref_day on a row that is not an adjustment"
	case adj && (r.RefDay <= 0 || r.RefDay > r.Day):
		return "an adjustment's ref_day is not a day on or before its own"
	case !adj && neg:
		return "a negative amount on a row that is not an adjustment"
	case neg && pos:
		return "an adjustment's amounts mix signs"
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

// segFormat is how a segment is written: its version and its body codec.
type segFormat struct {
	version uint16
	codec   uint16
}

// appendSegment appends a whole segment file in format f: the header for
// the given counts and days, raw as the body (stored, or compressed as one
// S2 block), and the trailer. It allocates only when dst lacks capacity.
func appendSegment(dst []byte, f segFormat, rows, rejects int, days []transit.Day, raw []byte) []byte {
	hdrLen := segHeaderLen(len(days))
	compress := f.codec == segCodecS2
	maxBody := len(raw)
	if compress {
		maxBody = s2.MaxEncodedLen(len(raw))
	}
	start := len(dst)
	dst = pages.Grow(dst, hdrLen+maxBody+segTrailerSize)
	dst = dst[:start+hdrLen]
	var body []byte
	if compress {
		// s2.Encode writes into its dst when the capacity suffices, which
		// the growth above guarantees: the block lands right behind the
		// header.
		body = s2.Encode(dst[start+hdrLen:start+hdrLen+maxBody], raw)
	} else {
		body = append(dst[start+hdrLen:], raw...)
	}
	dst = dst[:start+hdrLen+len(body)]
	putSegmentHeader(dst[start:start+hdrLen], f, rows, rejects, days, len(raw), len(body))
	return appendSegmentTrailer(dst, crc32.Checksum(body, segCRCTable))
}

// segHeaderLen is the length of the header of a segment listing days
// days: the fixed part, the days, the header's CRC-32C.
func segHeaderLen(days int) int { return segFixedHeader + 4*days + 4 }

// putSegmentHeader writes the header into h (segHeaderLen(len(days))
// bytes) for a body of rawLen bytes, stored in bodyLen.
func putSegmentHeader(h []byte, f segFormat, rows, rejects int, days []transit.Day, rawLen, bodyLen int) {
	copy(h, segmentMagic)
	segLE.PutUint16(h[segOffVersion:], f.version)
	segLE.PutUint16(h[segOffCodec:], f.codec)
	segLE.PutUint32(h[segOffRows:], uint32(rows))
	segLE.PutUint32(h[segOffRejects:], uint32(rejects))
	segLE.PutUint32(h[segOffDayCount:], uint32(len(days)))
	segLE.PutUint32(h[segOffRawLen:], uint32(rawLen))
	segLE.PutUint32(h[segOffBodyLen:], uint32(bodyLen))
	for i, d := range days {
		segLE.PutUint32(h[segFixedHeader+4*i:], uint32(d))
	}
	n := len(h) - 4
	segLE.PutUint32(h[n:], crc32.Checksum(h[:n], segCRCTable))
}

// appendSegmentTrailer appends the trailer: the body's CRC-32C, the end
// magic.
func appendSegmentTrailer(dst []byte, bodyCRC uint32) []byte {
	dst = segLE.AppendUint32(dst, bodyCRC)
	return append(dst, segmentEndMagic...)
}
