package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// Correction files carry operators' refunds and re-prices
// (transit.Correction) in the containers of tap files: CSV with a header row
// or JSON lines, plain or compressed with zstd or gzip, detected the same
// way (docs/corrections-format.md). They are few and written
// by people's tools, so their decoding favours strictness and clear
// messages over speed: unlike a tap file, a column or key outside the
// schema is an error, since a misspelt "amount" must not pass as a refund.

// MaxCorrectionReason bounds the bytes of a correction's reason.
const MaxCorrectionReason = 200

// ErrUnknownColumn: a correction file's header names a column outside the
// correction schema. It comes wrapped in a *HeaderError.
var ErrUnknownColumn = errors.New("unknown column")

// CorrectionRecord is one decoded correction with the reason the operator
// gave for it, which transit.Correction does not carry.
type CorrectionRecord struct {
	Correction transit.Correction
	// Reason is the operator's free-text reason: 1..MaxCorrectionReason
	// bytes of valid UTF-8 without control characters.
	Reason string
}

// cfield is a field of the correction schema, in canonical column order:
// the order in which a record's fields are checked.
type cfield uint8

const (
	cfID cfield = iota
	cfCard
	cfTap
	cfKind
	cfAmount
	cfReason
	numCFields
)

// cfieldNames are the CSV column names and JSON keys, indexed by cfield.
var cfieldNames = [numCFields]string{
	cfID:     "correction_id",
	cfCard:   "card",
	cfTap:    "tap_id",
	cfKind:   "kind",
	cfAmount: "amount",
	cfReason: "reason",
}

// cfieldList names the schema's columns for a header error.
const cfieldList = "correction_id, card, tap_id, kind, amount and reason"

func (f cfield) bit() uint8     { return 1 << f }
func (f cfield) name() string   { return cfieldNames[f] }
func (f cfield) required() bool { return f != cfAmount }

// lookupCField returns the correction field named name.
func lookupCField(name []byte) (cfield, bool) {
	for f, n := range cfieldNames {
		if n == string(name) {
			return cfield(f), true
		}
	}
	return 0, false
}

// CorrectionColumns returns the correction schema's field names in
// canonical order: a CSV header, and the JSON keys.
func CorrectionColumns() []string {
	out := make([]string, numCFields)
	copy(out, cfieldNames[:])
	return out
}

// corrValues holds the raw values of one correction record, not yet
// checked. They alias the line or a decoder's scratch buffer.
type corrValues struct {
	val [numCFields][]byte
	// got marks the fields given a value: a CSV column of the header, a
	// JSON key with a value other than null.
	got uint8
	// num marks values that were JSON numbers.
	num uint8
}

func (v *corrValues) value(f cfield) []byte {
	if v.got&f.bit() == 0 {
		return nil
	}
	return v.val[f]
}

// absent returns the fault of a required field given no value: "missing"
// when the record does not give it at all (JSON), "empty" otherwise.
func (v *corrValues) absent(f cfield, why string) *FieldError {
	reason := "empty"
	if v.got&f.bit() == 0 {
		reason = "missing"
	}
	if why != "" {
		reason += ": " + why
	}
	return &FieldError{Field: f.name(), Reason: reason, Err: transit.ErrEmpty}
}

