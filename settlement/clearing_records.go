package settlement

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// Clearing file record types, after NACHA's: every header is paired with a
// control record that repeats its counts and sums. docs/clearing-format.md
// specifies the layouts field by field.
const (
	RecordFileHeader   = '1'
	RecordBatchHeader  = '5'
	RecordEntry        = '6'
	RecordBatchControl = '8'
	RecordFileControl  = '9'
)

// maxBatches bounds a file's batch count, which is at most one per other
// participant and mode (2 × 335 with today's 336 cities): the bound keeps a
// forged file from making a reader hold a million batch records, with room
// for the network to grow.
const maxBatches = 4096

// Constants of the file header.
const (
	ClearingFormat   = "TSCLR"
	ClearingVersion  = 2
	ClearingCurrency = "CNY"
	ClearingUnit     = "fen"
)

// FileHeader is record type 1, the first line of a clearing file: the
// issuer whose cards' rides the file clears.
type FileHeader struct {
	Day               transit.Day
	Issuer            transit.City // the payer: the issuer of the cards
	PolicyFingerprint string
}

// BatchHeader is record type 5: it opens the batch of one acquirer (the
// payee: the city that carried the rides) and one mode.
type BatchHeader struct {
	Batch    int // 1-based, consecutive
	Mode     transit.Mode
	Issuer   transit.City
	Acquirer transit.City
	Day      transit.Day
}

// Detail is record type 6: one transaction, a clearing row.
type Detail struct {
	Seq       int64 // 1-based, consecutive within the batch
	TapID     transit.TapID
	Card      transit.CardID
	Product   transit.Product
	Mode      transit.Mode
	Action    transit.Action
	Line      transit.Code
	EntryStop transit.Code // the metro entry of an exit row; zero when none
	EntryTime int64        // unix ns; 0 when none
	Stop      transit.Code
	Time      int64 // unix ns
	Offset    int32 // UTC offset in seconds both times are written at
	Gross     transit.Fen
	Discount  transit.Fen
	Charged   transit.Fen
	Status    transit.Status
	Rules     transit.Rules
}

// BatchControl is record type 8: it closes a batch with its count, sums and
// the SHA-256 of its entry lines.
type BatchControl struct {
	Batch     int
	Mode      transit.Mode
	Entries   int64
	Gross     transit.Fen
	Discount  transit.Fen
	Charged   transit.Fen
	EntryHash [32]byte
}

// FileControl is record type 9, the last line: batch and entry counts,
// sums, and the SHA-256 of the batches' entry hashes.
type FileControl struct {
	Batches  int
	Entries  int64
	Gross    transit.Fen
	Discount transit.Fen
	Charged  transit.Fen
	Hash     [32]byte
}

func entryFromRow(r *transit.Priced, seq int64) Detail {
	return Detail{
		Seq: seq, TapID: r.ID, Card: r.Card, Product: r.Product, Mode: r.Mode, Action: r.Action,
		Line: r.Line, EntryStop: r.EntryStop, EntryTime: r.EntryTime, Stop: r.Stop,
		Time: r.Time, Offset: r.Offset, Gross: r.Gross, Discount: r.Discount, Charged: r.Charged,
		Status: r.Status, Rules: r.Rules,
	}
}

// Append appends the record's line, newline included.
func (h *FileHeader) Append(b []byte) []byte {
	b = append(b, RecordFileHeader, '|')
	b = append(b, ClearingFormat...)
	b = append(b, '|')
	b = strconv.AppendInt(b, ClearingVersion, 10)
	b = append(b, '|')
	b = appendDay(b, h.Day)
	b = append(b, '|')
	b = h.Issuer.AppendText(b)
	b = append(b, '|')
	b = append(b, ClearingCurrency...)
	b = append(b, '|')
	b = append(b, ClearingUnit...)
	b = append(b, '|')
	b = append(b, h.PolicyFingerprint...)
	return append(b, '\n')
}

// Append appends the record's line, newline included.
func (h *BatchHeader) Append(b []byte) []byte {
	b = append(b, RecordBatchHeader, '|')
	b = strconv.AppendInt(b, int64(h.Batch), 10)
	b = append(b, '|')
	b = append(b, h.Mode.String()...)
	b = append(b, '|')
	b = h.Issuer.AppendText(b)
	b = append(b, '|')
	b = h.Acquirer.AppendText(b)
	b = append(b, '|')
	b = appendDay(b, h.Day)
	return append(b, '\n')
}

