package settlement

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// RejectsHeader is the first line of rejects.csv. A record's raw bytes may
// hold anything, so text fields are escaped (see appendCSVField: the file
// is valid UTF-8 whatever arrived) and quoted as RFC 4180 says: a field
// holding ',', '"', CR or LF is enclosed in '"' with '"' doubled; other
// fields are written bare. A quoted field may span lines.
//
// The line column is where the record was read: the 1-based line of its
// source file for files, and the message's offset in its partition for a
// Kafka stream (whose source is "topic/partition").
const RejectsHeader = "source,line,field,reason,raw"

var rejectsFields = [...]string{"source", "line", "field", "reason", "raw"}

// maxRejectRecord bounds one rejects.csv record: Raw is cut to
// transit.MaxRejectRaw, and the other fields are short.
const maxRejectRecord = 64 << 10

// AppendRejectRow appends r as one rejects.csv record, newline included.
func AppendRejectRow(b []byte, r *transit.Reject) []byte {
	b = appendCSVField(b, r.Source)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Line, 10)
	b = append(b, ',')
	b = appendCSVField(b, r.Field)
	b = append(b, ',')
	b = appendCSVField(b, r.Reason)
	b = append(b, ',')
	b = appendCSVField(b, r.Raw)
	return append(b, '\n')
}

