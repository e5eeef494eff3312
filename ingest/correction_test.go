package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// corrResult is everything a CorrectionReader produced from one input.
type corrResult struct {
	recs    []CorrectionRecord
	rejects []transit.Reject
	stats   CorrectionStats
	format  Format
	comp    Compression
	err     error // from NewCorrectionReader or the last Read (nil at io.EOF)
}

// readCorrections decodes data completely, in batches of batch records,
// with r reset to data, or a new CorrectionReader when r is nil.
func readCorrections(tb testing.TB, r *CorrectionReader, name string, data []byte, opts Options, batch int) corrResult {
	tb.Helper()
	var res corrResult
	opts.OnReject = func(rj transit.Reject) { res.rejects = append(res.rejects, rj) }
	if r == nil {
		var err error
		if r, err = NewCorrectionReader(name, bytes.NewReader(data), opts); err != nil {
			res.err = err
			return res
		}
		defer r.Close()
	} else {
		opts.EnsureDefaults()
		r.lines.opts = opts
		if err := r.Reset(name, bytes.NewReader(data)); err != nil {
			res.err = err
			return res
		}
	}
	res.format, res.comp = r.Format(), r.Compression()
	res.recs, res.err = readBatches(tb, r.Read, batch)
	res.stats = r.Stats()
	checkCorrCounts(tb, res)
	return res
}

// checkCorrCounts checks the invariants every read must keep.
func checkCorrCounts(tb testing.TB, res corrResult) {
	tb.Helper()
	st := res.stats
	if st.Records != st.Corrections+st.Rejected {
		tb.Fatalf("Records %d != Corrections %d + Rejected %d", st.Records, st.Corrections, st.Rejected)
	}
	if int(st.Corrections) != len(res.recs) || int(st.Rejected) != len(res.rejects) {
		tb.Fatalf("stats %+v, but %d records and %d rejects", st, len(res.recs), len(res.rejects))
	}
	for i := range res.recs {
		rec := &res.recs[i]
		if err := rec.Correction.Validate(); err != nil {
			tb.Fatalf("decoded correction %+v fails Validate: %v", rec.Correction, err)
		}
		if rec.Correction.Line < 1 || rec.Correction.Line > st.Lines {
			tb.Fatalf("correction line %d outside 1..%d", rec.Correction.Line, st.Lines)
		}
		if fe := checkReason([]byte(rec.Reason)); fe != nil || isBlank([]byte(rec.Reason)) {
			tb.Fatalf("decoded reason %q is not valid (%v)", rec.Reason, fe)
		}
	}
	for _, rj := range res.rejects {
		if rj.Line < 1 || rj.Line > st.Lines || rj.Reason == "" || len(rj.Raw) > transit.MaxRejectRaw {
			tb.Fatalf("bad reject %+v (lines %d)", rj, st.Lines)
		}
	}
}

// mkCorr builds a correction record with transit directly, not the code
// under test.
func mkCorr(tb testing.TB, id, card, tap string, k transit.CorrectionKind, amount transit.Fen, line int64, reason string) CorrectionRecord {
	tb.Helper()
	var c transit.Correction
	for _, err := range []error{c.ID.Set([]byte(id)), c.Card.Set([]byte(card)), c.Tap.Set([]byte(tap))} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	c.Kind, c.Amount, c.Line = k, amount, line
	return CorrectionRecord{Correction: c, Reason: reason}
}

const (
	refund  = transit.CorrectionRefund
	partial = transit.CorrectionPartial
	reprice = transit.CorrectionReprice
)

