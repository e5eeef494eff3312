package ingest

import (
	"bytes"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// JSON lines: each line is one flat object. The decoder is a small
// hand-written scanner rather than encoding/json because it must not
// allocate per record, must write straight into a transit.Tap, and must be
// stricter than encoding/json in three ways that matter for money: a
// duplicate key is an error (encoding/json keeps the last one), invalid
// UTF-8 is an error (encoding/json substitutes U+FFFD), and an unpaired
// UTF-16 surrogate in a \u escape is an error.

// maxJSONDepth bounds the nesting of values under unknown keys, which are
// skipped recursively.
const maxJSONDepth = 64

// maxUnknownKeys bounds the keys outside the schema in one object. They
// are checked for duplicates pairwise, which must stay cheap on hostile
// input; a genuine tap record has a handful.
const maxUnknownKeys = 256

// jsonDecoder holds the buffers one decoding goroutine reuses.
type jsonDecoder struct {
	// scratch receives unescaped strings; it grows as needed and is
	// reused by the next record.
	scratch []byte
	// unknown holds the keys outside the schema met in the current
	// record, to catch duplicates among them too.
	unknown [][]byte
	// nonASCII says that the last record's strings held non-ASCII bytes,
	// so the line needs a UTF-8 check.
	nonASCII bool
}

// DecodeJSON decodes one JSON object (a JSON-lines record without its line
// terminator, or a message value) into t, which it overwrites. It returns
// nil on success; otherwise t is partly written and must not be used.
//
// DecodeJSON allocates only when the object contains escaped strings or
// keys outside the schema, or when it fails. A caller decoding many
// records (a stream consumer) should keep a JSONDecoder instead.
func DecodeJSON(line []byte, t *transit.Tap) *FieldError {
	var d JSONDecoder
	return d.Decode(line, t)
}

// JSONDecoder decodes single JSON records like DecodeJSON, reusing its
// buffers so that steady-state decoding does not allocate. Its zero value
// is ready to use. It belongs to one goroutine.
type JSONDecoder struct {
	dec jsonDecoder
	rec record
	ft  fault
}

// Decode decodes line into t; see DecodeJSON.
func (d *JSONDecoder) Decode(line []byte, t *transit.Tap) *FieldError {
	if d.dec.decodeTap(line, &d.rec, t, &d.ft) {
		return nil
	}
	return d.ft.fieldError()
}

// decodeTap decodes one object into t. Faults come in this order: JSON
// syntax, duplicate keys and wrong value types as the scan meets them; then
// field values in schema order (invalid UTF-8 in a schema field included);
// then invalid UTF-8 anywhere else in the line, since RFC 8259 requires
// the whole text to be UTF-8.
func (d *jsonDecoder) decodeTap(line []byte, rec *record, t *transit.Tap, ft *fault) bool {
	if !d.decode(line, rec, ft) || !rec.fill(t, ft) {
		return false
	}
	if d.nonASCII && !utf8.Valid(line) {
		*ft = fault{code: faultUTF8, field: noField}
		return false
	}
	return true
}

// decode scans one object into rec. Syntax errors, duplicate keys and
// values of the wrong JSON type are reported in ft.
func (d *jsonDecoder) decode(line []byte, rec *record, ft *fault) bool {
	rec.reset()
	d.unknown = d.unknown[:0]
	s := jsonScanner{buf: line, scratch: d.scratch[:0]}
	ok := d.scan(&s, rec)
	if !ok {
		// The scanner holds its fault by value: a pointer to ft in it
		// would make ft escape along with the scanner's buffers.
		*ft = s.ft
	}
	d.nonASCII = s.nonASCII
	// Keep whatever capacity unescaping grew, so that steady-state
	// decoding does not allocate. Growth never invalidates the values of
	// the record: they keep pointing at the array they were written to.
	d.scratch = s.scratch[:0]
	return ok
}

// scan walks the object in s.buf, filling rec; see decode.
func (d *jsonDecoder) scan(s *jsonScanner, rec *record) bool {
	line, ft := s.buf, &s.ft
	i := s.ws(0)
	if i >= len(line) || line[i] != '{' {
		return s.syntax(i, "want a JSON object")
	}
	i = s.ws(i + 1)
	expect := fTapID // the schema key expected next
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return s.syntax(i, "want a string key")
			}
			// The usual case, kept free of calls: the key is the
			// schema key that comes next in canonical order (or one of
			// the two after it, when optional keys are left out), as
			// the Writer emits them. Two word compares recognise it.
			var key []byte
			var ok, known bool
			var f field
			if i+16 <= len(line) {
				w0, w1 := load64(line, i), load64(line, i+8)
				for g := expect; g < min(expect+3, numFields); g++ {
					if p := &keyPatterns[g]; w0&p.mask[0] == p.word[0] && w1&p.mask[1] == p.word[1] {
						f, known = g, true
						key = line[i+1 : i+1+len(fieldNames[g])]
						i += len(fieldNames[g]) + 3
						break
					}
				}
			}
			if !known {
				var next int
				if key, next, ok = s.str(i); !ok {
					return false
				}
				i = s.ws(next)
				if i >= len(line) || line[i] != ':' {
					return s.syntax(i, "want ':' after a key")
				}
				i++
				f, known = lookupField(key)
			}
			if known {
				expect = f + 1
			}
			i = s.ws(i)
			if !known {
				if len(d.unknown) == maxUnknownKeys {
					s.fail(fault{code: faultRecord, field: noField, msg: "more than 256 keys outside the schema"})
					return false
				}
				for _, k := range d.unknown {
					if bytes.Equal(k, key) {
						s.fail(fault{code: faultDuplicate, field: noField, val: key})
						break
					}
				}
				d.unknown = append(d.unknown, key)
				if i, ok = s.skip(i, 0); !ok {
					return false
				}
			} else {
				if rec.seen&f.bit() != 0 {
					s.fail(fault{code: faultDuplicate, field: f, val: key})
					if i, ok = s.skip(i, 0); !ok { // keep the first value
						return false
					}
				} else {
					rec.seen |= f.bit()
					if i, ok = s.value(i, f, rec); !ok {
						return false
					}
				}
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
			return s.syntax(i, "want ',' or '}' after a value")
		}
	}
	if i = s.ws(i); i != len(line) {
		return s.syntax(i, "unexpected data after the object")
	}
	return ft.code == faultNone
}