// fill checks the values field by field in schema order, then the
// combination with transit.Correction.Validate, and stores them in rec.
// The first fault is returned; rec must then not be used.
func (v *corrValues) fill(rec *CorrectionRecord) *FieldError {
	*rec = CorrectionRecord{}
	c := &rec.Correction
	if fe := v.id(cfID, c.ID[:], c.ID.Set); fe != nil {
		return fe
	}
	if fe := v.id(cfCard, c.Card[:], c.Card.Set); fe != nil {
		return fe
	}
	if fe := v.id(cfTap, c.Tap[:], c.Tap.Set); fe != nil {
		return fe
	}
	kv := v.value(cfKind)
	if len(kv) == 0 {
		return v.absent(cfKind, "")
	}
	kind, ok := transit.ParseCorrectionKind(kv)
	if !ok {
		return &FieldError{Field: cfKind.name(), Reason: quoteValue(kv, v.num&cfKind.bit() != 0) +
			`: want "refund", "partial-refund" or "reprice"`}
	}
	c.Kind = kind
	if av := v.value(cfAmount); len(av) > 0 {
		amount, reason := parseAmount(av)
		if reason != "" {
			return &FieldError{Field: cfAmount.name(), Reason: quoteValue(av, v.num&cfAmount.bit() != 0) + ": " + reason}
		}
		c.Amount = amount
	} else if kind != transit.CorrectionRefund {
		// A re-price to 0 is a real correction, so 0 must be written
		// out: an amount left out is never read as 0 but for a refund.
		return v.absent(cfAmount, "required for "+kind.String())
	}
	rv := v.value(cfReason)
	if len(rv) == 0 {
		return v.absent(cfReason, "")
	}
	if isBlank(rv) {
		return &FieldError{Field: cfReason.name(), Reason: "blank: give the reason for the correction", Err: transit.ErrEmpty}
	}
	if fe := checkReason(rv); fe != nil {
		return fe
	}
	if err := c.Validate(); err != nil {
		return &FieldError{Field: validateField(c).name(), Reason: err.Error(), Err: err}
	}
	rec.Reason = string(rv)
	return nil
}

// id stores identifier field f through set, transit's definition of a
// valid identifier, after the UTF-8 check that transit leaves to decoders.
func (v *corrValues) id(f cfield, dst []byte, set func([]byte) error) *FieldError {
	b := v.value(f)
	if len(b) == 0 {
		return v.absent(f, "")
	}
	if !utf8.Valid(b) {
		return &FieldError{Field: f.name(), Reason: "invalid UTF-8"}
	}
	err := set(b)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, transit.ErrChar):
		return &FieldError{Field: f.name(), Reason: charReason(b), Err: transit.ErrChar}
	case errors.Is(err, transit.ErrTooLong):
		return &FieldError{Field: f.name(), Reason: err.Error(), Err: transit.ErrTooLong}
	}
	return &FieldError{Field: f.name(), Reason: err.Error(), Err: err}
}

// validateField names the field that Correction.Validate's first failing
// check is about, following its order.
func validateField(c *transit.Correction) cfield {
	switch {
	case c.ID[0] == 0:
		return cfID
	case c.Card[0] == 0:
		return cfCard
	case c.Tap[0] == 0:
		return cfTap
	case c.Kind < transit.CorrectionRefund || c.Kind > transit.CorrectionReprice:
		return cfKind
	}
	return cfAmount
}

// maxAmountDigits bounds an amount's digits so that it fits an int64;
// anything near it is far beyond transit.MaxCorrectionAmount anyway.
const maxAmountDigits = 18

// parseAmount parses a whole number of fen: an optional '-' and decimal
// digits, nothing else (no '+', no spaces, no fraction or exponent). The
// range is Correction.Validate's business. It returns a reason on failure.
func parseAmount(v []byte) (transit.Fen, string) {
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, "want a whole number of fen"
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, "want a whole number of fen"
		}
	}
	if len(digits) > maxAmountDigits {
		return 0, "out of range"
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil { // unreachable after the checks above
		return 0, "want a whole number of fen"
	}
	return transit.Fen(n), ""
}

// checkReason checks a reason that is not empty.
func checkReason(v []byte) *FieldError {
	name := cfReason.name()
	if len(v) > MaxCorrectionReason {
		return &FieldError{Field: name, Reason: fmt.Sprintf("too long: %d bytes, at most %d", len(v), MaxCorrectionReason),
			Err: transit.ErrTooLong}
	}
	if !utf8.Valid(v) {
		return &FieldError{Field: name, Reason: "invalid UTF-8"}
	}
	for i, r := range string(v) {
		if unicode.IsControl(r) {
			return &FieldError{Field: name, Reason: fmt.Sprintf("control character %U at byte %d", r, i+1), Err: transit.ErrChar}
		}
	}
	return nil
}

// DecodeCorrectionJSON decodes one JSON object (a JSON-lines record
// without its line terminator, or a message value) into rec, which it
// overwrites; rec.Correction.Line is left 0. It returns nil on success;
// otherwise rec must not be used. Keys are the correction schema's
// (CorrectionColumns): any other key, or one given twice, is a fault.
func DecodeCorrectionJSON(line []byte, rec *CorrectionRecord) *FieldError {
	var d corrJSONDecoder
	var v corrValues
	return d.decode(line, &v, rec)
}

