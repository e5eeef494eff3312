package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// writeBufferSize batches records into large writes to the file or
// compressor underneath.
const writeBufferSize = 256 << 10

// Writer encodes taps as CSV (with a header row) or JSON lines. Every tap
// it writes reads back as an identical Tap: Write validates first. A Writer
// belongs to one goroutine; call Flush when done.
type Writer struct {
	bw     *bufio.Writer
	format Format
	err    error // sticky write error
}

// NewWriter returns a Writer of format f to w; FormatAuto means CSV. A CSV
// Writer writes the header row first, so a file of zero taps still has
// one.
func NewWriter(w io.Writer, f Format) *Writer {
	if f != FormatJSONL {
		f = FormatCSV
	}
	tw := &Writer{bw: bufio.NewWriterSize(w, writeBufferSize), format: f}
	if f == FormatCSV {
		tw.bw.Write(append(AppendCSVHeader(tw.bw.AvailableBuffer()), '\n'))
	}
	return tw
}

// Write validates t and writes it as one line. A tap that fails
// validation is not written, and the error (a *FieldError inside) says
// which field is wrong; the Writer stays usable. A write error is sticky.
func (w *Writer) Write(t *transit.Tap) error {
	if w.err != nil {
		return w.err
	}
	if fe := Validate(t); fe != nil {
		return fmt.Errorf("ingest: write tap %q: %w", t.ID.Bytes(), fe)
	}
	b := w.bw.AvailableBuffer()
	if w.format == FormatJSONL {
		b = AppendJSON(b, t)
	} else {
		b = AppendCSV(b, t)
	}
	b = append(b, '\n')
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("ingest: write taps: %w", err)
	}
	return w.err
}

// Flush writes buffered records to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("ingest: write taps: %w", err)
	}
	return w.err
}

// Validate reports the first field of t, in schema order, that the readers
// would reject or could not reproduce, as a *FieldError; nil if t is
// valid. Beyond the readers' rules it requires identifiers to be cleanly
// NUL-padded and the UTC offset to be whole minutes within ±23:59, since
// nothing else can be written and read back unchanged.
func Validate(t *transit.Tap) *FieldError {
	fe := func(f field, reason string, err error) *FieldError {
		return &FieldError{Field: f.name(), Reason: reason, Err: err}
	}
	if reason, err := checkID(t.ID[:], true); err != nil {
		return fe(fTapID, reason, err)
	}
	if reason, err := checkID(t.Card[:], true); err != nil {
		return fe(fCardID, reason, err)
	}
	if t.Product.String() == "" {
		return fe(fProduct, fmt.Sprintf("invalid product %d", t.Product), nil)
	}
	if !t.Issuer.Valid() {
		return fe(fIssuer, fmt.Sprintf("%d: %v", t.Issuer, transit.ErrCityCode), transit.ErrCityCode)
	}
	if !t.City.Valid() {
		return fe(fCity, fmt.Sprintf("%d: %v", t.City, transit.ErrCityCode), transit.ErrCityCode)
	}
	if t.Mode.String() == "" {
		return fe(fMode, fmt.Sprintf("invalid mode %d", t.Mode), nil)
	}
	if reason, err := checkID(t.Line[:], false); err != nil {
		return fe(fLine, reason, err)
	}
	if reason, err := checkID(t.Stop[:], false); err != nil {
		return fe(fStop, reason, err)
	}
	if t.Mode == transit.ModeMetro && t.Stop.IsZero() {
		return fe(fStop, "required for metro", transit.ErrEmpty)
	}
	if t.Action.String() == "" {
		return fe(fAction, fmt.Sprintf("invalid action %d", t.Action), nil)
	}
	if (t.Mode == transit.ModeBus) != (t.Action == transit.ActionBoard) {
		return fe(fAction, fmt.Sprintf("%q is not valid for mode %s", t.Action.String(), t.Mode), nil)
	}
	if t.Offset%60 != 0 || t.Offset < -maxOffsetSec || t.Offset > maxOffsetSec {
		return fe(fTime, fmt.Sprintf("UTC offset %ds: want whole minutes within ±23:59", t.Offset), nil)
	}
	// The wall-clock time, Time+Offset, must fall in the years parseTime
	// accepts; moving the offset to the bounds' side cannot overflow.
	if off := int64(t.Offset) * 1e9; t.Time < minLocalNano-off || t.Time > maxLocalNano-off {
		return fe(fTime, timeYear.String(), nil)
	}
	if reason, err := checkID(t.Device[:], false); err != nil {
		return fe(fDevice, reason, err)
	}
	return nil
}

