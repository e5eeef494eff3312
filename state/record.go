package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/tapsettle/tapsettle/internal/pages"
)

// On-disk format of a local partition log (all integers little-endian):
//
//	file header, 16 bytes:
//	  magic "tapstate" (8) | format version uint32 (=1) | CRC-32C of the previous 12 bytes
//	then records, each:
//	  payload length uint32 | CRC-32C of payload uint32 | CRC-32C of the previous 8 bytes uint32 | payload
//
// The frame header carries its own checksum so that a damaged length field
// is recognised as damage rather than trusted: without it a flipped high bit
// in the length of a record in the middle of the log would point past the end
// of the file and look exactly like a torn tail, and the recovery would
// silently cut off every record after it.
//
// Payload, version 1 (uvarint = encoding/binary unsigned varint, varint =
// zig-zag signed varint, bytes = uvarint length then the bytes):
//
//	version byte (=1) | flags byte (bit 0: Full; others must be 0) |
//	seq uvarint | offset varint | meta bytes |
//	card count uvarint, then per card: key bytes, value bytes |
//	drop count uvarint, then per drop: name bytes |
//	append count uvarint, then per append: list name bytes, blob bytes
//
// A reader refuses versions and flags it does not know (ErrCorrupt names
// them), so a newer writer's log is never misread by an older binary.
const (
	fileMagic        = "tapstate"
	fileVersion      = 1
	fileHeaderLen    = 16
	frameHeaderLen   = 12
	payloadVersion1  = 1
	flagFull         = 1
	knownFlags       = flagFull
	minPayloadLen    = 8       // version, flags, then six one-byte varints: seq, offset, meta length, three counts
	maxRecordPayload = 1 << 30 // 1 GiB: far above any real checkpoint, well inside uint32 and int on 32-bit
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTruncatedPayload and errTrailingBytes are the decoder's reasons; they are wrapped
// into a *CorruptError by the log reader, which knows the file and offset.
var (
	errTruncatedPayload = errors.New("payload ends inside a field")
	errTrailingBytes    = errors.New("payload has trailing bytes")
)

// appendFileHeader appends the 16-byte log file header to dst.
func appendFileHeader(dst []byte) []byte {
	dst = append(dst, fileMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, fileVersion)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[len(dst)-12:], castagnoli))
}

// checkFileHeader returns why h (at least fileHeaderLen bytes) is not a
// header this code can read, or nil.
func checkFileHeader(h []byte) error {
	if len(h) < fileHeaderLen {
		return fmt.Errorf("file header is %d bytes, want %d", len(h), fileHeaderLen)
	}
	if string(h[:8]) != fileMagic {
		return fmt.Errorf("bad magic %q", h[:8])
	}
	if crc32.Checksum(h[:12], castagnoli) != binary.LittleEndian.Uint32(h[12:16]) {
		return errors.New("file header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(h[8:12]); v != fileVersion {
		return fmt.Errorf("unsupported log format version %d (this build reads %d)", v, fileVersion)
	}
	return nil
}

// appendRecord appends cp as one framed record to dst. It grows dst once and
// allocates nothing else, so a reused buffer makes Commit allocation-free.
func appendRecord(dst []byte, cp *Checkpoint) []byte {
	// A checkpoint record is megabytes: see pages.Grow.
	dst = pages.Grow(dst, frameHeaderLen+payloadSize(cp))
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderLen)...)
	dst = appendPayload(dst, cp)
	payload := dst[start+frameHeaderLen:]
	h := dst[start : start+frameHeaderLen]
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(payload, castagnoli))
	binary.LittleEndian.PutUint32(h[8:12], crc32.Checksum(h[0:8], castagnoli))
	return dst
}

// frameHeader is a decoded, self-checked frame header.
type frameHeader struct {
	length uint32 // payload length
	crc    uint32 // CRC-32C of the payload
}

// parseFrameHeader decodes h (frameHeaderLen bytes). ok is false when the
// header's own checksum fails or the length is impossible for a writer of
// this format (zero-filled space, garbage or damage).
func parseFrameHeader(h []byte) (fh frameHeader, ok bool) {
	if len(h) < frameHeaderLen || crc32.Checksum(h[0:8], castagnoli) != binary.LittleEndian.Uint32(h[8:12]) {
		return fh, false
	}
	fh = frameHeader{length: binary.LittleEndian.Uint32(h[0:4]), crc: binary.LittleEndian.Uint32(h[4:8])}
	if fh.length < minPayloadLen || fh.length > maxRecordPayload {
		return fh, false
	}
	return fh, true
}