// appendCSVField appends s as one rejects.csv field: escaped so that
// whatever bytes arrived (binary garbage from a Kafka producer, a file in
// another encoding) the file stays valid UTF-8 CSV, then quoted as RFC
// 4180 says where it holds ',', '"' or LF.
//
// The escapes: a backslash is written "\\"; a byte that is not part of
// valid UTF-8, and a control character other than tab and LF (C0, CR
// included since CSV readers fold CRLF to LF, and DEL), is written "\xNN"
// with two lower-case hex digits. Everything else is copied. unescapeCSVText reverses it exactly.
func appendCSVField(b []byte, s string) []byte {
	quote := strings.ContainsAny(s, ",\"\n")
	if quote {
		b = append(b, '"')
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				b = append(b, '\\', '\\')
			case c == '"':
				b = append(b, '"', '"')
			case (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f:
				b = appendHexEscape(b, c)
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = appendHexEscape(b, c)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	if quote {
		b = append(b, '"')
	}
	return b
}

func appendHexEscape(b []byte, c byte) []byte {
	return hex.AppendEncode(append(b, '\\', 'x'), []byte{c})
}

// unescapeCSVText reverses appendCSVField's escapes in f, appending the
// text to dst. It accepts "\\" and "\xNN" (hex digits in either case;
// the round trip in ParseRejectRow then insists on the writer's form) and
// reports any other backslash sequence.
func unescapeCSVText(dst, f []byte) ([]byte, bool) {
	for len(f) > 0 {
		i := bytes.IndexByte(f, '\\')
		if i < 0 {
			return append(dst, f...), true
		}
		dst = append(dst, f[:i]...)
		f = f[i:]
		switch {
		case len(f) >= 2 && f[1] == '\\':
			dst = append(dst, '\\')
			f = f[2:]
		case len(f) >= 4 && f[1] == 'x':
			var c [1]byte
			if _, err := hex.Decode(c[:], f[2:4]); err != nil {
				return dst, false
			}
			dst = append(dst, c[0])
			f = f[4:]
		default:
			return dst, false
		}
	}
	return dst, true
}

// ParseRejectRow parses one rejects.csv record (without its final newline;
// quoted fields may hold newlines) into r. It accepts exactly what
// AppendRejectRow writes. Time and HasTime are not part of the file and
// are left zero. Errors are *RecordError.
func ParseRejectRow(rec []byte, r *transit.Reject) error {
	whole := rec
	var fields [len(rejectsFields)][]byte
	var scratch []byte
	n := 0
	for {
		if n == len(fields) {
			return fieldError("", "more than 5 fields")
		}
		var f []byte
		if len(rec) > 0 && rec[0] == '"' {
			// Quoted: find the closing quote, unescaping "" into scratch.
			start := len(scratch)
			i := 1
			for {
				j := bytes.IndexByte(rec[i:], '"')
				if j < 0 {
					return fieldError(rejectsFields[n], "unterminated quoted field")
				}
				scratch = append(scratch, rec[i:i+j]...)
				i += j + 1
				if i < len(rec) && rec[i] == '"' {
					scratch = append(scratch, '"')
					i++
					continue
				}
				break
			}
			f, rec = scratch[start:], rec[i:]
			if len(rec) > 0 && rec[0] != ',' {
				return fieldError(rejectsFields[n], "text after a closing quote")
			}
		} else {
			i := bytes.IndexByte(rec, ',')
			if i < 0 {
				i = len(rec)
			}
			f, rec = rec[:i], rec[i:]
			if bytes.ContainsAny(f, "\"\r\n") {
				return fieldError(rejectsFields[n], "quote or line break in an unquoted field")
			}
		}
		fields[n] = f
		n++
		if len(rec) == 0 {
			break
		}
		rec = rec[1:] // the comma
	}
	if n != len(fields) {
		return fieldError("", "fewer than 5 fields")
	}
	line, ok := parseInt(fields[1])
	if !ok {
		return fieldError("line", "not an integer")
	}
	var text [len(rejectsFields)]string
	var buf []byte
	for i, f := range fields {
		if i == 1 {
			continue
		}
		var ok bool
		if buf, ok = unescapeCSVText(buf[:0], f); !ok {
			return fieldError(rejectsFields[i], "a backslash that does not start an escape (\\\\ or \\xNN)")
		}
		text[i] = string(buf)
	}
	*r = transit.Reject{Source: text[0], Line: line, Field: text[2], Reason: text[3], Raw: text[4]}
	// A field quoted without need, say, parses but is not what the writer
	// produces; only the writer's form is accepted.
	if out := AppendRejectRow(scratch[len(scratch):], r); len(out) != len(whole)+1 || !bytes.Equal(out[:len(whole)], whole) {
		return fieldError("", "not in the form the rejects writer produces")
	}
	return nil
}

// RejectsReader reads a decompressed rejects.csv record by record.
type RejectsReader struct {
	br   *bufio.Reader
	line int64 // lines consumed so far
	rec  []byte
	at   int64 // line on which the last record started
}

// NewRejectsReader reads and checks the header line.
func NewRejectsReader(r io.Reader) (*RejectsReader, error) {
	rr := &RejectsReader{br: bufio.NewReaderSize(r, 64<<10)}
	h, err := rr.record()
	if errors.Is(err, io.EOF) {
		return nil, &RecordError{Line: 1, Reason: "empty rejects file: no header"}
	}
	if err != nil {
		return nil, err
	}
	if string(h) != RejectsHeader {
		return nil, &RecordError{Line: 1, Reason: "not the rejects header"}
	}
	return rr, nil
}

// record returns the next record without its final LF: lines are joined
// while a quoted field is open (an odd number of quotes so far).
func (rr *RejectsReader) record() ([]byte, error) {
	rr.rec = rr.rec[:0]
	rr.at = rr.line + 1
	quotes := 0
	for {
		b, err := rr.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long quoted field: keep reading.
			rr.rec = append(rr.rec, b...)
			quotes += bytes.Count(b, []byte{'"'})
		} else if err != nil {
			if errors.Is(err, io.EOF) && len(b) == 0 && len(rr.rec) == 0 {
				return nil, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return nil, &RecordError{Line: rr.at, Reason: "last record has no newline"}
			}
			return nil, err
		} else {
			rr.line++
			rr.rec = append(rr.rec, b...)
			quotes += bytes.Count(b, []byte{'"'})
			if quotes%2 == 0 {
				return rr.rec[:len(rr.rec)-1], nil
			}
		}
		if len(rr.rec) > maxRejectRecord {
			return nil, &RecordError{Line: rr.at, Reason: "record too long"}
		}
	}
}

// Read parses the next record into r. It returns io.EOF after the last
// record and a *RecordError naming the record's first line otherwise.
func (rr *RejectsReader) Read(r *transit.Reject) error {
	rec, err := rr.record()
	if err != nil {
		return err
	}
	if err := ParseRejectRow(rec, r); err != nil {
		return atLine(err, rr.at)
	}
	return nil
}

// Line returns the line on which the record last read started.
func (rr *RejectsReader) Line() int64 { return rr.at }

// rejectsFrameBytes is the text of one zstd frame of rejects.csv: a frame
// ends after the first record that brings it to this size, so the file is
// one frame, as it always was, up to 4 MiB of text, and a sequence of
// frames (one zstd stream, which every reader reads the same) beyond. The
// split depends on the text alone, so the bytes are the same whether the
// rejects were spilled or not, and the writer holds one frame at a time
// whatever the number of rejects.
const rejectsFrameBytes = 4 << 20

// writeRejects writes d's rejects file, compressed, and returns the
// number of records written.
func writeRejects(w io.Writer, d *Day) (int64, error) {
	text := make([]byte, 0, min(rejectsFrameBytes+maxRejectRecord, 64<<10+int(d.RejectCount())*128))
	text = append(text, RejectsHeader...)
	text = append(text, '\n')
	var frame []byte
	flush := func() error {
		frame = compress(frame[:0], text)
		text = text[:0]
		_, err := w.Write(frame)
		return err
	}
	var n int64
	err := d.WalkRejects(func(r *transit.Reject) error {
		text = AppendRejectRow(text, r)
		n++
		if len(text) >= rejectsFrameBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	if len(text) > 0 {
		if err := flush(); err != nil {
			return n, err
		}
	}
	if want := d.RejectCount(); n != want {
		return n, fmt.Errorf("%d rejects written, the day holds %d", n, want)
	}
	return n, nil
}
