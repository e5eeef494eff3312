package ingest

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// validRecord is a valid metro tap in schema terms; each case below
// changes one field.
var validRecord = map[string]string{
	"tap_id": "t-1", "card_id": "3102000000000000001", "card_product": "joinin",
	"issuer": "330200", "city": "330200", "mode": "metro", "line": "ML1", "stop": "ML1-06",
	"action": "entry", "time": "2025-03-01T08:15:00+08:00", "device": "g-3",
}

// csvRow renders rec (with overrides) under the canonical header; values
// are written as given, so a case can carry its own quoting.
func csvRow(over map[string]string) string {
	var vals []string
	for _, c := range Columns() {
		v, ok := over[c]
		if !ok {
			v = validRecord[c]
		}
		vals = append(vals, v)
	}
	return strings.Join(Columns(), ",") + "\n" + strings.Join(vals, ",") + "\n"
}

// jsonRow renders rec with overrides as a JSON object; an override of
// "\x00absent" leaves the key out, other values are JSON-quoted strings.
func jsonRow(over map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for _, c := range Columns() {
		v, ok := over[c]
		if !ok {
			v = validRecord[c]
		}
		if v == "\x00absent" {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(c) + ":" + jsonQuote(v))
	}
	b.WriteByte('}')
	return b.String() + "\n"
}

// jsonQuote writes v as a JSON string byte for byte, escaping only what
// JSON requires, so invalid UTF-8 and DEL reach the decoder as they are.
func jsonQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// decodeOne reads in and returns the single reject (or nil) and the taps.
func decodeOne(t *testing.T, in string) (*transit.Reject, []transit.Tap) {
	t.Helper()
	res := readAll(t, "f", []byte(in), Options{}, 4)
	if res.err != nil {
		t.Fatalf("%q: %v", in, res.err)
	}
	if len(res.rejects)+len(res.taps) != 1 {
		t.Fatalf("%q: %d rejects and %d taps, want one record", in, len(res.rejects), len(res.taps))
	}
	if len(res.rejects) == 1 {
		return &res.rejects[0], nil
	}
	return nil, res.taps
}