func correctionFixtures(t *testing.T) map[string][]CorrectionRecord {
	return map[string][]CorrectionRecord{
		"corrections.csv": {
			mkCorr(t, "c-0001", "3102000000000000001", "t-0003", refund, 0, 2, "Gate fault at ML1-12, rider charged twice"),
			mkCorr(t, "c-0002", "3102000000000000001", "t-0001", partial, 100, 3, "Overcharge on NB-518"),
			mkCorr(t, "c-0003", "6200000000000000017", "t-0006", reprice, 0, 4, `Free transfer, per "service disruption" notice`),
			mkCorr(t, "c-0004", "4400000000000000301", "t-0008", refund, 0, 5, "乘客投诉：闸机故障"),
			mkCorr(t, "c-0005", "6200000000000000017", "t-0005", reprice, 350, 7, "Fare table error"),
		},
		"corrections.jsonl": {
			mkCorr(t, "c-1001", "3102000000000000002", "t-1003", refund, 0, 1, "Rider refunded at the counter, receipt 88"),
			mkCorr(t, "c-1002", "3102000000000000002", "t-1002", partial, 150, 2, "Charged full fare, station closed"),
			mkCorr(t, "c-1003", "3102000000000000003", "t-1005", reprice, 0, 3, "Free ride day — \"car-free\""),
			mkCorr(t, "c-1004", "3102000000000000003", "t-1004", refund, 0, 5, "投诉退款"),
		},
	}
}

func TestCorrectionFixtures(t *testing.T) {
	for file, want := range correctionFixtures(t) {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			wantFormat := FormatFromPath(file)
			for _, tc := range []struct {
				name string
				data []byte
				comp Compression
			}{
				{"plain", data, CompressionNone},
				{"bom", append(append([]byte{}, utf8BOM...), data...), CompressionNone},
				{"gzip", gzipBytes(t, data), CompressionGzip},
				{"zstd", zstdBytes(t, data), CompressionZstd},
			} {
				for _, batch := range []int{1, 2, 100} {
					res := readCorrections(t, nil, file, tc.data, Options{}, batch)
					if res.err != nil {
						t.Fatalf("%s: %v", tc.name, res.err)
					}
					if res.format != wantFormat || res.comp != tc.comp {
						t.Errorf("%s: detected %v/%v, want %v/%v", tc.name, res.format, res.comp, wantFormat, tc.comp)
					}
					for _, rj := range res.rejects {
						t.Errorf("%s: unexpected reject %s", tc.name, rj.Error())
					}
					if len(res.recs) != len(want) {
						t.Fatalf("%s: got %d corrections, want %d", tc.name, len(res.recs), len(want))
					}
					for i := range want {
						if res.recs[i] != want[i] {
							t.Errorf("%s: correction %d:\n got %+v\nwant %+v", tc.name, i, res.recs[i], want[i])
						}
					}
				}
			}
		})
	}
}

// TestCorrectionRejectGolden reads fixtures of bad correction lines,
// good ones among them, and compares every reject and record with the
// golden file. Run with -update to rewrite.
func TestCorrectionRejectGolden(t *testing.T) {
	for _, file := range []string{"bad_corrections.csv", "bad_corrections.jsonl"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			res := readCorrections(t, nil, file, data, Options{MaxLine: 512}, 3)
			if res.err != nil {
				t.Fatal(res.err)
			}
			var out bytes.Buffer
			for _, rj := range res.rejects {
				fmt.Fprintf(&out, "%s\traw=%q\n", rj.Error(), rj.Raw)
			}
			for _, rec := range res.recs {
				c := &rec.Correction
				fmt.Fprintf(&out, "correction %s line=%d card=%s tap=%s %s amount=%d reason=%q\n",
					c.ID, c.Line, c.Card, c.Tap, c.Kind, c.Amount, rec.Reason)
			}
			fmt.Fprintf(&out, "%+v\n", res.stats)
			checkGolden(t, file, out.Bytes())
			if res.stats.Rejected == 0 || res.stats.Corrections == 0 {
				t.Errorf("fixture should hold both good and bad records: %+v", res.stats)
			}
			for _, rj := range res.rejects {
				if strings.Contains(rj.Raw, "c-ok") {
					t.Errorf("a good record was rejected: %s", rj.Error())
				}
			}
		})
	}
}

const corrHeader = "correction_id,card,tap_id,kind,amount,reason\n"