// corrJSONDecoder keeps the scratch buffer of unescaped strings across
// records.
type corrJSONDecoder struct {
	scratch []byte
}

// decode decodes one object into rec. Faults come in this order: the first
// met by the scan (JSON syntax, an unknown or duplicate key, a value of the
// wrong type), then field values in schema order, then invalid UTF-8
// anywhere in the line.
func (d *corrJSONDecoder) decode(line []byte, v *corrValues, rec *CorrectionRecord) *FieldError {
	*v = corrValues{}
	s := jsonScanner{buf: line, scratch: d.scratch[:0]}
	fe := d.scan(&s, v)
	d.scratch = s.scratch[:0]
	if fe != nil {
		return fe
	}
	if fe := v.fill(rec); fe != nil {
		return fe
	}
	if s.nonASCII && !utf8.Valid(line) {
		return &FieldError{Reason: "invalid UTF-8"}
	}
	return nil
}

// scan walks the object in s.buf, storing values in v; it stops at the
// first fault.
func (d *corrJSONDecoder) scan(s *jsonScanner, v *corrValues) *FieldError {
	line := s.buf
	syntax := func(i int, msg string) *FieldError {
		s.syntax(i, msg)
		return s.ft.fieldError()
	}
	i := s.ws(0)
	if i >= len(line) || line[i] != '{' {
		return syntax(i, "want a JSON object")
	}
	i = s.ws(i + 1)
	var seen uint8
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return syntax(i, "want a string key")
			}
			key, next, ok := s.str(i)
			if !ok {
				return s.ft.fieldError()
			}
			i = s.ws(next)
			if i >= len(line) || line[i] != ':' {
				return syntax(i, "want ':' after a key")
			}
			i = s.ws(i + 1)
			f, known := lookupCField(key)
			if !known {
				return &FieldError{Reason: fmt.Sprintf("unknown key %s (the keys are %s)", quoteValue(key, false), cfieldList)}
			}
			if seen&f.bit() != 0 {
				return &FieldError{Field: f.name(), Reason: fmt.Sprintf("duplicate key %q", key)}
			}
			seen |= f.bit()
			if i >= len(line) {
				return syntax(i, "want a value")
			}
			want := "a string"
			if f == cfAmount {
				want = "an integer"
			}
			switch c := line[i]; {
			case c == '"' && f != cfAmount:
				val, next, ok := s.str(i)
				if !ok {
					return s.ft.fieldError()
				}
				v.val[f], v.got = val, v.got|f.bit()
				i = next
			case c == 'n' && len(line)-i >= 4 && string(line[i:i+4]) == "null":
				i += 4 // null: not given
			case (c == '-' || c-'0' <= 9) && f == cfAmount:
				next, ok := s.number(i)
				if !ok {
					return s.ft.fieldError()
				}
				v.val[f], v.got, v.num = line[i:next], v.got|f.bit(), v.num|f.bit()
				i = next
			default:
				next, ok := s.skip(i, 0)
				if !ok {
					return s.ft.fieldError()
				}
				return &FieldError{Field: f.name(), Reason: "want " + want + ", got " + jsonKind(line[i:next])}
			}
			i = s.ws(i)
			if i < len(line) && line[i] == ',' {
				i = s.ws(i + 1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return syntax(i, "want ',' or '}' after a value")
		}
	}
	if i = s.ws(i); i != len(line) {
		return syntax(i, "unexpected data after the object")
	}
	return nil
}

// corrCSVDecoder splits correction CSV rows by the header's columns.
type corrCSVDecoder struct {
	csv  csvDecoder // for its RFC 4180 splitter and scratch buffer
	cols []cfield   // column index -> field
}