// Append appends the record's line, newline included.
func (e *Detail) Append(b []byte) []byte {
	b = append(b, RecordEntry, '|')
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, '|')
	b = append(b, e.TapID.Bytes()...)
	b = append(b, '|')
	b = append(b, e.Card.Bytes()...)
	b = append(b, '|')
	b = append(b, e.Product.String()...)
	b = append(b, '|')
	b = append(b, e.Mode.String()...)
	b = append(b, '|')
	b = append(b, e.Action.String()...)
	b = append(b, '|')
	b = append(b, e.Line.Bytes()...)
	b = append(b, '|')
	b = append(b, e.EntryStop.Bytes()...)
	b = append(b, '|')
	if e.EntryTime != 0 {
		b = transit.AppendRFC3339(b, e.EntryTime, e.Offset)
	}
	b = append(b, '|')
	b = append(b, e.Stop.Bytes()...)
	b = append(b, '|')
	b = transit.AppendRFC3339(b, e.Time, e.Offset)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(e.Gross), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(e.Discount), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(e.Charged), 10)
	b = append(b, '|')
	b = append(b, e.Status.String()...)
	b = append(b, '|')
	b = e.Rules.Append(b)
	return append(b, '\n')
}

// Append appends the record's line, newline included.
func (c *BatchControl) Append(b []byte) []byte {
	b = append(b, RecordBatchControl, '|')
	b = strconv.AppendInt(b, int64(c.Batch), 10)
	b = append(b, '|')
	b = append(b, c.Mode.String()...)
	b = append(b, '|')
	b = strconv.AppendInt(b, c.Entries, 10)
	b = append(b, '|')
	b = appendSums(b, c.Gross, c.Discount, c.Charged)
	b = append(b, '|')
	b = hex.AppendEncode(b, c.EntryHash[:])
	return append(b, '\n')
}

// Append appends the record's line, newline included.
func (c *FileControl) Append(b []byte) []byte {
	b = append(b, RecordFileControl, '|')
	b = strconv.AppendInt(b, int64(c.Batches), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, c.Entries, 10)
	b = append(b, '|')
	b = appendSums(b, c.Gross, c.Discount, c.Charged)
	b = append(b, '|')
	b = hex.AppendEncode(b, c.Hash[:])
	return append(b, '\n')
}

func appendSums(b []byte, gross, discount, charged transit.Fen) []byte {
	b = strconv.AppendInt(b, int64(gross), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(discount), 10)
	b = append(b, '|')
	return strconv.AppendInt(b, int64(charged), 10)
}

// maxRecordFields bounds the fields of any record type (entries have 17).
const maxRecordFields = 17

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

var (
	fileHeaderFields   = []string{"record_type", "format", "version", "settlement_day", "issuer", "currency", "unit", "policy_fingerprint"}
	batchHeaderFields  = []string{"record_type", "batch_number", "mode", "issuer", "acquirer", "settlement_day"}
	entryFields        = []string{"record_type", "seq", "tap_id", "card_id", "card_product", "mode", "action", "line", "entry_stop", "entry_time", "stop", "time", "gross_fen", "discount_fen", "charged_fen", "status", "rule"}
	batchControlFields = []string{"record_type", "batch_number", "mode", "entry_count", "gross_fen", "discount_fen", "charged_fen", "entry_hash"}
	fileControlFields  = []string{"record_type", "batch_count", "entry_count", "gross_fen", "discount_fen", "charged_fen", "file_hash"}
)

// canonical checks that out, the parsed record appended again, is line
// plus its newline.
func canonical(line, out []byte) error {
	if len(out) != len(line)+1 || !bytes.Equal(out[:len(line)], line) {
		return fieldError("", "not in the form the clearing writer produces")
	}
	return nil
}

// Parse parses a file header line (without newline), strictly.
func (h *FileHeader) Parse(line []byte) error {
	// The version first: another version's header may have other fields,
	// and "unsupported version" says more than a field count.
	if f := bytes.SplitN(line, []byte("|"), 4); len(f) == 4 && string(f[1]) == ClearingFormat && string(f[2]) != strconv.Itoa(ClearingVersion) {
		return fieldError("version", fmt.Sprintf("version %.10q is not supported; this release reads version %d", f[2], ClearingVersion))
	}
	var buf [maxRecordFields][]byte
	f, err := splitRecord(&buf, line, RecordFileHeader, fileHeaderFields)
	if err != nil {
		return err
	}
	var ok bool
	*h = FileHeader{}
	switch {
	case string(f[1]) != ClearingFormat:
		return fieldError("format", "want "+ClearingFormat)
	case string(f[5]) != ClearingCurrency:
		return fieldError("currency", "want "+ClearingCurrency)
	case string(f[6]) != ClearingUnit:
		return fieldError("unit", "want "+ClearingUnit)
	}
	if h.Day, ok = parseDay(f[3]); !ok {
		return fieldError("settlement_day", "not a YYYY-MM-DD date")
	}
	if h.Issuer, ok = parseCity(f[4]); !ok {
		return fieldError("issuer", "not a city code")
	}
	h.PolicyFingerprint = string(f[7])
	var out [512]byte
	return canonical(line, h.Append(out[:0]))
}

