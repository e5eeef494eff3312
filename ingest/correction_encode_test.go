package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// awkwardCorrections are records that decode, with the values that test
// an encoder's quoting and escaping.
func awkwardCorrections(tb testing.TB) []CorrectionRecord {
	reasons := []string{
		"plain",
		"gate fault, rider charged twice",
		`per "service disruption" notice`,
		`""`,
		`"`,
		`,`,
		" leading space",
		"trailing space ",
		"\u00a0no-break space first",
		"\u3000ideographic space first",
		`\.`,
		`back\slash \n not a newline`,
		`{"reason":"json inside"}`,
		"乘客投诉：闸机故障",
		"emoji 🚇 and U+2028 \u2028 and U+FEFF \ufeff",
		"=SUM(A1:A2)",
		"#not a comment",
		strings.Repeat("é", MaxCorrectionReason/2),
	}
	var recs []CorrectionRecord
	for i, r := range reasons {
		k, amount := []transit.CorrectionKind{refund, partial, reprice}[i%3], []transit.Fen{0, 1, transit.MaxCorrectionAmount}[i%3]
		recs = append(recs, mkCorr(tb, "c-"+strconv.Itoa(i), "3102000000000000001", "t-"+strconv.Itoa(i), k, amount, 0, r))
	}
	return append(recs,
		mkCorr(tb, "c-r0", "3102", "t-1", reprice, 0, 0, "re-price to nothing"),
		// Identifiers may hold any UTF-8, spaces and runes that
		// strconv.Quote escapes included.
		mkCorr(tb, "\u3000c", "卡号", "t\u00a0x", partial, 5, 0, "non-ASCII identifiers"),
		mkCorr(tb, "c-\U000f0000", "3102\u200b", "t-\ufeff", refund, 0, 0, "non-printable identifiers"),
	)
}

// encodeCorrections encodes recs as a correction file of format f, and
// returns a copy of recs with the lines they will be read from.
func encodeCorrections(recs []CorrectionRecord, f Format) ([]byte, []CorrectionRecord) {
	var b []byte
	want := append([]CorrectionRecord(nil), recs...)
	line := int64(1)
	if f == FormatCSV {
		b = append(AppendCorrectionCSVHeader(b), '\n')
		line++
	}
	for i := range recs {
		if f == FormatCSV {
			b = AppendCorrectionCSV(b, &recs[i])
		} else {
			b = AppendCorrectionJSON(b, &recs[i])
		}
		b = append(b, '\n')
		want[i].Correction.Line = line
		line++
	}
	return b, want
}

// checkCorrRoundTrip checks that recs, encoded in each format, read back as
// themselves: each line one record, nothing rejected.
func checkCorrRoundTrip(tb testing.TB, recs []CorrectionRecord) {
	tb.Helper()
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		data, want := encodeCorrections(recs, f)
		res := readCorrections(tb, nil, "rt", data, Options{}, 7)
		if res.err != nil || len(res.rejects) > 0 || len(res.recs) != len(want) {
			tb.Fatalf("%v: %v, %d records of %d, rejects %v\n%s", f, res.err, len(res.recs), len(want), res.rejects, data)
		}
		for i := range want {
			if res.recs[i] != want[i] {
				tb.Errorf("%v: record %d reads back as\n%+v, want\n%+v", f, i, res.recs[i], want[i])
			}
		}
	}
}

func TestCorrectionRoundTrip(t *testing.T) {
	recs := awkwardCorrections(t)
	for i := range recs {
		if fe := checkReason([]byte(recs[i].Reason)); fe != nil {
			t.Fatalf("record %d: the decoder refuses the reason %q: %v", i, recs[i].Reason, fe)
		}
	}
	checkCorrRoundTrip(t, recs)
	// The fixtures, decoded, encode to files that decode to them.
	for file, want := range correctionFixtures(t) {
		t.Run(file, func(t *testing.T) { checkCorrRoundTrip(t, want) })
	}
}

// TestAppendCorrectionCSVIsEncodingCSV: a row is byte for byte what
// encoding/csv writes for the record, which is how refused corrections
// have always been written to a run's rejects file; values that do not
// decode included.
func TestAppendCorrectionCSVIsEncodingCSV(t *testing.T) {
	recs := awkwardCorrections(t)
	for _, r := range []string{"", "line\nbreak", "cr\rlf\r\n", "\ttab first", "\xff invalid", " ", "a\"b,c"} {
		recs = append(recs, mkCorr(t, "c", "3102", "t", refund, 0, 0, r))
	}
	recs = append(recs, mkCorr(t, "c", "3102", "t", transit.CorrectionKind(9), -7, 0, "bad kind and amount"))
	for _, r := range recs {
		c := &r.Correction
		var want strings.Builder
		w := csv.NewWriter(&want)
		if err := w.Write([]string{c.ID.String(), c.Card.String(), c.Tap.String(), c.Kind.String(), strconv.FormatInt(int64(c.Amount), 10), r.Reason}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if got := string(AppendCorrectionCSV(nil, &r)); got+"\n" != want.String() {
			t.Errorf("reason %q: AppendCorrectionCSV wrote\n%q, encoding/csv\n%q", r.Reason, got, want.String())
		}
	}
	if got, want := string(AppendCorrectionCSVHeader(nil)), strings.Join(CorrectionColumns(), ","); got != want {
		t.Errorf("header %q, want %q", got, want)
	}
}

// TestAppendCorrectionJSON: the object's bytes, and valid JSON of the
// record's values whatever they hold.
func TestAppendCorrectionJSON(t *testing.T) {
	for _, tc := range []struct {
		rec  CorrectionRecord
		want string
	}{
		{mkCorr(t, "c-1", "3102", "t-1", refund, 0, 9, "gate fault"),
			`{"correction_id":"c-1","card":"3102","tap_id":"t-1","kind":"refund","reason":"gate fault"}`},
		{mkCorr(t, "c-2", "3102", "t-2", partial, 50, 0, `a "b" \ c`),
			`{"correction_id":"c-2","card":"3102","tap_id":"t-2","kind":"partial-refund","amount":50,"reason":"a \"b\" \\ c"}`},
		{mkCorr(t, "c-3", "卡号", "t-3", reprice, 0, 0, "乘客投诉"),
			`{"correction_id":"c-3","card":"卡号","tap_id":"t-3","kind":"reprice","amount":0,"reason":"乘客投诉"}`},
	} {
		if got := string(AppendCorrectionJSON(nil, &tc.rec)); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	recs := awkwardCorrections(t)
	for _, r := range []string{"", "line\nbreak", "\x00\x1f\x7f", "\xff invalid"} {
		recs = append(recs, mkCorr(t, "c", "3102", "t", refund, 0, 0, r))
	}
	for _, r := range recs {
		b := AppendCorrectionJSON([]byte("prefix"), &r)
		if !bytes.HasPrefix(b, []byte("prefix")) || !json.Valid(b[len("prefix"):]) {
			t.Errorf("reason %q: not appended, or not valid JSON: %s", r.Reason, b)
		}
	}
}
