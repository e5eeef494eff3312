package feed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

func TestNextLine(t *testing.T) {
	f := func(value, wantLine, wantRest string, wantNil bool) {
		t.Helper()
		line, rest := NextLine([]byte(value))
		if string(line) != wantLine || string(rest) != wantRest || (rest == nil) != wantNil {
			t.Errorf("NextLine(%q) = %q, %q (nil %v); want %q, %q (nil %v)", value, line, rest, rest == nil, wantLine, wantRest, wantNil)
		}
	}
	f("", "", "", true)
	f("{}", "{}", "", true)
	f("{}\n", "{}", "", false)
	f("{}\r\n{}", "{}", "{}", false)
	f("{}\r", "{}", "", true)
	f("\n\n", "", "\n", false)
	f("a\nb\nc", "a", "b\nc", false)
}

// TestDecoder decodes message values of several shapes: each line a tap
// or a reject with its line number, blank lines skipped.
func TestDecoder(t *testing.T) {
	taps := readFixture(t)
	line := func(i int) string { return string(ingest.AppendJSON(nil, &taps[i])) }
	type rejected struct {
		line  int
		field string
	}
	tests := []struct {
		name    string
		value   string
		want    []int // indexes into taps
		rejects []rejected
	}{
		{name: "empty", value: "", rejects: []rejected{{1, ""}}},
		{name: "blank lines only", value: " \r\n\t\n", rejects: []rejected{{1, ""}}},
		{name: "one object", value: line(0), want: []int{0}},
		{name: "batch", value: line(0) + "\n" + line(1) + "\n" + line(2), want: []int{0, 1, 2}},
		{name: "trailing newline", value: line(3) + "\n", want: []int{3}},
		{name: "CRLF and blank lines", value: "\r\n" + line(4) + "\r\n \t\r\n\n" + line(5) + "\r\n", want: []int{4, 5}},
		{
			name:    "bad lines do not stop the batch",
			value:   line(6) + "\n{\"tap_id\":\"x\"}\n" + line(7) + "\nnot json",
			want:    []int{6, 7},
			rejects: []rejected{{2, "card_id"}, {4, ""}},
		},
		{name: "close-day payload is not a tap", value: "2025-03-01", rejects: []rejected{{1, ""}}},
	}
	var dec Decoder
	dst := make([]transit.Tap, 0, 4)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []rejected
			dst = dec.Decode(dst[:0], []byte(tt.value), func(n int, raw []byte, err *ingest.FieldError) {
				got = append(got, rejected{n, err.Field})
				if len(raw) == 0 && len(tt.value) > 0 && !strings.HasPrefix(err.Reason, "empty message") {
					t.Errorf("line %d: reject without its raw line", n)
				}
			})
			var want []transit.Tap
			for _, i := range tt.want {
				want = append(want, taps[i])
			}
			if !slices.Equal(dst, want) {
				t.Errorf("decoded %d taps, want %d (%v)", len(dst), len(want), tt.want)
			}
			if !slices.Equal(got, tt.rejects) {
				t.Errorf("rejects %v, want %v", got, tt.rejects)
			}
		})
	}
}

// TestDecodeLineBound: a value of more than MaxMessageLines lines is one
// reject, undecoded, naming the count; one of MaxMessageLines lines is
// decoded line by line.
func TestDecodeLineBound(t *testing.T) {
	var dec Decoder
	for _, tc := range []struct {
		value   []byte
		rejects int
		reason  string
	}{
		{bytes.Repeat([]byte("x\n"), MaxMessageLines), MaxMessageLines, "invalid JSON"},
		{append(bytes.Repeat([]byte("x\n"), MaxMessageLines), 'x'), 1, fmt.Sprintf("message of %d lines, at most %d: not decoded", MaxMessageLines+1, MaxMessageLines)},
		{bytes.Repeat([]byte("x\r\n"), 20*MaxMessageLines), 1, fmt.Sprintf("message of %d lines, at most", 20*MaxMessageLines)},
	} {
		n, first := 0, ""
		taps := dec.Decode(nil, tc.value, func(line int, raw []byte, err *ingest.FieldError) {
			if n == 0 {
				first = err.Reason
			}
			n++
		})
		if len(taps) != 0 || n != tc.rejects || !strings.HasPrefix(first, tc.reason) {
			t.Errorf("%d bytes: %d taps, %d rejects, the first %q; want none, %d, %q", len(tc.value), len(taps), n, first, tc.rejects, tc.reason)
		}
	}
}

