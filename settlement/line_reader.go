package settlement

import (
	"bufio"
	"errors"
	"io"
)

// maxLine bounds a line of the line-based formats. The longest legitimate
// lines (ledger rows, clearing entries) are under 400 bytes; anything far
// longer is damage, and bounding it keeps a corrupt file from exhausting
// memory.
const maxLine = 16 << 10

// lineReader yields LF-terminated lines. Every line, the last included,
// must end in LF and hold no CR, so each file has one byte form.
type lineReader struct {
	br   *bufio.Reader
	line int64
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, maxLine)}
}

// next returns the next line without its LF, valid until the next call,
// or io.EOF after the last line.
func (lr *lineReader) next() ([]byte, error) {
	b, err := lr.br.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && len(b) == 0:
		return nil, io.EOF
	case errors.Is(err, io.EOF):
		lr.line++
		return nil, &RecordError{Line: lr.line, Reason: "last line has no newline"}
	case errors.Is(err, bufio.ErrBufferFull):
		lr.line++
		return nil, &RecordError{Line: lr.line, Reason: "line too long"}
	default:
		return nil, err
	}
	lr.line++
	b = b[:len(b)-1]
	for _, c := range b {
		if c == '\r' {
			return nil, &RecordError{Line: lr.line, Reason: "carriage return in line"}
		}
	}
	return b, nil
}
