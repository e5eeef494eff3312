package settlement

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/tapsettle/tapsettle/internal/buildinfo"
	"github.com/tapsettle/tapsettle/transit"
)

// Constants of the file header. ClearingVersion 4 added the producer
// field (docs/clearing-format.md, Versioning); readers refuse every other
// version.
const (
	ClearingFormat   = "TSCLR"
	ClearingVersion  = 4
	ClearingCurrency = "CNY"
	ClearingUnit     = "fen"
)

// FileHeader is record type 1, the first line of a clearing file: the
// issuer whose cards' rides the file clears.
type FileHeader struct {
	Day               transit.Day
	Issuer            transit.City // the payer: the issuer of the cards
	PolicyFingerprint string
	// Producer names the build that wrote the file ("tapsettle/v1.4.0",
	// see buildinfo.Info.Producer): 1 to 128 bytes of printable ASCII
	// without spaces, '|', '"' or '\'. BuildClearingFile and WriteDay
	// fill in the running build's when it is empty.
	Producer string
}

// fileHeaderFields are the schema names of the file header's fields.
var fileHeaderFields = []string{"record_type", "format", "version", "settlement_day", "issuer", "currency", "unit", "policy_fingerprint", "producer"}

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
	b = append(b, '|')
	b = append(b, h.Producer...)
	return append(b, '\n')
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
	h.Producer = string(f[8])
	var out [512]byte
	return canonical(line, h.Append(out[:0]))
}

// Validate checks what the header alone can decide: an issuer code, a
// policy fingerprint that keeps the header one line of nine fields, and a
// producer. The reader calls it after Parse; the rules that relate
// records to each other are ReadClearingFile's.
func (h *FileHeader) Validate() error {
	if !h.Issuer.Valid() {
		return fieldError("issuer", "not a city code")
	}
	if bytes.ContainsAny([]byte(h.PolicyFingerprint), "|\r\n") {
		return fieldError("policy_fingerprint", "contains '|' or a line break")
	}
	if !buildinfo.ValidProducer(h.Producer) {
		return fieldError("producer", "want 1 to 128 bytes of printable ASCII without spaces, '|', '\"' or '\\'")
	}
	return nil
}