// keyPattern is a schema key as it appears in compact JSON, quotes and
// colon included ("card_id":), as two little-endian words and the masks of
// their meaningful bytes. The longest, "card_product":, has 15 bytes.
type keyPattern struct {
	word, mask [2]uint64
}

var keyPatterns = func() (p [numFields]keyPattern) {
	for f, name := range fieldNames {
		lit := `"` + name + `":`
		for j := range len(lit) {
			p[f].word[j/8] |= uint64(lit[j]) << (8 * (j % 8))
			p[f].mask[j/8] |= 0xff << (8 * (j % 8))
		}
	}
	return p
}()

// jsonScanner scans one line. Its methods take and return byte offsets into
// buf.
type jsonScanner struct {
	buf      []byte
	scratch  []byte
	ft       fault // the first fault met
	nonASCII bool  // a string held a byte >= 0x80
}

// fail records f unless an earlier fault is recorded: a record reports
// the first fault in text order. Scanning goes on after a wrong value type
// or a duplicate key, so that the time can still be collected for the
// reject; it stops at a syntax error.
func (s *jsonScanner) fail(f fault) {
	if s.ft.code == faultNone {
		s.ft = f
	}
}

// syntax records a syntax error at byte offset i and returns false.
func (s *jsonScanner) syntax(i int, msg string) bool {
	s.fail(fault{code: faultSyntax, field: noField, msg: msg, pos: i + 1, eol: i >= len(s.buf)})
	return false
}

