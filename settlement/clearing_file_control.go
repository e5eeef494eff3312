package settlement

import (
	"encoding/hex"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// FileControl is record type 9, the last line: batch and detail counts,
// sums, and the SHA-256 of the batches' detail hashes.
type FileControl struct {
	Batches  int
	Details  int64
	Gross    transit.Fen
	Discount transit.Fen
	Charged  transit.Fen
	Hash     [32]byte
}

// fileControlFields are the schema names of the file control's fields.
var fileControlFields = []string{"record_type", "batch_count", "entry_count", "gross_fen", "discount_fen", "charged_fen", "file_hash"}

// Append appends the record's line, newline included.
func (c *FileControl) Append(b []byte) []byte {
	b = append(b, RecordFileControl, '|')
	b = strconv.AppendInt(b, int64(c.Batches), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, c.Details, 10)
	b = append(b, '|')
	b = appendSums(b, c.Gross, c.Discount, c.Charged)
	b = append(b, '|')
	b = hex.AppendEncode(b, c.Hash[:])
	return append(b, '\n')
}

// Parse parses a file control line (without newline), strictly.
func (c *FileControl) Parse(line []byte) error {
	var buf [maxRecordFields][]byte
	f, err := splitRecord(&buf, line, RecordFileControl, fileControlFields)
	if err != nil {
		return err
	}
	var ok bool
	*c = FileControl{}
	n, ok := parseInt(f[1])
	if !ok || n < 0 || n > maxBatches {
		return fieldError("batch_count", "not a batch count")
	}
	c.Batches = int(n)
	if c.Details, ok = parseInt(f[2]); !ok {
		return fieldError("entry_count", "not a count")
	}
	if err := parseSums(f[3:6], &c.Gross, &c.Discount, &c.Charged); err != nil {
		return err
	}
	if err := parseHash(f[6], &c.Hash, "file_hash"); err != nil {
		return err
	}
	var out [512]byte
	return canonical(line, c.Append(out[:0]))
}

// Validate checks the fields' domains: a batch count in range. The counts,
// sums and hash are checked against the batches the record closes by
// ReadClearingFile.
func (c *FileControl) Validate() error {
	if c.Batches < 0 || c.Batches > maxBatches {
		return fieldError("batch_count", "not a batch count")
	}
	return nil
}