// TestFieldValidation checks every field's rules, with the exact reason,
// through both decoders.
func TestFieldValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("9", n) }
	for _, tc := range []struct {
		field, value string
		wantField    string // "" with wantReason "" means valid
		wantReason   string
	}{
		// tap_id: required, 1..40 bytes, transit's identifier characters.
		{"tap_id", "", "tap_id", "empty"},
		{"tap_id", long(40), "", ""},
		{"tap_id", long(41), "tap_id", "too long: 41 bytes, at most 40"},
		{"tap_id", "t 1", "tap_id", "invalid character ' ' at byte 2"},
		{"tap_id", "t|1", "tap_id", "invalid character '|' at byte 2"},
		{"tap_id", `t\1`, "tap_id", `invalid character '\\' at byte 2`},
		{"tap_id", "t\x7f", "tap_id", `invalid character '\x7f' at byte 2`},
		{"tap_id", "t\t1", "tap_id", `invalid character '\t' at byte 2`},
		{"tap_id", "乘车-1", "", ""},
		{"tap_id", "t\xff1", "tap_id", "invalid UTF-8"},
		// card_id: required, 1..24 bytes.
		{"card_id", "", "card_id", "empty"},
		{"card_id", long(24), "", ""},
		{"card_id", long(30), "card_id", "too long: 30 bytes, at most 24"},
		{"card_id", "3102 0001", "card_id", "invalid character ' ' at byte 5"},
		// card_product.
		{"card_product", "standard", "", ""},
		{"card_product", "student", "", ""},
		{"card_product", "senior", "", ""},
		{"card_product", "", "card_product", "empty"},
		{"card_product", "JoinIn", "card_product", `"JoinIn": want "standard", "joinin", "student" or "senior"`},
		// issuer and city: six-digit prefecture-level codes.
		{"issuer", "110100", "", ""},
		{"issuer", "", "issuer", "empty"},
		{"issuer", "33020", "issuer", `"33020": not a six-digit prefecture-level city code`},
		{"issuer", "330201", "issuer", `"330201": not a six-digit prefecture-level city code`},
		{"issuer", "990000", "issuer", `"990000": not a six-digit prefecture-level city code`},
		{"city", "820000", "", ""},
		{"city", "100000", "city", `"100000": not a six-digit prefecture-level city code`},
		{"city", "33O200", "city", `"33O200": not a six-digit prefecture-level city code`},
		// mode.
		{"mode", "", "mode", "empty"},
		{"mode", "Metro", "mode", `"Metro": want "bus" or "metro"`},
		// line: optional, at most 16 bytes.
		{"line", "", "", ""},
		{"line", "地铁1号线", "", ""},
		{"line", long(16), "", ""},
		{"line", long(17), "line", "too long: 17 bytes, at most 16"},
		{"line", `L\1`, "line", `invalid character '\\' at byte 2`},
		// stop: at most 16 bytes, required for metro.
		{"stop", long(17), "stop", "too long: 17 bytes, at most 16"},
		{"stop", "", "stop", "required for metro"},
		// action: entry or exit for metro (board for bus, below).
		{"action", "exit", "", ""},
		{"action", "board", "action", `"board" is not valid for mode metro: want "entry" or "exit"`},
		{"action", "tap", "action", `"tap": want "board", "entry" or "exit"`},
		{"action", "", "action", "empty"},
		// time: RFC 3339 with an offset.
		{"time", "", "time", "empty"},
		{"time", "2025-03-01T08:15:00.5Z", "", ""},
		{"time", "2025-03-01T08:15:00", "time", `"2025-03-01T08:15:00": missing UTC offset: want Z or ±HH:MM after the seconds`},
		{"time", "2025-02-30T08:15:00Z", "time", `"2025-02-30T08:15:00Z": day out of range for the month`},
		{"time", "1741000000", "time", `"1741000000": not RFC 3339: want YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM`},
		// device: optional, at most 24 bytes.
		{"device", "", "", ""},
		{"device", long(24), "", ""},
		{"device", long(25), "device", "too long: 25 bytes, at most 24"},
	} {
		over := map[string]string{tc.field: tc.value}
		for _, format := range []string{"csv", "jsonl"} {
			in := csvRow(over)
			if format == "jsonl" {
				in = jsonRow(over)
			}
			rj, taps := decodeOne(t, in)
			switch {
			case tc.wantReason == "" && rj != nil:
				t.Errorf("%s %s=%q: rejected: %s", format, tc.field, tc.value, rj.Error())
			case tc.wantReason == "" && rj == nil:
				if got := fieldText(&taps[0], tc.field); got != tc.value {
					t.Errorf("%s %s=%q: decoded as %q", format, tc.field, tc.value, got)
				}
			case rj == nil:
				t.Errorf("%s %s=%q: accepted, want %q", format, tc.field, tc.value, tc.wantReason)
			case rj.Field != tc.wantField || rj.Reason != tc.wantReason:
				t.Errorf("%s %s=%q:\n got field %q reason %q\nwant field %q reason %q",
					format, tc.field, tc.value, rj.Field, rj.Reason, tc.wantField, tc.wantReason)
			}
		}
	}
}

// fieldText renders one field of t back to schema text.
func fieldText(t *transit.Tap, field string) string {
	switch field {
	case "tap_id":
		return t.ID.String()
	case "card_id":
		return t.Card.String()
	case "card_product":
		return t.Product.String()
	case "issuer":
		return t.Issuer.String()
	case "city":
		return t.City.String()
	case "mode":
		return t.Mode.String()
	case "line":
		return t.Line.String()
	case "stop":
		return t.Stop.String()
	case "action":
		return t.Action.String()
	case "time":
		return string(transit.AppendRFC3339(nil, t.Time, t.Offset))
	case "device":
		return t.Device.String()
	}
	return "?"
}