// Parse parses a batch header line (without newline), strictly.
func (h *BatchHeader) Parse(line []byte) error {
	var buf [maxRecordFields][]byte
	f, err := splitRecord(&buf, line, RecordBatchHeader, batchHeaderFields)
	if err != nil {
		return err
	}
	var ok bool
	*h = BatchHeader{}
	if h.Batch, err = parseBatchNumber(f[1]); err != nil {
		return err
	}
	if h.Mode, ok = parseMode(f[2]); !ok {
		return fieldError("mode", "unknown mode")
	}
	if h.Issuer, ok = parseCity(f[3]); !ok {
		return fieldError("issuer", "not a city code")
	}
	if h.Acquirer, ok = parseCity(f[4]); !ok {
		return fieldError("acquirer", "not a city code")
	}
	if h.Day, ok = parseDay(f[5]); !ok {
		return fieldError("settlement_day", "not a YYYY-MM-DD date")
	}
	var out [512]byte
	return canonical(line, h.Append(out[:0]))
}

// Parse parses an entry detail line (without newline), strictly.
func (e *Detail) Parse(line []byte) error {
	var buf [maxRecordFields][]byte
	f, err := splitRecord(&buf, line, RecordEntry, entryFields)
	if err != nil {
		return err
	}
	var ok bool
	*e = Detail{}
	if e.Seq, ok = parseInt(f[1]); !ok || e.Seq < 1 {
		return fieldError("seq", "not a sequence number")
	}
	if !setTapID(&e.TapID, f[2]) {
		return fieldError("tap_id", "not a tap identifier")
	}
	if !setCardID(&e.Card, f[3]) {
		return fieldError("card_id", "not a card identifier")
	}
	if e.Product, ok = parseProduct(f[4]); !ok {
		return fieldError("card_product", "unknown card product")
	}
	if e.Mode, ok = parseMode(f[5]); !ok {
		return fieldError("mode", "unknown mode")
	}
	if e.Action, ok = parseAction(f[6]); !ok {
		return fieldError("action", "unknown action")
	}
	if !setCode(&e.Line, f[7]) {
		return fieldError("line", "not a line code")
	}
	if !setCode(&e.EntryStop, f[8]) {
		return fieldError("entry_stop", "not a stop code")
	}
	if !setCode(&e.Stop, f[10]) {
		return fieldError("stop", "not a stop code")
	}
	if e.Time, e.Offset, ok = parseTime(f[11]); !ok {
		return fieldError("time", "not an RFC 3339 time as the writer spells it")
	}
	if len(f[9]) > 0 {
		var off int32
		if e.EntryTime, off, ok = parseTime(f[9]); !ok || off != e.Offset || e.EntryTime == 0 {
			return fieldError("entry_time", "not an RFC 3339 time with the offset of time")
		}
	}
	for i, dst := range [...]*transit.Fen{&e.Gross, &e.Discount, &e.Charged} {
		if *dst, ok = parseFen(f[12+i]); !ok {
			return fieldError(entryFields[12+i], "not an amount in fen")
		}
	}
	if e.Status, ok = parseStatus(f[15]); !ok {
		return fieldError("status", "unknown status")
	}
	if e.Rules, ok = parseRules(f[16]); !ok {
		return fieldError("rule", "unknown rule")
	}
	var out [512]byte
	return canonical(line, e.Append(out[:0]))
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
	if c.Entries, ok = parseInt(f[3]); !ok {
		return fieldError("entry_count", "not a count")
	}
	if err := parseSums(f[4:7], &c.Gross, &c.Discount, &c.Charged); err != nil {
		return err
	}
	if err := parseHash(f[7], &c.EntryHash, "entry_hash"); err != nil {
		return err
	}
	var out [512]byte
	return canonical(line, c.Append(out[:0]))
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
	if c.Entries, ok = parseInt(f[2]); !ok {
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
