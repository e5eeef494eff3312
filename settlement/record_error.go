package settlement

import "fmt"

// RecordError is a problem with one record of a settlement file, as found
// by the readers of the ledger, rejects, clearing and manifest formats.
type RecordError struct {
	// Line is the 1-based line on which the record starts; 0 when the
	// error concerns a record parsed on its own.
	Line int64
	// Field is the schema name of the offending field; "" for the record.
	Field string
	// Reason says what is wrong.
	Reason string
	// Err classifies the problem: ErrMismatch for a count, sum or hash
	// that disagrees with its recomputation; nil for a syntax error.
	Err error
}

// Unwrap returns e.Err.
func (e *RecordError) Unwrap() error { return e.Err }

// Error formats the error as "line N: field F: reason".
func (e *RecordError) Error() string {
	switch {
	case e.Line > 0 && e.Field != "":
		return fmt.Sprintf("line %d: field %s: %s", e.Line, e.Field, e.Reason)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	case e.Field != "":
		return fmt.Sprintf("field %s: %s", e.Field, e.Reason)
	}
	return e.Reason
}

func fieldError(field, reason string) *RecordError {
	return &RecordError{Field: field, Reason: reason}
}

func fieldMismatch(field, reason string) *RecordError {
	return &RecordError{Field: field, Reason: reason, Err: ErrMismatch}
}

// atLine sets the line of a *RecordError, or wraps another error with it.
func atLine(err error, line int64) error {
	if re, ok := err.(*RecordError); ok {
		re.Line = line
		return re
	}
	return &RecordError{Line: line, Reason: err.Error()}
}
