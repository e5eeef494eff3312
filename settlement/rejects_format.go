package settlement

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// RejectsHeader is the first line of rejects.csv. A record's raw bytes may
// hold anything, so fields are quoted as RFC 4180 says: a field holding
// ',', '"', CR or LF is enclosed in '"' with '"' doubled; other fields are
// written bare. A quoted field may span lines.
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

func appendCSVField(b []byte, s string) []byte {
	needs := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			needs = true
			break
		}
	}
	if !needs {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
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
	*r = transit.Reject{Source: string(fields[0]), Line: line, Field: string(fields[2]), Reason: string(fields[3]), Raw: string(fields[4])}
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
