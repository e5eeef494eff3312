package ingest

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// The encoders of correction records are the decoders' inverse: a record
// that CorrectionReader decoded, encoded in either format, reads back as
// the same record (Correction.Line aside). They do not validate: a record
// that would not decode is written anyway, as valid CSV or JSON.

// correctionCSVHeader is the CSV header row of CorrectionColumns.
var correctionCSVHeader = func() []byte {
	var b []byte
	for i, c := range CorrectionColumns() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c...)
	}
	return b
}()

// AppendCorrectionCSVHeader appends the header row of a correction CSV
// file (CorrectionColumns), without a line terminator.
func AppendCorrectionCSVHeader(b []byte) []byte { return append(b, correctionCSVHeader...) }

// AppendCorrectionCSV appends r as one CSV row in the column order of
// AppendCorrectionCSVHeader, without a line terminator. The amount is
// always written, 0 for a refund. Fields are quoted where encoding/csv's
// Writer quotes them, so a row is byte for byte what it writes: that is
// how the batch job has always written a refused correction's raw text in
// the rejects file, and those files do not change.
func AppendCorrectionCSV(b []byte, r *CorrectionRecord) []byte {
	c := &r.Correction
	b = appendCorrectionCSVField(b, c.ID.Bytes())
	b = append(b, ',')
	b = appendCorrectionCSVField(b, c.Card.Bytes())
	b = append(b, ',')
	b = appendCorrectionCSVField(b, c.Tap.Bytes())
	b = append(b, ',')
	b = appendCorrectionCSVField(b, []byte(c.Kind.String()))
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(c.Amount), 10)
	b = append(b, ',')
	return appendCorrectionCSVField(b, []byte(r.Reason))
}

// appendCorrectionCSVField quotes what appendCSVField quotes and, as
// encoding/csv does, a value that begins with a Unicode space (which
// spreadsheet tools trim when it is not quoted) and `\.` (PostgreSQL's
// end-of-data marker). A reason may begin with a space; so may an
// identifier, with a non-ASCII one.
func appendCorrectionCSVField(b, v []byte) []byte {
	if r, _ := utf8.DecodeRune(v); unicode.IsSpace(r) || string(v) == `\.` {
		return appendCSVQuoted(b, v)
	}
	return appendCSVField(b, v)
}

// AppendCorrectionJSON appends r as the JSON object of the correction
// files' JSON-lines form, without a newline: keys in the order of
// CorrectionColumns, the amount left out of a refund. It is also the value
// of a correction message on the stream's topic (package feed).
func AppendCorrectionJSON(b []byte, r *CorrectionRecord) []byte {
	c := &r.Correction
	b = append(b, `{"correction_id":`...)
	b = appendJSONString(b, c.ID.Bytes())
	b = append(b, `,"card":`...)
	b = appendJSONString(b, c.Card.Bytes())
	b = append(b, `,"tap_id":`...)
	b = appendJSONString(b, c.Tap.Bytes())
	b = append(b, `,"kind":"`...)
	b = append(b, c.Kind.String()...)
	b = append(b, '"')
	if c.Kind != transit.CorrectionRefund {
		b = append(b, `,"amount":`...)
		b = strconv.AppendInt(b, int64(c.Amount), 10)
	}
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, []byte(r.Reason))
	return append(b, '}')
}
