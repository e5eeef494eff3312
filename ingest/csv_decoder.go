package ingest

import (
	"bytes"
	"errors"
	"fmt"
)

// CSV follows RFC 4180 with two deliberate limits, both documented in
// docs/tap-format.md:
//
//   - A record is one physical line. RFC 4180 lets a quoted field span line
//     breaks, but no schema field may contain a control character, so such
//     a record could never be valid; reading it line by line keeps one
//     stray quote from swallowing the rest of a file into a single reject,
//     and keeps every reject's line number exact.
//   - A quote inside an unquoted field is an error (as in encoding/csv
//     without LazyQuotes), not a literal.
//
// Columns may come in any order; columns the schema does not name are
// ignored, so producers can add columns without breaking readers.

// Header errors. NewReader and Open return them wrapped in a *HeaderError.
var (
	// ErrMissingColumn: the header lacks a required column.
	ErrMissingColumn = errors.New("missing required column")
	// ErrDuplicateColumn: the header names a schema column twice.
	ErrDuplicateColumn = errors.New("duplicate column")
	// ErrHeaderSyntax: the header row is not valid CSV or is too long.
	ErrHeaderSyntax = errors.New("malformed header row")
)

// HeaderError reports a CSV header that cannot be used; the file cannot be
// read at all, so it is an error rather than a reject.
type HeaderError struct {
	Source string // file name, "-" for standard input
	Line   int64  // 1-based line of the header row
	Column string // the column concerned, "" for a syntax error
	Err    error  // ErrMissingColumn, ErrDuplicateColumn or ErrHeaderSyntax
	Detail string // more about a syntax error
}

// Error returns "ingest: taps.csv:1: missing required column "card_id"".
func (e *HeaderError) Error() string {
	msg := fmt.Sprintf("ingest: %s:%d: %v", e.Source, e.Line, e.Err)
	if e.Column != "" {
		msg += fmt.Sprintf(" %q", e.Column)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns Err.
func (e *HeaderError) Unwrap() error { return e.Err }

// csvDecoder splits CSV rows into a record. It belongs to one Reader.
type csvDecoder struct {
	cols    []field   // column index -> schema field, or noField
	has     fieldMask // fields the header names
	scratch []byte    // unquoted field contents, reused
}

// parseHeader reads the header row. The header is required: its columns
// say which value is which.
func (d *csvDecoder) parseHeader(source string, lineNo int64, line []byte) error {
	d.cols = d.cols[:0]
	d.has = 0
	var names [][]byte
	var ft fault
	if !d.split(line, func(col int, v []byte) {
		names = append(names, v)
	}, &ft) {
		return &HeaderError{Source: source, Line: lineNo, Err: ErrHeaderSyntax, Detail: ft.reason()}
	}
	for _, n := range names {
		f, ok := lookupField(n)
		if !ok {
			d.cols = append(d.cols, noField)
			continue
		}
		if d.has&f.bit() != 0 {
			return &HeaderError{Source: source, Line: lineNo, Column: f.name(), Err: ErrDuplicateColumn}
		}
		d.has |= f.bit()
		d.cols = append(d.cols, f)
	}
	for f := range numFields {
		if requiredFields&f.bit() != 0 && d.has&f.bit() == 0 {
			return &HeaderError{Source: source, Line: lineNo, Column: f.name(), Err: ErrMissingColumn}
		}
	}
	return nil
}

// decode splits one data row into rec. It reports a quoting error or a
// wrong number of fields in ft and returns false.
func (d *csvDecoder) decode(line []byte, rec *record, ft *fault) bool {
	rec.reset()
	ncols := len(d.cols)
	col, ok := d.splitFast(line, rec)
	if !ok {
		// The row holds a quote: take the general RFC 4180 path.
		col = 0
		ok := d.split(line, func(c int, v []byte) {
			d.assign(c, v, rec)
			col = c + 1
		}, ft)
		if !ok {
			if ft.pos <= ncols { // 1-based column of the quoting error
				ft.field = d.cols[ft.pos-1]
			}
			return false
		}
	}
	if col != ncols {
		*ft = fault{code: faultFieldCount, field: noField, pos: col, limit: ncols}
		return false
	}
	return true
}

// assign stores the value of column col in rec, if the schema wants it.
func (d *csvDecoder) assign(col int, v []byte, rec *record) {
	if col < len(d.cols) {
		if f := d.cols[col]; f != noField {
			rec.val[f] = v
			rec.got |= f.bit()
		}
	}
}

// splitFast splits a row without quotes, the usual case, finding commas
// eight bytes at a time; the values alias line. It returns the number of
// fields, or false if the row holds a quote.
func (d *csvDecoder) splitFast(line []byte, rec *record) (int, bool) {
	if bytes.IndexByte(line, '"') >= 0 {
		return 0, false
	}
	cols := d.cols // a local, so the compiler need not reload it after each store to rec
	col, start, i := 0, 0, 0
	for ; i+8 <= len(line); i += 8 {
		for m := eqMask(load64(line, i), ','); m != 0; m &= m - 1 {
			j := i + firstByte(m)
			if col < len(cols) {
				if f := cols[col]; f < numFields {
					rec.val[f] = line[start:j]
					rec.got |= 1 << f
				}
			}
			col++
			start = j + 1
		}
	}
	for ; i < len(line); i++ {
		if line[i] == ',' {
			d.assign(col, line[start:i], rec)
			col++
			start = i + 1
		}
	}
	d.assign(col, line[start:], rec)
	return col + 1, true
}

// split calls emit for each field of a row, handling RFC 4180 quoting.
// Unquoted fields alias line; quoted ones are copied, without their quotes
// and with "" turned into ", into d.scratch, which is sized up front so
// that earlier fields stay valid while later ones are appended.
func (d *csvDecoder) split(line []byte, emit func(col int, v []byte), ft *fault) bool {
	if cap(d.scratch) < len(line) {
		d.scratch = make([]byte, 0, len(line)+len(line)/2)
	}
	scratch := d.scratch[:0]
	pos, col := 0, 0
	for {
		var v []byte
		if pos < len(line) && line[pos] == '"' {
			start := len(scratch)
			i := pos + 1
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					*ft = fault{code: faultQuote, field: noField, msg: "unterminated quoted field", pos: col + 1}
					return false
				}
				scratch = append(scratch, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' { // "" is a literal quote
					scratch = append(scratch, '"')
					i++
					continue
				}
				break
			}
			if i < len(line) && line[i] != ',' {
				*ft = fault{code: faultQuote, field: noField, msg: "unexpected character after closing quote", pos: col + 1}
				return false
			}
			v = scratch[start:len(scratch):len(scratch)]
			pos = i
		} else {
			end := len(line)
			if j := bytes.IndexByte(line[pos:], ','); j >= 0 {
				end = pos + j
			}
			v = line[pos:end]
			if bytes.IndexByte(v, '"') >= 0 {
				*ft = fault{code: faultQuote, field: noField, msg: `bare " in unquoted field`, pos: col + 1}
				return false
			}
			pos = end
		}
		emit(col, v)
		col++
		if pos >= len(line) {
			return true
		}
		pos++ // the comma
	}
}