// TestCorrectionCSVLines decodes one data line between two good ones and
// checks the outcome: the record, or a reject naming line 3, the field and
// the reason.
func TestCorrectionCSVLines(t *testing.T) {
	const good = "c-good,3102000000000000001,t-0001,refund,,fine\n"
	for _, tc := range []struct {
		name, line    string
		field, reason string // "" when the line is good
		want          CorrectionRecord
	}{
		{name: "refund", line: "c-1,3102000000000000001,t-9,refund,,Rider complaint",
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", refund, 0, 3, "Rider complaint")},
		{name: "refund with 0", line: "c-1,3102000000000000001,t-9,refund,0,r",
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", refund, 0, 3, "r")},
		{name: "partial", line: "c-1,3102000000000000001,t-9,partial-refund,10000000,r",
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", partial, 10000000, 3, "r")},
		{name: "reprice to zero", line: "c-1,3102000000000000001,t-9,reprice,0,r",
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", reprice, 0, 3, "r")},
		{name: "quoted reason", line: `c-1,3102000000000000001,t-9,reprice,200,"a, b and ""c"""`,
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", reprice, 200, 3, `a, b and "c"`)},
		{name: "quoted everything", line: `"c-1","3102000000000000001","t-9","reprice","200","r"`,
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", reprice, 200, 3, "r")},
		{name: "reason of 200 bytes", line: "c-1,3102000000000000001,t-9,refund,," + strings.Repeat("é", 100),
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", refund, 0, 3, strings.Repeat("é", 100))},
		{name: "crlf", line: "c-1,3102000000000000001,t-9,refund,,r\r",
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", refund, 0, 3, "r")},

		{name: "no id", line: ",3102000000000000001,t-9,refund,,r", field: "correction_id", reason: "empty"},
		{name: "id too long", line: strings.Repeat("i", 25) + ",3102000000000000001,t-9,refund,,r", field: "correction_id", reason: "too long: 25 bytes, at most 24"},
		{name: "card bad char", line: "c-1,31 02,t-9,refund,,r", field: "card", reason: "invalid character ' ' at byte 3"},
		{name: "tap too long", line: "c-1,3102000000000000001," + strings.Repeat("t", 41) + ",refund,,r", field: "tap_id", reason: "too long: 41 bytes, at most 40"},
		{name: "no kind", line: "c-1,3102000000000000001,t-9,,,r", field: "kind", reason: "empty"},
		{name: "bad kind", line: "c-1,3102000000000000001,t-9,partial,5,r", field: "kind", reason: `"partial": want "refund", "partial-refund" or "reprice"`},
		{name: "refund with amount", line: "c-1,3102000000000000001,t-9,refund,5,r", field: "amount",
			reason: "invalid correction: a refund takes no amount (it refunds the whole charge); use partial-refund"},
		{name: "partial without amount", line: "c-1,3102000000000000001,t-9,partial-refund,,r", field: "amount", reason: "empty: required for partial-refund"},
		{name: "reprice without amount", line: "c-1,3102000000000000001,t-9,reprice,,r", field: "amount", reason: "empty: required for reprice"},
		{name: "partial of 0", line: "c-1,3102000000000000001,t-9,partial-refund,0,r", field: "amount",
			reason: "invalid correction: a partial refund's amount must be 1..10000000 fen, not 0"},
		{name: "reprice too high", line: "c-1,3102000000000000001,t-9,reprice,10000001,r", field: "amount",
			reason: "invalid correction: a re-price's fare must be 0..10000000 fen, not 10000001"},
		{name: "decimal amount", line: "c-1,3102000000000000001,t-9,reprice,1.5,r", field: "amount", reason: `"1.5": want a whole number of fen`},
		{name: "amount sign", line: "c-1,3102000000000000001,t-9,reprice,+1,r", field: "amount", reason: `"+1": want a whole number of fen`},
		{name: "amount minus only", line: "c-1,3102000000000000001,t-9,reprice,-,r", field: "amount", reason: `"-": want a whole number of fen`},
		{name: "amount huge", line: "c-1,3102000000000000001,t-9,reprice,9999999999999999999,r", field: "amount", reason: `"9999999999999999999": out of range`},
		{name: "no reason", line: "c-1,3102000000000000001,t-9,refund,,", field: "reason", reason: "empty"},
		{name: "blank reason", line: "c-1,3102000000000000001,t-9,refund,, ", field: "reason", reason: "blank: give the reason for the correction"},
		{name: "long reason", line: "c-1,3102000000000000001,t-9,refund,," + strings.Repeat("r", 201), field: "reason", reason: "too long: 201 bytes, at most 200"},
		{name: "reason with tab", line: "c-1,3102000000000000001,t-9,refund,,a\tb", field: "reason", reason: "control character U+0009 at byte 2"},
		{name: "reason with DEL", line: "c-1,3102000000000000001,t-9,refund,,ab\x7f", field: "reason", reason: "control character U+007F at byte 3"},
		{name: "reason not UTF-8", line: "c-1,3102000000000000001,t-9,refund,,a\xc3", field: "reason", reason: "invalid UTF-8"},
		{name: "id not UTF-8", line: "c-\xe5,3102000000000000001,t-9,refund,,r", field: "correction_id", reason: "invalid UTF-8"},
		{name: "too few fields", line: "c-1,3102000000000000001,t-9,refund,r", reason: "wrong number of fields: 5, header has 6"},
		{name: "too many fields", line: "c-1,3102000000000000001,t-9,refund,,a,b", reason: "wrong number of fields: 7, header has 6"},
		{name: "unterminated quote", line: `c-1,3102000000000000001,t-9,refund,,"a, b`, field: "reason", reason: "column 6: unterminated quoted field"},
		{name: "bare quote", line: `c-1,3102000000000000001,t-9,refund,,a "b"`, field: "reason", reason: `column 6: bare " in unquoted field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := corrHeader + good + tc.line + "\n" + good
			res := readCorrections(t, nil, "c.csv", []byte(in), Options{}, 2)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if tc.reason == "" && tc.field == "" {
				if len(res.rejects) != 0 || len(res.recs) != 3 {
					t.Fatalf("got %d records, rejects %v", len(res.recs), res.rejects)
				}
				if res.recs[1] != tc.want {
					t.Errorf("got  %+v\nwant %+v", res.recs[1], tc.want)
				}
				return
			}
			if len(res.rejects) != 1 || len(res.recs) != 2 {
				t.Fatalf("got %d records and rejects %v, want 2 and 1", len(res.recs), res.rejects)
			}
			rj := res.rejects[0]
			if rj.Source != "c.csv" || rj.Line != 3 || rj.Field != tc.field || rj.Reason != tc.reason {
				t.Errorf("reject %s (field %q), want c.csv:3 field %q: %s", rj.Error(), rj.Field, tc.field, tc.reason)
			}
			if rj.Raw != strings.TrimSuffix(tc.line, "\r") {
				t.Errorf("raw %q", rj.Raw)
			}
			if res.recs[0].Correction.Line != 2 || res.recs[1].Correction.Line != 4 {
				t.Errorf("good records at lines %d and %d, want 2 and 4", res.recs[0].Correction.Line, res.recs[1].Correction.Line)
			}
		})
	}
}

func TestDecodeCorrectionJSON(t *testing.T) {
	const base = `"correction_id":"c-1","card":"3102000000000000001","tap_id":"t-9"`
	for _, tc := range []struct {
		name, line    string
		field, reason string
		want          CorrectionRecord
	}{
		{name: "refund", line: `{` + base + `,"kind":"refund","reason":"r"}`,
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", refund, 0, 0, "r")},
		{name: "refund null amount", line: `{` + base + `,"kind":"refund","amount":null,"reason":"r"}`,
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", refund, 0, 0, "r")},
		{name: "partial", line: ` { "reason" : "a\/b \u00e9" , "amount" : 25 , "kind" : "partial-refund", ` + base + ` } `,
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", partial, 25, 0, "a/b é")},
		{name: "reprice to zero", line: `{` + base + `,"kind":"reprice","amount":0,"reason":"r"}`,
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", reprice, 0, 0, "r")},
		{name: "reprice to minus zero", line: `{` + base + `,"kind":"reprice","amount":-0,"reason":"r"}`,
			want: mkCorr(t, "c-1", "3102000000000000001", "t-9", reprice, 0, 0, "r")},

		{name: "unknown key", line: `{` + base + `,"kind":"refund","reason":"r","note":"x"}`, reason: `unknown key "note" (the keys are correction_id, card, tap_id, kind, amount and reason)`},
		{name: "tap key of a tap file", line: `{"card_id":"3102"}`, reason: `unknown key "card_id" (the keys are correction_id, card, tap_id, kind, amount and reason)`},
		{name: "duplicate key", line: `{` + base + `,"kind":"refund","kind":"reprice","reason":"r"}`, field: "kind", reason: `duplicate key "kind"`},
		{name: "duplicate null key", line: `{` + base + `,"amount":null,"kind":"refund","amount":3,"reason":"r"}`, field: "amount", reason: `duplicate key "amount"`},
		{name: "amount as string", line: `{` + base + `,"kind":"reprice","amount":"150","reason":"r"}`, field: "amount", reason: "want an integer, got a string"},
		{name: "amount fraction", line: `{` + base + `,"kind":"reprice","amount":1.5,"reason":"r"}`, field: "amount", reason: "1.5: want a whole number of fen"},
		{name: "amount exponent", line: `{` + base + `,"kind":"reprice","amount":1e2,"reason":"r"}`, field: "amount", reason: "1e2: want a whole number of fen"},
		{name: "amount bool", line: `{` + base + `,"kind":"reprice","amount":true,"reason":"r"}`, field: "amount", reason: "want an integer, got a boolean"},
		{name: "amount missing", line: `{` + base + `,"kind":"reprice","reason":"r"}`, field: "amount", reason: "missing: required for reprice"},
		{name: "amount null", line: `{` + base + `,"kind":"partial-refund","amount":null,"reason":"r"}`, field: "amount", reason: "missing: required for partial-refund"},
		{name: "negative partial", line: `{` + base + `,"kind":"partial-refund","amount":-5,"reason":"r"}`, field: "amount",
			reason: "invalid correction: a partial refund's amount must be 1..10000000 fen, not -5"},
		{name: "id as number", line: `{"correction_id":7,"card":"3102","tap_id":"t","kind":"refund","reason":"r"}`, field: "correction_id", reason: "want a string, got a number"},
		{name: "reason as array", line: `{` + base + `,"kind":"refund","reason":["r"]}`, field: "reason", reason: "want a string, got an array"},
		{name: "id missing", line: `{"card":"3102","tap_id":"t","kind":"refund","reason":"r"}`, field: "correction_id", reason: "missing"},
		{name: "id null", line: `{"correction_id":null,"card":"3102","tap_id":"t","kind":"refund","reason":"r"}`, field: "correction_id", reason: "missing"},
		{name: "kind missing", line: `{` + base + `,"reason":"r"}`, field: "kind", reason: "missing"},
		{name: "reason missing", line: `{` + base + `,"kind":"refund"}`, field: "reason", reason: "missing"},
		{name: "reason escaped newline", line: `{` + base + `,"kind":"refund","reason":"a\nb"}`, field: "reason", reason: "control character U+000A at byte 2"},
		{name: "reason lone surrogate", line: `{` + base + `,"kind":"refund","reason":"\ud800"}`, reason: `invalid JSON at column 94: invalid \u escape: unpaired surrogate`},
		{name: "invalid UTF-8 in a value", line: `{` + base + `,"kind":"refund","reason":"r` + "\xff" + `"}`, field: "reason", reason: "invalid UTF-8"},
		{name: "truncated", line: `{` + base + `,"kind":"refund"`, reason: "invalid JSON: line ends at column 82: want ',' or '}' after a value"},
		{name: "trailing data", line: `{` + base + `,"kind":"refund","reason":"r"} x`, reason: "invalid JSON at column 98: unexpected data after the object"},
		{name: "not an object", line: `["c-1"]`, reason: "invalid JSON at column 1: want a JSON object"},
		{name: "empty object", line: `{}`, field: "correction_id", reason: "missing"},
		{name: "empty line", line: ``, reason: "invalid JSON: line ends at column 0: want a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec CorrectionRecord
			fe := DecodeCorrectionJSON([]byte(tc.line), &rec)
			if tc.reason == "" {
				if fe != nil {
					t.Fatalf("unexpected %v", fe)
				}
				if rec != tc.want {
					t.Errorf("got  %+v\nwant %+v", rec, tc.want)
				}
			} else if fe == nil || fe.Field != tc.field || fe.Reason != tc.reason {
				t.Fatalf("got %v, want field %q: %s", fe, tc.field, tc.reason)
			}
			// The reader agrees, and names the line.
			if isBlank([]byte(tc.line)) {
				return // the reader skips blank lines
			}
			const good = `{"correction_id":"c-g","card":"3102","tap_id":"t","kind":"refund","reason":"ok"}` + "\n"
			in := good + tc.line + "\n" + good
			res := readCorrections(t, nil, "c.jsonl", []byte(in), Options{Format: FormatJSONL}, 2)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if tc.reason == "" {
				tc.want.Correction.Line = 2
				if len(res.recs) != 3 || res.recs[1] != tc.want {
					t.Fatalf("reader got %+v, rejects %v", res.recs, res.rejects)
				}
				return
			}
			if len(res.recs) != 2 || len(res.rejects) != 1 {
				t.Fatalf("reader got %d records, rejects %v", len(res.recs), res.rejects)
			}
			if rj := res.rejects[0]; rj.Line != 2 || rj.Field != tc.field || rj.Reason != tc.reason || rj.Raw != tc.line {
				t.Errorf("reader rejected %s, want line 2 field %q: %s", rj.Error(), tc.field, tc.reason)
			}
		})
	}
}

func TestCorrectionFieldErrorSentinels(t *testing.T) {
	var rec CorrectionRecord
	fe := DecodeCorrectionJSON([]byte(`{"correction_id":"c","card":"1","tap_id":"t","kind":"partial-refund","amount":0,"reason":"r"}`), &rec)
	if !errors.Is(fe, transit.ErrCorrection) {
		t.Errorf("a Validate failure %v does not wrap transit.ErrCorrection", fe)
	}
	fe = DecodeCorrectionJSON([]byte(`{"correction_id":"","card":"1","tap_id":"t","kind":"refund","reason":"r"}`), &rec)
	if !errors.Is(fe, transit.ErrEmpty) || fe.Error() != "field correction_id: empty" {
		t.Errorf("empty id: %v", fe)
	}
}

func TestCorrectionHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		err          error
		msg          string
	}{
		{"unknown column", "correction_id,card,tap_id,kind,amount,reason,note", ErrUnknownColumn,
			`ingest: h.csv:2: unknown column "note": a correction file has the columns correction_id, card, tap_id, kind, amount and reason`},
		{"tap header", "tap_id,card_id,card_product,issuer,city,mode,action,time", ErrUnknownColumn,
			`ingest: h.csv:2: unknown column "card_id": a correction file has the columns correction_id, card, tap_id, kind, amount and reason`},
		{"spaced column", "correction_id, card,tap_id,kind,amount,reason", ErrUnknownColumn,
			`ingest: h.csv:2: unknown column " card": a correction file has the columns correction_id, card, tap_id, kind, amount and reason`},
		{"missing reason", "correction_id,card,tap_id,kind,amount", ErrMissingColumn, `ingest: h.csv:2: missing required column "reason"`},
		{"duplicate", "correction_id,card,tap_id,kind,kind,reason", ErrDuplicateColumn, `ingest: h.csv:2: duplicate column "kind"`},
		{"syntax", `correction_id,"card`, ErrHeaderSyntax, `ingest: h.csv:2: malformed header row: column 2: unterminated quoted field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := "\n" + tc.header + "\nc-1,3102,t,refund,,r\n"
			res := readCorrections(t, nil, "h.csv", []byte(in), Options{}, 4)
			var he *HeaderError
			if !errors.As(res.err, &he) || !errors.Is(res.err, tc.err) || res.err.Error() != tc.msg {
				t.Fatalf("got %v, want %s", res.err, tc.msg)
			}
		})
	}
	// Without the optional amount column, refunds read.
	res := readCorrections(t, nil, "h.csv", []byte("reason,kind,tap_id,card,correction_id\nr,refund,t,3102,c-1\n"), Options{}, 4)
	if res.err != nil || len(res.recs) != 1 {
		t.Fatalf("no amount column: %v, %d records", res.err, len(res.recs))
	}
}

func TestCorrectionEmptyAndErrors(t *testing.T) {
	for _, in := range []string{"", "\n\n", "\xef\xbb\xbf", "  \r\n"} {
		res := readCorrections(t, nil, "e", []byte(in), Options{}, 4)
		if res.err != nil || res.stats.Records != 0 {
			t.Errorf("%q: %v, %+v", in, res.err, res.stats)
		}
	}
	// A long line is a reject, not the end.
	in := corrHeader + strings.Repeat("x", 100) + "\nc-1,3102,t,refund,,r\n"
	res := readCorrections(t, nil, "l.csv", []byte(in), Options{MaxLine: 64}, 4)
	if res.err != nil || len(res.recs) != 1 || len(res.rejects) != 1 || res.rejects[0].Reason != "line too long: 100 bytes, at most 64" {
		t.Fatalf("long line: %v, %d records, rejects %v", res.err, len(res.recs), res.rejects)
	}
	// A broken compressed stream is an error naming the file, after the
	// records before it.
	data, err := os.ReadFile(filepath.Join("testdata", "corrections.csv"))
	if err != nil {
		t.Fatal(err)
	}
	z := gzipBytes(t, data)
	res = readCorrections(t, nil, "cut.csv.gz", z[:len(z)-12], Options{}, 100)
	if res.err == nil || !strings.Contains(res.err.Error(), "cut.csv.gz") {
		t.Errorf("truncated gzip: %v", res.err)
	}
	if _, err := NewCorrectionReader("x", strings.NewReader(""), Options{MaxLine: -1}); err == nil {
		t.Error("bad options accepted")
	}
}

func TestOpenCorrections(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "corrections.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.jsonl.zst")
	if err := os.WriteFile(path, zstdBytes(t, data), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenCorrections(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != path || r.Format() != FormatJSONL || r.Compression() != CompressionZstd {
		t.Errorf("%s %v %v", r.Name(), r.Format(), r.Compression())
	}
	buf := make([]CorrectionRecord, 10)
	n, err := r.Read(buf)
	if err != nil || n != 4 {
		t.Fatalf("Read: %d, %v", n, err)
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end: %d, %v", n, err)
	}
	if st := r.Stats(); st.Lines != 5 || st.Records != 4 || st.Corrections != 4 || st.Bytes != int64(len(data)) {
		t.Errorf("stats %+v", st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(buf); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := OpenCorrections(filepath.Join(t.TempDir(), "none.csv"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// Reset reads the next file with the same buffers.
	csvData, _ := os.ReadFile(filepath.Join("testdata", "corrections.csv"))
	r2, err := NewCorrectionReader("a", bytes.NewReader(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	res := readCorrections(t, r2, "b.csv", csvData, Options{}, 3)
	if res.err != nil || len(res.recs) != 5 || res.format != FormatCSV {
		t.Errorf("after Reset: %v, %d records, %v", res.err, len(res.recs), res.format)
	}
}

func TestReadCorrections(t *testing.T) {
	dir := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join("testdata", "corrections.csv"))
	if err != nil {
		t.Fatal(err)
	}
	jsonl, err := os.ReadFile(filepath.Join("testdata", "corrections.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// More records than one batch of Read.
	many := corrHeader
	for i := range readAllBatch*2 + 3 {
		many += fmt.Sprintf("c-%d,3102,t-%d,refund,,r\n", i, i)
	}
	gz := gzipBytes(t, fixture)
	for _, tc := range []struct {
		name string
		data []byte // the file's contents; nil: no file
		opts Options
		// recLines are the lines of the corrections read, rejectLines
		// those of the rejects.
		recLines, rejectLines []int64
		wantErr               func(error) bool
	}{
		{name: "fixture.csv", data: fixture, recLines: []int64{2, 3, 4, 5, 7}},
		{name: "fixture.jsonl.zst", data: zstdBytes(t, jsonl), recLines: []int64{1, 2, 3, 5}},
		{name: "bad-between.csv", data: []byte(corrHeader + "c-1,3102,t-1,refund,,r\nc-2,3102,t-2,refund,oops,r\n\nc-3,3102,t-3,refund,,r\n"),
			recLines: []int64{2, 5}, rejectLines: []int64{3}},
		{name: "bad-between.jsonl", data: []byte(`{"correction_id":"c-1","card":"3102","tap_id":"t-1","kind":"refund","reason":"r"}` + "\n{\n" +
			`{"correction_id":"c-2","card":"3102","tap_id":"t-2","kind":"refund","reason":"r","amont":1}` + "\n" +
			`{"correction_id":"c-3","card":"3102","tap_id":"t-3","kind":"refund","reason":"r"}`),
			recLines: []int64{1, 4}, rejectLines: []int64{2, 3}},
		{name: "long-line.csv", data: []byte(corrHeader + strings.Repeat("x", 100) + "\nc-1,3102,t,refund,,r\n"), opts: Options{MaxLine: 64},
			recLines: []int64{3}, rejectLines: []int64{2}},
		{name: "many.csv", data: []byte(many), recLines: func() (l []int64) {
			for i := range readAllBatch*2 + 3 {
				l = append(l, int64(i+2))
			}
			return l
		}()},
		{name: "empty.csv", data: []byte{}},
		{name: "missing.csv", wantErr: func(err error) bool { return errors.Is(err, os.ErrNotExist) }},
		{name: "header.csv", data: []byte("correction_id,card,tap_id,kind,amount,reason,extra\n"),
			wantErr: func(err error) bool { return errors.Is(err, ErrUnknownColumn) }},
		{name: "cut.csv.gz", data: gz[:len(gz)-12],
			wantErr: func(err error) bool { return err != nil }},
		{name: "options.csv", data: fixture, opts: Options{MaxLine: -1},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "MaxLine") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if tc.data != nil {
				if err := os.WriteFile(path, tc.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var rejects []transit.Reject
			opts := tc.opts
			opts.OnReject = func(r transit.Reject) { rejects = append(rejects, r) }
			recs, st, err := ReadCorrections(path, opts)
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) {
					t.Fatalf("error %v, want another", err)
				}
				if !strings.Contains(err.Error(), path) && tc.name != "options.csv" {
					t.Errorf("the error %q does not name the file", err)
				}
				if recs != nil {
					t.Errorf("%d records returned with an error", len(recs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var recLines, rejectLines []int64
			for _, r := range recs {
				recLines = append(recLines, r.Correction.Line)
			}
			for _, r := range rejects {
				rejectLines = append(rejectLines, r.Line)
				if r.Source != path || r.Reason == "" || r.Raw == "" {
					t.Errorf("reject %+v does not name %s, or has no reason or raw text", r, path)
				}
			}
			if fmt.Sprint(recLines) != fmt.Sprint(tc.recLines) || fmt.Sprint(rejectLines) != fmt.Sprint(tc.rejectLines) {
				t.Errorf("corrections at lines %v and rejects at %v, want %v and %v", recLines, rejectLines, tc.recLines, tc.rejectLines)
			}
			if st.Corrections != int64(len(recs)) || st.Rejected != int64(len(rejects)) || st.Records != st.Corrections+st.Rejected {
				t.Errorf("stats %+v for %d corrections and %d rejects", st, len(recs), len(rejects))
			}
			checkCorrCounts(t, corrResult{recs: recs, rejects: rejects, stats: st})
		})
	}
	// The records are those the reader decodes.
	recs, _, err := ReadCorrections(filepath.Join("testdata", "corrections.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := correctionFixtures(t)["corrections.csv"]; !slices.Equal(recs, want) {
		t.Errorf("got  %+v\nwant %+v", recs, want)
	}
}
