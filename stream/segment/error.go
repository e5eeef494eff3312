package segment

import (
	"errors"
	"fmt"
)

// Segment errors, wrapped by every *Error.
var (
	// ErrCorrupt: the bytes are not a complete, intact segment
	// (wrong magic, truncated, a checksum or a count that disagrees, a
	// value out of range). The file must not be used; nothing of it was
	// handed to the caller.
	ErrCorrupt = errors.New("corrupt segment")
	// ErrVersion: the file is a segment of a layout this reader does
	// not know (written by a newer build). It is refused rather than
	// misread; read it with the build that wrote it.
	ErrVersion = errors.New("unsupported segment version")
)

// Error says where a segment is bad and why.
type Error struct {
	// Offset is the byte offset of the problem: in the file, or, when Body
	// is set, in the decompressed body (the rows, then the rejects).
	Offset int64
	// Body reports that Offset counts bytes of the decompressed body.
	Body bool
	// Reason says what is wrong, for people.
	Reason string
	// Err is ErrCorrupt or ErrVersion.
	Err error
}

// Error formats the error as "segment byte N: reason" (or "segment body
// byte N: reason").
func (e *Error) Error() string {
	where := "segment byte"
	if e.Body {
		where = "segment body byte"
	}
	return fmt.Sprintf("%s %d: %s", where, e.Offset, e.Reason)
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

func segmentCorrupt(off int, format string, args ...any) *Error {
	return &Error{Offset: int64(off), Reason: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

func segmentBodyCorrupt(off int, format string, args ...any) *Error {
	return &Error{Offset: int64(off), Body: true, Reason: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}
