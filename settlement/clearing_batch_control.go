package settlement

import (
	"encoding/hex"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// BatchControl is record type 8: it closes a batch with its count, sums and
// the SHA-256 of its detail lines.
type BatchControl struct {
	Batch      int
	Mode       transit.Mode
	Details    int64
	Gross      transit.Fen
	Discount   transit.Fen
	Charged    transit.Fen
	DetailHash [32]byte
}

// batchControlFields are the schema names of the batch control's fields.
var batchControlFields = []string{"record_type", "batch_number", "mode", "entry_count", "gross_fen", "discount_fen", "charged_fen", "entry_hash"}

// Append appends the record's line, newline included.
func (c *BatchControl) Append(b []byte) []byte {
	b = append(b, RecordBatchControl, '|')
	b = strconv.AppendInt(b, int64(c.Batch), 10)
	b = append(b, '|')
	b = append(b, c.Mode.String()...)
	b = append(b, '|')
	b = strconv.AppendInt(b, c.Details, 10)
	b = append(b, '|')
	b = appendSums(b, c.Gross, c.Discount, c.Charged)
	b = append(b, '|')
	b = hex.AppendEncode(b, c.DetailHash[:])
	return append(b, '\n')
}

// Parse parses a batch control line (without newline), strictly.
func (c *BatchControl) Parse(line []byte) error {
	var buf [maxRecordFields][]byte
	f, err := splitRecord(&buf, line, RecordBatchControl, batchControlFields)
	if err != nil {
		return err
	}
	var ok bool
	*c = BatchControl{}
	if c.Batch, err = parseBatchNumber(f[1]); err != nil {
		return err
	}
	if c.Mode, ok = parseMode(f[2]); !ok {
		return fieldError("mode", "unknown mode")
	}
	if c.Details, ok = parseInt(f[3]); !ok {
		return fieldError("entry_count", "not a count")
	}
	if err := parseSums(f[4:7], &c.Gross, &c.Discount, &c.Charged); err != nil {
		return err
	}
	if err := parseHash(f[7], &c.DetailHash, "entry_hash"); err != nil {
		return err
	}
	var out [512]byte
	return canonical(line, c.Append(out[:0]))
}

// Validate checks the fields' domains: a batch number in range and a
// mode. The count, sums and hash are checked against the details the
// record closes by ReadClearingFile.
func (c *BatchControl) Validate() error {
	switch {
	case c.Batch < 1 || c.Batch > maxBatches:
		return fieldError("batch_number", "not a batch number")
	case c.Mode < 1 || c.Mode >= transit.NumModes:
		return fieldError("mode", "unknown mode")
	}
	return nil
}