// checkID checks a NUL-padded identifier with transit's rule (through
// Set, on a scratch array), plus UTF-8 validity and clean padding, which
// the padded form cannot otherwise guarantee. It returns the reason and
// the sentinel of a fault, or "" and nil.
func checkID(id []byte, required bool) (string, error) {
	v := id
	if i := bytes.IndexByte(id, 0); i >= 0 {
		v = id[:i]
		for _, c := range id[i:] {
			if c != 0 {
				return "bytes after the NUL padding", transit.ErrChar
			}
		}
	}
	if len(v) == 0 {
		if required {
			return "empty", transit.ErrEmpty
		}
		return "", nil
	}
	var scratch transit.TapID // the widest identifier: v always fits
	if err := scratch.Set(v); err != nil {
		return charReason(v), transit.ErrChar
	}
	if !utf8.Valid(v) {
		return "invalid UTF-8", transit.ErrChar
	}
	return "", nil
}

// csvHeader is the header row the Writer emits: the schema's columns in
// canonical order.
var csvHeader = func() []byte {
	var b []byte
	for f := range numFields {
		if f > 0 {
			b = append(b, ',')
		}
		b = append(b, fieldNames[f]...)
	}
	return b
}()

// AppendCSVHeader appends the CSV header row, without a line terminator.
func AppendCSVHeader(b []byte) []byte { return append(b, csvHeader...) }

// AppendCSV appends t as one CSV row in the column order of
// AppendCSVHeader, without a line terminator. It does not validate t (see
// Validate); a value that needs quoting is quoted per RFC 4180.
func AppendCSV(b []byte, t *transit.Tap) []byte {
	b = appendCSVField(b, t.ID.Bytes())
	b = append(b, ',')
	b = appendCSVField(b, t.Card.Bytes())
	b = append(b, ',')
	b = append(b, t.Product.String()...)
	b = append(b, ',')
	b = t.Issuer.AppendText(b)
	b = append(b, ',')
	b = t.City.AppendText(b)
	b = append(b, ',')
	b = append(b, t.Mode.String()...)
	b = append(b, ',')
	b = appendCSVField(b, t.Line.Bytes())
	b = append(b, ',')
	b = appendCSVField(b, t.Stop.Bytes())
	b = append(b, ',')
	b = append(b, t.Action.String()...)
	b = append(b, ',')
	b = t.AppendTime(b)
	b = append(b, ',')
	return appendCSVField(b, t.Device.Bytes())
}

// appendCSVField appends v as a CSV field, quoted per RFC 4180 when it
// holds a comma, a quote or a line break.
func appendCSVField(b, v []byte) []byte {
	if bytes.IndexAny(v, ",\"\r\n") < 0 {
		return append(b, v...)
	}
	return appendCSVQuoted(b, v)
}

// appendCSVQuoted appends v as a quoted CSV field, its quotes doubled.
func appendCSVQuoted(b, v []byte) []byte {
	b = append(b, '"')
	for _, c := range v {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// AppendJSON appends t as one JSON object, without a newline. Keys come in
// canonical order; optional fields that are not given (line, stop, device)
// are left out; issuer and city are written as strings. It does not
// validate t (see Validate), but always produces valid JSON: invalid UTF-8
// is written as U+FFFD.
func AppendJSON(b []byte, t *transit.Tap) []byte {
	b = append(b, `{"tap_id":`...)
	b = appendJSONString(b, t.ID.Bytes())
	b = append(b, `,"card_id":`...)
	b = appendJSONString(b, t.Card.Bytes())
	b = append(b, `,"card_product":"`...)
	b = append(b, t.Product.String()...)
	b = append(b, `","issuer":"`...)
	b = t.Issuer.AppendText(b)
	b = append(b, `","city":"`...)
	b = t.City.AppendText(b)
	b = append(b, `","mode":"`...)
	b = append(b, t.Mode.String()...)
	b = append(b, '"')
	if !t.Line.IsZero() {
		b = append(b, `,"line":`...)
		b = appendJSONString(b, t.Line.Bytes())
	}
	if !t.Stop.IsZero() {
		b = append(b, `,"stop":`...)
		b = appendJSONString(b, t.Stop.Bytes())
	}
	b = append(b, `,"action":"`...)
	b = append(b, t.Action.String()...)
	b = append(b, `","time":"`...)
	b = t.AppendTime(b)
	b = append(b, '"')
	if d := t.Device.Bytes(); len(d) > 0 {
		b = append(b, `,"device":`...)
		b = appendJSONString(b, d)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends v as a JSON string.
func appendJSONString(b, v []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(v[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, v[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		b = append(b, v[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, v[start:]...)
	return append(b, '"')
}