func TestModeActionCombinations(t *testing.T) {
	for _, tc := range []struct {
		mode, action, stop string
		reason             string
	}{
		{"bus", "board", "", ""},
		{"bus", "board", "B-7", ""}, // a bus stop may be given
		{"bus", "entry", "", `"entry" is not valid for mode bus: want "board"`},
		{"bus", "exit", "", `"exit" is not valid for mode bus: want "board"`},
		{"metro", "entry", "S1", ""},
		{"metro", "exit", "S1", ""},
		{"metro", "board", "S1", `"board" is not valid for mode metro: want "entry" or "exit"`},
	} {
		rj, _ := decodeOne(t, csvRow(map[string]string{"mode": tc.mode, "action": tc.action, "stop": tc.stop}))
		got := ""
		if rj != nil {
			got = rj.Reason
			if rj.Field != "action" {
				t.Errorf("%s/%s: field %q", tc.mode, tc.action, rj.Field)
			}
		}
		if got != tc.reason {
			t.Errorf("%s/%s: reason %q, want %q", tc.mode, tc.action, got, tc.reason)
		}
	}
}

// TestCSVSpecifics: quoting, column order, extra and missing optional
// columns, and faults that only CSV has.
func TestCSVSpecifics(t *testing.T) {
	f := func(in, wantField, wantReason string) {
		t.Helper()
		rj, _ := decodeOne(t, in)
		switch {
		case wantReason == "" && rj != nil:
			t.Errorf("%q rejected: %s", in, rj.Error())
		case wantReason != "" && rj == nil:
			t.Errorf("%q accepted, want %q", in, wantReason)
		case rj != nil && (rj.Field != wantField || rj.Reason != wantReason):
			t.Errorf("%q:\n got %q %q\nwant %q %q", in, rj.Field, rj.Reason, wantField, wantReason)
		}
	}
	f(csvRow(map[string]string{"tap_id": `"t-1"`, "line": `""`}), "", "")
	f(csvRow(map[string]string{"tap_id": `"t""1"`}), "tap_id", `invalid character '"' at byte 2`)
	f(csvRow(map[string]string{"tap_id": `"t-1`}), "tap_id", "column 1: unterminated quoted field")
	f(csvRow(map[string]string{"card_id": `"31"0`}), "card_id", "column 2: unexpected character after closing quote")
	f(csvRow(map[string]string{"card_id": `31"0`}), "card_id", `column 2: bare " in unquoted field`)
	f(csvRow(map[string]string{"device": `g-3,extra`}), "", "wrong number of fields: 12, header has 11")
	f("time,action,mode,city,issuer,card_product,card_id,tap_id,x\n"+
		"2025-03-01T08:15:00Z,board,bus,330200,330200,standard,c,t,\"a,\"\"b\"\n", "", "")
	f("time,action,mode,city,issuer,card_product,card_id,tap_id\n"+
		"2025-03-01T08:15:00Z,exit,metro,330200,330200,standard,c,t\n", "stop", "required for metro")
	f("tap_id,card_id,card_product,issuer,city,mode,action,time,note\n"+
		"t,c,standard,330200,330200,bus,board,2025-03-01T08:15:00Z,caf\xe9\n", "", "") // an ignored column is not checked
}