// parseHeader reads the header row: every column must be in the schema,
// once, and every required one present.
func (d *corrCSVDecoder) parseHeader(source string, lineNo int64, line []byte) error {
	d.cols = d.cols[:0]
	var ft fault
	var has uint8
	var herr error
	ok := d.csv.split(line, func(_ int, name []byte) {
		if herr != nil {
			return
		}
		f, known := lookupCField(name)
		switch {
		case !known:
			herr = &HeaderError{Source: source, Line: lineNo, Column: string(name), Err: ErrUnknownColumn,
				Detail: "a correction file has the columns " + cfieldList}
		case has&f.bit() != 0:
			herr = &HeaderError{Source: source, Line: lineNo, Column: f.name(), Err: ErrDuplicateColumn}
		}
		has |= f.bit()
		d.cols = append(d.cols, f)
	}, &ft)
	if !ok {
		return &HeaderError{Source: source, Line: lineNo, Err: ErrHeaderSyntax, Detail: ft.reason()}
	}
	if herr != nil {
		return herr
	}
	for f := range numCFields {
		if f.required() && has&f.bit() == 0 {
			return &HeaderError{Source: source, Line: lineNo, Column: f.name(), Err: ErrMissingColumn}
		}
	}
	return nil
}

// decode splits one data row and fills rec from it.
func (d *corrCSVDecoder) decode(line []byte, v *corrValues, rec *CorrectionRecord) *FieldError {
	*v = corrValues{}
	var ft fault
	n := 0
	ok := d.csv.split(line, func(col int, val []byte) {
		if col < len(d.cols) {
			f := d.cols[col]
			v.val[f], v.got = val, v.got|f.bit()
		}
		n = col + 1
	}, &ft)
	if !ok {
		fe := &FieldError{Reason: ft.reason()}
		if ft.pos <= len(d.cols) { // 1-based column of the quoting error
			fe.Field = d.cols[ft.pos-1].name()
		}
		return fe
	}
	if n != len(d.cols) {
		return &FieldError{Reason: fmt.Sprintf("wrong number of fields: %d, header has %d", n, len(d.cols))}
	}
	return v.fill(rec)
}

// CorrectionStats counts what a CorrectionReader has read.
// Records == Corrections + Rejected always holds.
type CorrectionStats struct {
	// Lines is the number of physical lines read, header and blank lines
	// included.
	Lines int64
	// Records is the number of data records: lines that are not blank,
	// less the CSV header.
	Records int64
	// Corrections is the number of records decoded.
	Corrections int64
	// Rejected is the number of records reported to OnReject.
	Rejected int64
	// Bytes is the number of uncompressed bytes read.
	Bytes int64
}

// CorrectionReader decodes corrections from a CSV or JSON-lines stream,
// plain or compressed with zstd or gzip, detected as a Reader detects
// them. Malformed records, and records that fail
// transit.Correction.Validate, never stop it: each is counted and handed
// to Options.OnReject, and reading goes on with the next line. A
// CorrectionReader belongs to one goroutine.
type CorrectionReader struct {
	// lines supplies decompressed lines; it is headerless, the header
	// being parsed here against the correction schema.
	lines *Reader
	csv   corrCSVDecoder
	json  corrJSONDecoder
	vals  corrValues
	stats CorrectionStats
}

