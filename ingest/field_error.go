package ingest

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// FieldError says which field of a record is malformed and why.
type FieldError struct {
	// Field is the schema name of the offending field, or "" when the
	// record as a whole is unreadable (bad JSON syntax, wrong field count,
	// an over-long line).
	Field string
	// Reason says what is wrong, for people, e.g. "too long: 30 bytes, at
	// most 24".
	Reason string
	// Err is the sentinel behind Reason where there is one
	// (transit.ErrTooLong, transit.ErrChar, transit.ErrEmpty,
	// transit.ErrCityCode), for errors.Is; nil otherwise.
	Err error
}

// Error returns "field <name>: <reason>", or the reason alone for a fault
// of the whole record.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return "field " + e.Field + ": " + e.Reason
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// faultCode classifies a fault. Decoders record a code and the offending
// bytes; the reason text is built only when a reject is reported, so the
// hot path never formats or allocates.
type faultCode uint8

const (
	faultNone        faultCode = iota
	faultMissing               // required key absent or null (JSON)
	faultEmpty                 // required value empty
	faultID                    // an identifier's Set failed; err says how
	faultUTF8                  // value is not valid UTF-8
	faultEnum                  // an enum's Parse failed; err says how
	faultCity                  // not a city code
	faultModeAction            // action not valid for the mode
	faultStopMetro             // metro tap without a stop
	faultTime                  // time did not parse; tErr says how
	faultNotString             // JSON value of the wrong type
	faultDuplicate             // JSON key given twice
	faultSyntax                // JSON syntax; msg and pos say where
	faultFieldCount            // CSV row with the wrong number of fields
	faultQuote                 // CSV quoting; msg and pos say where
	faultLineTooLong           // line longer than Options.MaxLine
	faultRecord                // any other fault of the whole record; msg says what
)

// fault is a decoding failure as the hot path records it. val aliases the
// line buffer or a decoder's scratch buffer and is valid only until the
// next record is read.
type fault struct {
	code  faultCode
	field field
	val   []byte       // the offending value
	num   bool         // val is a JSON number, not a string
	err   error        // from transit (faultID, faultEnum)
	tErr  timeErr      // faultTime
	mode  transit.Mode // faultModeAction: the record's mode
	msg   string       // faultSyntax, faultQuote: a constant description
	pos   int          // faultSyntax, faultQuote: 1-based byte column; faultFieldCount: fields found
	limit int          // faultFieldCount: fields in the header; faultLineTooLong: MaxLine
	size  int64        // faultLineTooLong: the line's length
	eol   bool         // faultSyntax: the line ended where more was expected
}

// maxQuoted bounds how much of an offending value a reason quotes; Raw has
// the whole record.
const maxQuoted = 48

// quoteValue renders v for a reason: Go-quoted, cut to maxQuoted bytes.
func quoteValue(v []byte, num bool) string {
	cut := ""
	if len(v) > maxQuoted {
		v, cut = v[:maxQuoted], "..."
	}
	if num { // JSON numbers are ASCII digits and signs by grammar
		return string(v) + cut
	}
	return strconv.Quote(string(v)) + cut
}

// fieldError builds the FieldError that f describes.
func (f *fault) fieldError() *FieldError {
	return &FieldError{Field: f.field.name(), Reason: f.reason(), Err: f.sentinel()}
}

func (f *fault) sentinel() error {
	switch f.code {
	case faultID:
		for _, s := range []error{transit.ErrTooLong, transit.ErrChar, transit.ErrEmpty} {
			if errors.Is(f.err, s) {
				return s
			}
		}
	case faultEmpty, faultMissing:
		return transit.ErrEmpty
	case faultCity:
		return transit.ErrCityCode
	}
	return nil
}

// reason renders the fault for people. It is called only for rejects.
func (f *fault) reason() string {
	switch f.code {
	case faultMissing:
		return "missing"
	case faultEmpty:
		return "empty"
	case faultID:
		if errors.Is(f.err, transit.ErrChar) {
			return charReason(f.val)
		}
		if errors.Is(f.err, transit.ErrEmpty) {
			return "empty"
		}
		return f.err.Error()
	case faultUTF8:
		return "invalid UTF-8"
	case faultEnum:
		return quoteValue(f.val, f.num) + ": " + f.err.Error()
	case faultCity:
		return quoteValue(f.val, f.num) + ": " + transit.ErrCityCode.Error()
	case faultModeAction:
		want := `"board"`
		if f.mode == transit.ModeMetro {
			want = `"entry" or "exit"`
		}
		return fmt.Sprintf("%s is not valid for mode %s: want %s", quoteValue(f.val, false), f.mode, want)
	case faultStopMetro:
		return "required for metro"
	case faultTime:
		return quoteValue(f.val, false) + ": " + f.tErr.String()
	case faultNotString:
		if f.field == fIssuer || f.field == fCity {
			return "want a string or a number, got " + jsonKind(f.val)
		}
		return "want a string, got " + jsonKind(f.val)
	case faultDuplicate:
		return fmt.Sprintf("duplicate key %q", f.val)
	case faultSyntax:
		if f.eol {
			return fmt.Sprintf("invalid JSON: line ends at column %d: %s", f.pos-1, f.msg)
		}
		return fmt.Sprintf("invalid JSON at column %d: %s", f.pos, f.msg)
	case faultFieldCount:
		return fmt.Sprintf("wrong number of fields: %d, header has %d", f.pos, f.limit)
	case faultQuote:
		return fmt.Sprintf("column %d: %s", f.pos, f.msg)
	case faultRecord:
		return f.msg
	case faultLineTooLong:
		return fmt.Sprintf("line too long: %d bytes, at most %d", f.size, f.limit)
	}
	return "malformed"
}

// charReason names the first byte that transit's identifier rule refuses.
func charReason(v []byte) string {
	for i, c := range v {
		if c <= 0x20 || c == 0x7f || c == ',' || c == '"' || c == '|' || c == '\\' {
			return fmt.Sprintf("invalid character %q at byte %d", rune(c), i+1)
		}
	}
	return transit.ErrChar.Error()
}

// jsonKind names the JSON type of a value by its first byte.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
