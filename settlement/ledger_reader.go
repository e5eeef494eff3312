package settlement

import (
	"errors"
	"io"

	"github.com/tapsettle/tapsettle/transit"
)

// LedgerReader reads a decompressed ledger.csv row by row, checking that
// every line is in the writer's exact form.
type LedgerReader struct {
	lr  *lineReader
	buf []byte
}

// NewLedgerReader reads and checks the header line of a ledger.
func NewLedgerReader(r io.Reader) (*LedgerReader, error) {
	lr := newLineReader(r)
	h, err := lr.next()
	if errors.Is(err, io.EOF) {
		return nil, &RecordError{Line: 1, Reason: "empty ledger: no header"}
	}
	if err != nil {
		return nil, err
	}
	if string(h) != LedgerHeader {
		return nil, &RecordError{Line: 1, Reason: "not the ledger header"}
	}
	return &LedgerReader{lr: lr, buf: make([]byte, 0, 512)}, nil
}

// Read parses the next row into r. It returns io.EOF after the last row,
// and a *RecordError naming the line for a row it cannot accept.
func (l *LedgerReader) Read(r *transit.Priced) error {
	line, err := l.lr.next()
	if err != nil {
		return err
	}
	l.buf, err = parseLedgerLine(line, r, l.buf)
	if err != nil {
		return atLine(err, l.lr.line)
	}
	return nil
}

// Line returns the line number of the row last read (the header is 1).
func (l *LedgerReader) Line() int64 { return l.lr.line }