// OpenCorrections opens the correction file at path ("-" for standard
// input) and returns a CorrectionReader over it; see Open for how
// compression and format are detected. Close closes the file.
func OpenCorrections(path string, opts Options) (*CorrectionReader, error) {
	if path == "-" {
		return NewCorrectionReader("-", os.Stdin, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	r, err := NewCorrectionReader(path, f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.lines.file = f
	return r, nil
}

// readAllBatch is how many records ReadCorrections asks Read for at a time.
const readAllBatch = 256

// ReadCorrections reads the whole correction file at path ("-" for
// standard input) and returns its corrections in file order, each with
// Correction.Line set, and the reader's final Stats. Correction files are
// small, so callers that act on them as a whole (a settlement run, the
// command that publishes them) want them in one slice rather than through
// a CorrectionReader's batches.
//
// Malformed records are reported to opts.OnReject as Read reports them
// (naming path in each Reject) and counted in Stats.Rejected; they are not
// errors. The errors are OpenCorrections', Read's and Close's, as they
// return them: each names the file. On an error no records are returned,
// but rejects reported before it have been.
func ReadCorrections(path string, opts Options) ([]CorrectionRecord, CorrectionStats, error) {
	r, err := OpenCorrections(path, opts)
	if err != nil {
		return nil, CorrectionStats{}, err
	}
	var recs []CorrectionRecord
	for {
		// Read straight into the spare capacity: no batch buffer to copy
		// from.
		recs = slices.Grow(recs, readAllBatch)
		n, err := r.Read(recs[len(recs):cap(recs)])
		recs = recs[:len(recs)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			st := r.Stats()
			r.Close()
			return nil, st, err
		}
	}
	st := r.Stats()
	if err := r.Close(); err != nil {
		return nil, st, err
	}
	return recs, st, nil
}

// NewCorrectionReader returns a CorrectionReader over src; name
// identifies src in rejects and errors. It reads the start of src to
// detect compression and format and, for CSV, the header row, so a header
// with a missing, unknown or repeated column is reported here as a
// *HeaderError. An empty input holds zero records. The caller keeps
// ownership of src.
func NewCorrectionReader(name string, src io.Reader, opts Options) (*CorrectionReader, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	r := &CorrectionReader{lines: &Reader{opts: opts, headerless: true}}
	if err := r.Reset(name, src); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Reset makes r read src as if it were new, keeping its buffers and
// decompressors. It closes a file that OpenCorrections opened, and resets
// Stats.
func (r *CorrectionReader) Reset(name string, src io.Reader) error {
	r.stats = CorrectionStats{}
	r.csv.cols = r.csv.cols[:0]
	lr := r.lines
	if err := lr.Reset(name, src); err != nil {
		return err
	}
	if lr.format != FormatCSV {
		return nil
	}
	line, err := lr.headerLine()
	if err == nil && line != nil {
		err = r.csv.parseHeader(lr.name, lr.stats.Lines, line)
	}
	if err != nil {
		lr.err = err // sticky: Read returns it
	}
	return err
}

// Read decodes up to len(dst) corrections into dst and returns how many
// it decoded, each with Correction.Line set to its line. Like io.Reader,
// it returns n > 0 with a nil error while corrections remain, then 0 and
// io.EOF. An I/O error, or a compressed stream that breaks off, is
// returned (wrapped, naming the file) once the corrections decoded before
// it have been returned.
//
// Malformed records are not errors: each is counted in Stats.Rejected and
// passed to Options.OnReject before Read returns. Entries of dst beyond n
// may have been written to.
func (r *CorrectionReader) Read(dst []CorrectionRecord) (int, error) {
	lr := r.lines
	n := 0
	for n < len(dst) {
		line, size, long, ok := lr.readLine()
		if !ok {
			break
		}
		if long {
			r.stats.Records++
			r.reject(line, &FieldError{Reason: fmt.Sprintf("line too long: %d bytes, at most %d", size, lr.opts.MaxLine)})
			continue
		}
		if isBlank(line) {
			continue
		}
		r.stats.Records++
		rec := &dst[n]
		var fe *FieldError
		if lr.format == FormatJSONL {
			fe = r.json.decode(line, &r.vals, rec)
		} else {
			fe = r.csv.decode(line, &r.vals, rec)
		}
		if fe != nil {
			r.reject(line, fe)
			continue
		}
		rec.Correction.Line = lr.stats.Lines
		r.stats.Corrections++
		n++
	}
	if n > 0 || len(dst) == 0 {
		return n, nil
	}
	return 0, lr.err
}

// reject counts a record that failed with fe and reports it.
func (r *CorrectionReader) reject(line []byte, fe *FieldError) {
	r.stats.Rejected++
	if r.lines.opts.OnReject == nil {
		return
	}
	r.lines.opts.OnReject(transit.Reject{
		Source: r.lines.name,
		Line:   r.lines.stats.Lines,
		Field:  fe.Field,
		Reason: fe.Reason,
		Raw:    string(line[:min(len(line), transit.MaxRejectRaw)]),
	})
}

// Stats returns the counts so far.
func (r *CorrectionReader) Stats() CorrectionStats {
	st := r.stats
	st.Lines, st.Bytes = r.lines.stats.Lines, r.lines.stats.Bytes
	return st
}

// Name returns the name the CorrectionReader reports in rejects and
// errors.
func (r *CorrectionReader) Name() string { return r.lines.name }

// Format returns the record format read (detected or forced).
func (r *CorrectionReader) Format() Format { return r.lines.format }

// Compression returns the compression detected from the magic bytes.
func (r *CorrectionReader) Compression() Compression { return r.lines.comp }

// Close releases the decompressors and closes the file that
// OpenCorrections opened. It does not close a reader passed to
// NewCorrectionReader or Reset.
func (r *CorrectionReader) Close() error { return r.lines.Close() }