// TestJSONSpecifics: types, null, absent keys, escapes, duplicates.
func TestJSONSpecifics(t *testing.T) {
	base := strings.TrimSuffix(jsonRow(nil), "}\n")
	f := func(tail, wantField, wantReason string) {
		t.Helper()
		in := base + tail + "}"
		var tap transit.Tap
		fe := DecodeJSON([]byte(in), &tap)
		rj, _ := decodeOne(t, in+"\n")
		switch {
		case wantReason == "" && (fe != nil || rj != nil):
			t.Errorf("%s rejected: %v / %v", tail, fe, rj)
		case wantReason != "" && (fe == nil || rj == nil):
			t.Errorf("%s accepted, want %q", tail, wantReason)
		case fe != nil && (fe.Field != wantField || fe.Reason != wantReason || rj.Field != wantField || rj.Reason != wantReason):
			t.Errorf("%s:\n got %q %q (reader: %q %q)\nwant %q %q", tail, fe.Field, fe.Reason, rj.Field, rj.Reason, wantField, wantReason)
		}
	}
	f(`,"x":{"y":[1,-2.5e+3,true,false,null,"\u00e9"]}`, "", "")
	f(`,"tap_id":"t-2"`, "tap_id", `duplicate key "tap_id"`)
	f(`,"t\u0061p_id":"t-2"`, "tap_id", `duplicate key "tap_id"`)
	f(`,"x":1,"x":1`, "", `duplicate key "x"`)
	f(`,"x":"\ud83d"`, "", `invalid JSON at column 223: invalid \u escape: unpaired surrogate`)
	f(`,"x":"\ud83d\ude87"`, "", "")
	f(`,"x":"\q"`, "", `invalid JSON at column 223: invalid escape`)
	f(`,"x":"\u12"`, "", `invalid JSON at column 223: invalid \u escape: want four hex digits`)
	f(` , "x" : 1 `, "", "")
	f(`,`, "", `invalid JSON at column 218: want a string key`)

	rec := func(over map[string]string, rest string) string {
		return strings.TrimSuffix(jsonRow(over), "}\n") + rest + "}"
	}
	g := func(in, wantField, wantReason string) {
		t.Helper()
		var tap transit.Tap
		fe := DecodeJSON([]byte(in), &tap)
		if wantReason == "" {
			if fe != nil {
				t.Errorf("%s rejected: %v", in, fe)
			}
			return
		}
		if fe == nil || fe.Field != wantField || fe.Reason != wantReason {
			t.Errorf("%s:\n got %v\nwant field %q reason %q", in, fe, wantField, wantReason)
		}
	}
	absent := "\x00absent"
	g(rec(map[string]string{"issuer": absent}, `,"issuer":330200`), "", "")
	g(rec(map[string]string{"issuer": absent}, `,"issuer":330200.0`), "issuer", "330200.0: not a six-digit prefecture-level city code")
	g(rec(map[string]string{"city": absent}, `,"city":3.302e5`), "city", "3.302e5: not a six-digit prefecture-level city code")
	g(rec(map[string]string{"card_id": absent}, ``), "card_id", "missing")
	g(rec(map[string]string{"card_id": absent}, `,"card_id":null`), "card_id", "missing")
	g(rec(map[string]string{"card_id": absent}, `,"card_id":3102`), "card_id", "want a string, got a number")
	g(rec(map[string]string{"device": absent}, `,"device":null`), "", "")
	g(rec(map[string]string{"device": absent}, `,"device":false`), "device", "want a string, got a boolean")
	g(rec(map[string]string{"stop": absent}, ``), "stop", "required for metro")
	g(rec(map[string]string{"stop": absent}, `,"stop":null`), "stop", "required for metro")
	g(rec(map[string]string{"line": absent}, `,"line":"\u5730\u94c1"`), "", "")
	g(rec(map[string]string{"tap_id": absent}, `,"tap_id":"a\u0000"`), "tap_id", `invalid character '\x00' at byte 2`)
	g(rec(map[string]string{"tap_id": absent}, `,"tap_id":"a\"b"`), "tap_id", `invalid character '"' at byte 2`)
	g(`[]`, "", "invalid JSON at column 1: want a JSON object")
	g(``, "", "invalid JSON: line ends at column 0: want a JSON object")
	g(rec(nil, "")+" {}", "", "invalid JSON at column 219: unexpected data after the object")

	var tap transit.Tap
	fe := DecodeJSON([]byte(rec(map[string]string{"card_id": strings.Repeat("1", 25)}, "")), &tap)
	if !errors.Is(fe, transit.ErrTooLong) {
		t.Errorf("FieldError does not unwrap to ErrTooLong: %v", fe)
	}
	if fe.Error() != "field card_id: too long: 25 bytes, at most 24" {
		t.Errorf("Error() = %q", fe.Error())
	}
}

func TestJSONDecoderDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	lines := bytes.Split(bytes.TrimSpace(benchData(t, FormatJSONL, 64)), []byte("\n"))
	// Escapes and unknown keys must not allocate either once warmed up.
	lines = append(lines, []byte(strings.TrimSuffix(jsonRow(nil), "}\n")+`,"note":"\u00e9\n","x":[1,{"y":2}]}`))
	var d JSONDecoder
	var tap transit.Tap
	for _, l := range lines {
		if fe := d.Decode(l, &tap); fe != nil {
			t.Fatalf("%s: %v", l, fe)
		}
	}
	i := 0
	if allocs := testing.AllocsPerRun(1000, func() {
		d.Decode(lines[i%len(lines)], &tap)
		i++
	}); allocs != 0 {
		t.Errorf("%v allocations per Decode", allocs)
	}
}
