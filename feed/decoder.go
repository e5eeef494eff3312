package feed

import (
	"bytes"
	"fmt"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// NextLine splits the first line off a message value: it returns the line
// without its terminator ("\n" or "\r\n") and the rest after it. A value
// without a newline is one line. Publisher writes batches without a final
// newline, but other producers (kcat, scripts) may add one, so consumers
// should split with NextLine and skip blank lines.
func NextLine(value []byte) (line, rest []byte) {
	if i := bytes.IndexByte(value, '\n'); i >= 0 {
		line, rest = value[:i], value[i+1:]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, rest
	}
	if n := len(value); n > 0 && value[n-1] == '\r' {
		value = value[:n-1]
	}
	return value, nil
}

// Decoder decodes the taps of message values with the rules of the
// ingest JSON-lines schema (docs/tap-format.md). Its zero value is ready
// to use; it belongs to one goroutine, and does not allocate in steady
// state.
type Decoder struct {
	json ingest.JSONDecoder
}

// RejectFunc receives a line of a message value that is not a valid tap:
// its 1-based number among the value's lines, the line itself (aliasing
// the value: copy it to keep it) and why it was rejected.
type RejectFunc func(line int, raw []byte, err *ingest.FieldError)

// MaxMessageLines bounds the lines of one message value: 64 times
// MaxTapsPerMessage. A value of more lines is rejected as a whole. Every
// malformed line is a reject a consumer keeps until its next checkpoint,
// and a checkpoint falls between messages, never inside one: without the
// bound, one 30 MB message of short garbage lines would be 15 million
// rejects.
const MaxMessageLines = 64 * MaxTapsPerMessage

// Decode appends the taps of a message value to dst and returns the
// extended slice. Blank lines are skipped. A line that does not decode is
// handed to reject (which may be nil) and decoding goes on with the next
// line, so one bad tap never holds up the partition. A value with no line
// that is not blank (empty, or only blank lines) holds no tap and is
// rejected as a whole as line 1, so that every message is accounted for;
// so is a value of more than MaxMessageLines lines, undecoded.
func (d *Decoder) Decode(dst []transit.Tap, value []byte, reject RejectFunc) []transit.Tap {
	if n := LineCount(value); n > MaxMessageLines {
		if reject != nil {
			reject(1, value, &ingest.FieldError{Reason: fmt.Sprintf("message of %d lines, at most %d: not decoded", n, MaxMessageLines)})
		}
		return dst
	}
	whole, lines := value, 0
	for n := 1; len(value) > 0; n++ {
		var line []byte
		line, value = NextLine(value)
		if isBlank(line) {
			continue
		}
		lines++
		dst = append(dst, transit.Tap{})
		if fe := d.json.Decode(line, &dst[len(dst)-1]); fe != nil {
			dst = dst[:len(dst)-1]
			if reject != nil {
				reject(n, line, fe)
			}
		}
	}
	if lines == 0 && reject != nil {
		reject(1, whole, &errEmptyMessage)
	}
	return dst
}

// LineCount returns the number of lines NextLine splits value into, blank
// ones included.
func LineCount(value []byte) int {
	n := bytes.Count(value, []byte{'\n'})
	if len(value) > 0 && value[len(value)-1] != '\n' {
		n++
	}
	return n
}

// errEmptyMessage is the reject of a message value that holds no tap.
var errEmptyMessage = ingest.FieldError{Reason: "empty message: no tap"}

// errNullMessage is the reject of a message whose value is NULL (a
// tombstone, or a producer's mistake): it holds no tap.
var errNullMessage = ingest.FieldError{Reason: "null message value: no tap"}

// DecodeMessage is Decode for a message as read: a NULL value (m.Null) is
// rejected as a whole like an empty one, with its own reason, so that a
// consumer accounts for every message in one call.
func (d *Decoder) DecodeMessage(dst []transit.Tap, m *Message, reject RejectFunc) []transit.Tap {
	if m.Null {
		if reject != nil {
			reject(1, nil, &errNullMessage)
		}
		return dst
	}
	return d.Decode(dst, m.Value, reject)
}

// isBlank reports whether b holds only spaces and tabs (the ingest rule
// for blank lines, after NextLine has removed any CR).
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