// ws skips JSON whitespace from i.
func (s *jsonScanner) ws(i int) int {
	for i < len(s.buf) {
		switch s.buf[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// value reads the value of schema field f at i into rec. A value of the
// wrong type is recorded as a fault but scanning goes on; ok is false only
// for a syntax error.
func (s *jsonScanner) value(i int, f field, rec *record) (int, bool) {
	if i >= len(s.buf) {
		return i, s.syntax(i, "want a value")
	}
	switch c := s.buf[i]; {
	case c == '"':
		if i+10 <= len(s.buf) { // a short plain string, as in scan
			if k := firstByte(strStopMask(load64(s.buf, i+1))); s.buf[i+1+k] == '"' {
				rec.val[f] = s.buf[i+1 : i+1+k : i+1+k]
				rec.got |= f.bit()
				return i + k + 2, true
			}
		}
		v, next, ok := s.str(i)
		if !ok {
			return next, false
		}
		rec.val[f] = v
		rec.got |= f.bit()
		return next, true
	case c == 'n':
		if !bytes.HasPrefix(s.buf[i:], []byte("null")) {
			return i, s.syntax(i, "invalid literal")
		}
		return i + 4, true // null: the field is not given
	case c == '-' || c-'0' <= 9:
		next, ok := s.number(i)
		if !ok {
			return next, false
		}
		if f != fIssuer && f != fCity {
			s.fail(fault{code: faultNotString, field: f, val: s.buf[i:next]})
			return next, true
		}
		rec.val[f] = s.buf[i:next]
		rec.got |= f.bit()
		rec.num |= f.bit()
		return next, true
	}
	next, ok := s.skip(i, 0)
	if ok {
		s.fail(fault{code: faultNotString, field: f, val: s.buf[i:next]})
	}
	return next, ok
}

// str reads the string starting with the quote at i. It returns the
// contents (aliasing buf, or unescaped into scratch) and the offset after
// the closing quote. It looks at eight bytes per step for the first byte
// that needs attention: a quote, a backslash, a control character or a
// non-ASCII byte (noted, for one UTF-8 check of the line).
func (s *jsonScanner) str(i int) ([]byte, int, bool) {
	b := s.buf
	start := i + 1
	j := start
	for ; j+8 <= len(b); j += 8 {
		w := load64(b, j)
		if m := strStopMask(w); m != 0 {
			j += firstByte(m)
			if b[j] == '"' {
				return b[start:j:j], j + 1, true
			}
			break
		}
	}
	escaped := false
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !escaped {
				return b[start:j:j], j + 1, true
			}
			return s.unescape(start, j)
		case c == '\\':
			escaped = true
			j++ // the escaped byte; unescape validates it
		case c < 0x20:
			return nil, j, s.syntax(j, "control character in string")
		case c >= utf8.RuneSelf:
			s.nonASCII = true
		}
	}
	return nil, len(b), s.syntax(i, "unterminated string")
}

// unescape decodes buf[start:end], a string body holding escapes, into
// scratch.
func (s *jsonScanner) unescape(start, end int) ([]byte, int, bool) {
	out := len(s.scratch)
	for i := start; i < end; {
		j := bytes.IndexByte(s.buf[i:end], '\\')
		if j < 0 {
			s.scratch = append(s.scratch, s.buf[i:end]...)
			break
		}
		s.scratch = append(s.scratch, s.buf[i:i+j]...)
		i += j + 1 // after the backslash; str guarantees a byte follows
		switch c := s.buf[i]; c {
		case '"', '\\', '/':
			s.scratch = append(s.scratch, c)
		case 'b':
			s.scratch = append(s.scratch, '\b')
		case 'f':
			s.scratch = append(s.scratch, '\f')
		case 'n':
			s.scratch = append(s.scratch, '\n')
		case 'r':
			s.scratch = append(s.scratch, '\r')
		case 't':
			s.scratch = append(s.scratch, '\t')
		case 'u':
			r, ok := hex4(s.buf[i+1 : end])
			if !ok {
				return nil, i, s.syntax(i-1, `invalid \u escape: want four hex digits`)
			}
			i += 4
			switch {
			case r >= 0xD800 && r < 0xDC00: // high surrogate: a low one must follow
				tail := s.buf[i+1 : end]
				lo, ok := rune(0), len(tail) >= 6 && tail[0] == '\\' && tail[1] == 'u'
				if ok {
					lo, ok = hex4(tail[2:])
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return nil, i, s.syntax(i-5, `invalid \u escape: unpaired surrogate`)
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			case r >= 0xDC00 && r <= 0xDFFF:
				return nil, i, s.syntax(i-5, `invalid \u escape: unpaired surrogate`)
			}
			s.scratch = utf8.AppendRune(s.scratch, r)
		default:
			return nil, i, s.syntax(i-1, "invalid escape")
		}
		i++
	}
	v := s.scratch[out:len(s.scratch):len(s.scratch)]
	return v, end + 1, true
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number scans a JSON number at i (RFC 8259 section 6).
func (s *jsonScanner) number(i int) (int, bool) {
	b := s.buf
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
	default:
		return i, s.syntax(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return i, s.syntax(start, "invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
		if i == d {
			return i, s.syntax(start, "invalid number")
		}
	}
	return i, true
}

// skip scans any JSON value at i, validating it, and returns the offset
// after it. Values under unknown keys go through here.
func (s *jsonScanner) skip(i, depth int) (int, bool) {
	b := s.buf
	if i >= len(b) {
		return i, s.syntax(i, "want a value")
	}
	switch c := b[i]; {
	case c == '"':
		_, next, ok := s.str(i)
		return next, ok
	case c == '-' || c-'0' <= 9:
		return s.number(i)
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(b[i:], []byte(lit)) {
				return i + len(lit), true
			}
		}
		return i, s.syntax(i, "invalid literal")
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return i, s.syntax(i, "nested too deep")
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = s.ws(i + 1)
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, s.syntax(i, "want a string key")
				}
				_, next, ok := s.str(i)
				if !ok {
					return next, false
				}
				i = s.ws(next)
				if i >= len(b) || b[i] != ':' {
					return i, s.syntax(i, "want ':' after a key")
				}
				i = s.ws(i + 1)
			}
			next, ok := s.skip(i, depth+1)
			if !ok {
				return next, false
			}
			i = s.ws(next)
			if i < len(b) && b[i] == ',' {
				i = s.ws(i + 1)
				continue
			}
			if i < len(b) && b[i] == end {
				return i + 1, true
			}
			return i, s.syntax(i, "want ',' or a closing bracket")
		}
	}
	return i, s.syntax(i, "want a value")
}
