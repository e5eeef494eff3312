package settlement

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// checkRejectRow writes r, and checks that the record is valid UTF-8, that
// encoding/csv (an independent reader) sees five fields, and that
// ParseRejectRow gives r back.
func checkRejectRow(t *testing.T, r transit.Reject) string {
	t.Helper()
	row := AppendRejectRow(nil, &r)
	if !utf8.Valid(row) {
		t.Fatalf("record for raw %q is not valid UTF-8: %q", r.Raw, row)
	}
	cr := csv.NewReader(bytes.NewReader(row))
	cr.LazyQuotes = false
	rec, err := cr.Read()
	if err != nil {
		t.Fatalf("encoding/csv cannot read the record for raw %q: %v\n%q", r.Raw, err, row)
	}
	if len(rec) != len(rejectsFields) {
		t.Fatalf("encoding/csv reads %d fields, want %d: %q", len(rec), len(rejectsFields), row)
	}
	var got transit.Reject
	if err := ParseRejectRow(row[:len(row)-1], &got); err != nil {
		t.Fatalf("ParseRejectRow(%q): %v", row, err)
	}
	if got != r {
		t.Fatalf("round trip:\n in  %+v\n out %+v", r, got)
	}
	return rec[4]
}

func TestRejectRowEscapes(t *testing.T) {
	for _, tc := range []struct {
		name, raw, field string // field: what a CSV reader sees in the raw column
	}{
		{"plain JSON", `{"tap_id":"t1"}`, `{"tap_id":"t1"}`},
		{"Chinese text", "宁波,地铁", "宁波,地铁"},
		{"NUL and bell", "a\x00b\x07", `a\x00b\x07`},
		{"DEL", "\x7f", `\x7f`},
		{"invalid UTF-8", "\xff\xfe{", `\xff\xfe{`},
		{"truncated rune", "宁"[:2], `\xe5\xae`},
		{"backslash", `{"id":"a\"b"}`, `{"id":"a\\"b"}`},
		{"literal escape text", `\x41`, `\\x41`},
		{"tab and LF kept, CR escaped", "a\tb\r\nc", "a\tb\\x0d\nc"},
		{"quotes", `say "hi"`, `say "hi"`},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := transit.Reject{Source: "taps/3", Line: 12345, Field: "", Reason: "bad", Raw: tc.raw}
			if got := checkRejectRow(t, r); got != tc.field {
				t.Errorf("raw column reads %q, want %q", got, tc.field)
			}
		})
	}
}

func TestParseRejectRowBadEscape(t *testing.T) {
	for _, rec := range []string{
		`s,1,f,r,a\b`,
		`s,1,f,r,a\`,
		`s,1,f,r,\x4`,
		`s,1,f,r,\xzz`,
		`s\q,1,f,r,x`,
	} {
		var r transit.Reject
		err := ParseRejectRow([]byte(rec), &r)
		if err == nil || !strings.Contains(err.Error(), "backslash") {
			t.Errorf("ParseRejectRow(%q) = %v, want a backslash error", rec, err)
		}
	}
	// Upper-case hex parses but is not the writer's form.
	var r transit.Reject
	if err := ParseRejectRow([]byte(`s,1,f,r,\xFF`), &r); err == nil {
		t.Errorf(`ParseRejectRow accepts \xFF, which the writer writes as \xff`)
	}
}

// FuzzRejectRowWrite: whatever bytes a reject's fields hold, its record is
// valid UTF-8 CSV that reads back to the same reject.
func FuzzRejectRowWrite(f *testing.F) {
	f.Add("taps/0", "", "unexpected end of JSON", "\x00\xff{\"a\":\\}")
	f.Add("in.csv", "time", "bad, \"quoted\"", "line\nbreak")
	f.Fuzz(func(t *testing.T, source, field, reason, raw string) {
		checkRejectRow(t, transit.Reject{Source: source, Line: 7, Field: field, Reason: reason, Raw: raw})
	})
}
