package settlement

import (
	"bytes"
	"encoding/hex"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// Clearing file record types, after NACHA's: every header is paired with a
// control record that repeats its counts and sums. docs/clearing-format.md
// specifies the layouts field by field.
const (
	RecordFileHeader   = '1'
	RecordBatchHeader  = '5'
	RecordDetail       = '6'
	RecordBatchControl = '8'
	RecordFileControl  = '9'
)

// maxBatches bounds a file's batch count, which is at most one per other
// participant and mode (2 × 335 with today's 336 cities): the bound keeps a
// forged file from making a reader hold a million batch records, with room
// for the network to grow.
const maxBatches = 4096

func appendSums(b []byte, gross, discount, charged transit.Fen) []byte {
	b = strconv.AppendInt(b, int64(gross), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(discount), 10)
	b = append(b, '|')
	return strconv.AppendInt(b, int64(charged), 10)
}

// maxRecordFields bounds the fields of any record type (details have 18).
const maxRecordFields = 18

// splitRecord splits a line on '|' into exactly len(names) fields, stored
// in dst so that nothing is allocated, and checks the record type.
func splitRecord(dst *[maxRecordFields][]byte, line []byte, typ byte, names []string) ([][]byte, error) {
	n := 0
	for {
		i := bytes.IndexByte(line, '|')
		if n == len(names)-1 || i < 0 {
			break
		}
		dst[n], line = line[:i], line[i+1:]
		n++
	}
	dst[n] = line
	n++
	if n != len(names) || bytes.IndexByte(line, '|') >= 0 {
		return nil, fieldError("", "record type "+string(typ)+" has "+strconv.Itoa(len(names))+" fields")
	}
	if len(dst[0]) != 1 || dst[0][0] != typ {
		return nil, fieldError("record_type", "want "+string(typ))
	}
	return dst[:n], nil
}

// canonical checks that out, the parsed record appended again, is line
// plus its newline.
func canonical(line, out []byte) error {
	if len(out) != len(line)+1 || !bytes.Equal(out[:len(line)], line) {
		return fieldError("", "not in the form the clearing writer produces")
	}
	return nil
}

// parseBatchNumber parses the batch_number of a batch header or control:
// 1 to maxBatches.
func parseBatchNumber(b []byte) (int, error) {
	n, ok := parseInt(b)
	if !ok || n < 1 || n > maxBatches {
		return 0, fieldError("batch_number", "not a batch number")
	}
	return int(n), nil
}

func parseSums(f [][]byte, gross, discount, charged *transit.Fen) error {
	names := [...]string{"gross_fen", "discount_fen", "charged_fen"}
	for i, dst := range [...]*transit.Fen{gross, discount, charged} {
		v, ok := parseFen(f[i])
		if !ok {
			return fieldError(names[i], "not an amount in fen")
		}
		*dst = v
	}
	return nil
}

func parseHash(b []byte, dst *[32]byte, field string) error {
	if len(b) != 64 {
		return fieldError(field, "not 64 hex digits")
	}
	if _, err := hex.Decode(dst[:], b); err != nil {
		return fieldError(field, "not 64 hex digits")
	}
	return nil
}