// payloadOK reports whether payload matches the header's checksum.
func (fh frameHeader) payloadOK(payload []byte) bool {
	return crc32.Checksum(payload, castagnoli) == fh.crc
}

// payloadSize is the exact encoded size of cp's payload.
func payloadSize(cp *Checkpoint) int {
	n := 2 + uvarintLen(cp.Seq) + uvarintLen(zigzag(cp.Offset)) + bytesLen(len(cp.Meta))
	n += uvarintLen(uint64(len(cp.Cards)))
	for i := range cp.Cards {
		n += bytesLen(len(cp.Cards[i].Key)) + bytesLen(len(cp.Cards[i].Value))
	}
	n += uvarintLen(uint64(len(cp.Drops)))
	for _, d := range cp.Drops {
		n += bytesLen(len(d))
	}
	n += uvarintLen(uint64(len(cp.Appends)))
	for i := range cp.Appends {
		n += bytesLen(len(cp.Appends[i].List)) + bytesLen(len(cp.Appends[i].Blob))
	}
	return n
}

func appendPayload(dst []byte, cp *Checkpoint) []byte {
	var flags byte
	if cp.Full {
		flags |= flagFull
	}
	dst = append(dst, payloadVersion1, flags)
	dst = binary.AppendUvarint(dst, cp.Seq)
	dst = binary.AppendVarint(dst, cp.Offset)
	dst = appendBytes(dst, cp.Meta)
	dst = binary.AppendUvarint(dst, uint64(len(cp.Cards)))
	for i := range cp.Cards {
		dst = appendBytes(dst, cp.Cards[i].Key)
		dst = appendBytes(dst, cp.Cards[i].Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(cp.Drops)))
	for _, d := range cp.Drops {
		dst = appendString(dst, d)
	}
	dst = binary.AppendUvarint(dst, uint64(len(cp.Appends)))
	for i := range cp.Appends {
		dst = appendString(dst, cp.Appends[i].List)
		dst = appendBytes(dst, cp.Appends[i].Blob)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func bytesLen(n int) int { return uvarintLen(uint64(n)) + n }

// decodePayload decodes payload into cp, reusing cp's slices. Byte fields
// alias payload (no copy); list names are strings and so are copied. It never
// panics: every length is checked against what is left, and counts are
// bounded by the bytes that could hold them before anything is allocated.
func decodePayload(payload []byte, cp *Checkpoint) error {
	d := decoder{b: payload}
	version, flags := d.byte(), d.byte()
	if d.err != nil {
		return d.err
	}
	if version != payloadVersion1 {
		return fmt.Errorf("unsupported record version %d (this build reads %d)", version, payloadVersion1)
	}
	if flags&^knownFlags != 0 {
		return fmt.Errorf("unknown record flags %#x", flags)
	}
	*cp = Checkpoint{Cards: cp.Cards[:0], Drops: cp.Drops[:0], Appends: cp.Appends[:0]}
	cp.Full = flags&flagFull != 0
	cp.Seq = d.uvarint()
	cp.Offset = d.varint()
	cp.Meta = d.bytes()
	// Each card needs at least two length bytes, each drop one, each append two.
	if n := d.count(2); n > 0 {
		cp.Cards = slices.Grow(cp.Cards, n)
		for range n {
			cp.Cards = append(cp.Cards, KV{Key: d.bytes(), Value: d.bytes()})
		}
	}
	if n := d.count(1); n > 0 {
		cp.Drops = slices.Grow(cp.Drops, n)
		for range n {
			cp.Drops = append(cp.Drops, string(d.bytes()))
		}
	}
	if n := d.count(2); n > 0 {
		cp.Appends = slices.Grow(cp.Appends, n)
		for range n {
			cp.Appends = append(cp.Appends, Append{List: string(d.bytes()), Blob: d.bytes()})
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return errTrailingBytes
	}
	return nil
}

// decoder reads fields from a byte slice; after the first error every read
// returns zero values and err keeps that first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errTruncatedPayload
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads an element count and rejects one that the remaining bytes
// could not hold at minBytes per element, so a forged count cannot make the
// decoder allocate gigabytes.
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minBytes) {
		d.fail()
		return 0
	}
	return int(n)
}