// TestDecodeMessage: a NULL message is one reject with its own reason, an
// empty one another; a message with taps decodes as its value does.
func TestDecodeMessage(t *testing.T) {
	var dec Decoder
	for _, tc := range []struct {
		m      Message
		reason string
	}{
		{Message{Null: true}, "null message value: no tap"},
		{Message{Value: []byte{}}, "empty message: no tap"},
	} {
		var got []string
		taps := dec.DecodeMessage(nil, &tc.m, func(n int, _ []byte, err *ingest.FieldError) {
			got = append(got, fmt.Sprintf("%d %q %s", n, err.Field, err.Reason))
		})
		if want := fmt.Sprintf("1 \"\" %s", tc.reason); len(taps) != 0 || !slices.Equal(got, []string{want}) {
			t.Errorf("DecodeMessage(null %v, %q) = %d taps, rejects %q; want none and [%s]", tc.m.Null, tc.m.Value, len(taps), got, want)
		}
	}
	fixture, err := os.ReadFile(filepath.Join("testdata", "taps.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := dec.Decode(nil, fixture, nil)
	if got := dec.DecodeMessage(nil, &Message{Value: fixture}, nil); len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("DecodeMessage of the fixture gave %d taps, Decode %d", len(got), len(want))
	}
}

func TestParseCloseDay(t *testing.T) {
	tests := []struct {
		control, value string
		want           transit.Day
		ok             bool
	}{
		{ControlCloseDay, "2025-03-01", transit.DayOf(2025, 3, 1), true},
		{ControlCloseDay, "2024-02-29", transit.DayOf(2024, 2, 29), true},
		{ControlCloseDay, "2025-3-1", 0, false},
		{ControlCloseDay, "2025-02-29", 0, false},
		{ControlCloseDay, "2025-03-01\n", 0, false},
		{ControlCloseDay, "", 0, false},
		{"", "2025-03-01", 0, false},
		{"open-day", "2025-03-01", 0, false},
	}
	for _, tt := range tests {
		m := &Message{Control: tt.control, Value: []byte(tt.value)}
		d, err := ParseCloseDay(m)
		if (err == nil) != tt.ok || d != tt.want {
			t.Errorf("ParseCloseDay(control %q, value %q) = %v, %v; want %v, ok %v", tt.control, tt.value, d, err, tt.want, tt.ok)
		}
	}
}

// FuzzDecode checks that Decode never panics, accounts for every
// non-blank line as a tap or a reject, and round-trips: the taps it
// decodes, encoded as a batch the way Publisher does, decode to the same
// taps without rejects.
func FuzzDecode(f *testing.F) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "taps.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	for l := range bytes.Lines(fixture) {
		f.Add(l)
		f.Add(bytes.ReplaceAll(l, []byte("\n"), []byte("\r\n")))
	}
	f.Add([]byte("2025-03-01"))
	f.Add([]byte("\n\n{}\n"))
	var dec Decoder
	f.Fuzz(func(t *testing.T, value []byte) {
		lines, rejects := 0, 0
		for v := value; len(v) > 0; {
			var l []byte
			l, v = NextLine(v)
			if !isBlank(l) {
				lines++
			}
		}
		taps := dec.Decode(nil, value, func(int, []byte, *ingest.FieldError) { rejects++ })
		if lines == 0 {
			if len(taps) != 0 || rejects != 1 {
				t.Fatalf("a value with no tap line gave %d taps and %d rejects, want the message rejected once", len(taps), rejects)
			}
			return
		}
		if len(taps)+rejects != lines {
			t.Fatalf("%d taps + %d rejects from %d non-blank lines", len(taps), rejects, lines)
		}
		if len(taps) == 0 {
			return
		}
		var batch []byte
		for i := range taps {
			if fe := ingest.Validate(&taps[i]); fe != nil {
				t.Fatalf("decoded tap %d does not validate: %v", i, fe)
			}
			if i > 0 {
				batch = append(batch, '\n')
			}
			batch = ingest.AppendJSON(batch, &taps[i])
		}
		again := dec.Decode(nil, batch, func(n int, raw []byte, err *ingest.FieldError) {
			t.Fatalf("re-encoded line %d rejected: %v: %s", n, err, raw)
		})
		if !slices.Equal(again, taps) {
			t.Fatalf("round trip changed the taps:\n%v\n%v", taps, again)
		}
	})
}
