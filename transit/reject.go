package transit

import "fmt"

// Reject is a malformed input record, quarantined with where it came from
// and why. Rejects are rare, so this type uses strings freely.
type Reject struct {
	// Source names where the record came from: a file path, "-" for
	// standard input, or "topic/partition" for a stream.
	Source string
	// Line is the 1-based line number in Source (or the offset in a
	// stream).
	Line int64
	// Field is the schema name of the offending field ("" when the whole
	// record is unreadable).
	Field string
	// Reason says what is wrong, for people.
	Reason string
	// Raw is the record as read, cut to MaxRejectRaw bytes.
	Raw string
	// Time is the tap's instant in Unix nanoseconds when it could be
	// parsed, which places the reject in its settlement day.
	Time    int64
	HasTime bool
}

// MaxRejectRaw bounds the bytes of a bad record kept in the quarantine, so a
// corrupt multi-megabyte "line" cannot blow up the rejects file.
const MaxRejectRaw = 1024

// Error formats the reject as "file:line: field: reason".
func (r *Reject) Error() string {
	if r.Field == "" {
		return fmt.Sprintf("%s:%d: %s", r.Source, r.Line, r.Reason)
	}
	return fmt.Sprintf("%s:%d: field %s: %s", r.Source, r.Line, r.Field, r.Reason)
}
