package ingest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/transit"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const (
	bus   = transit.ModeBus
	metro = transit.ModeMetro
	board = transit.ActionBoard
	entry = transit.ActionEntry
	exit  = transit.ActionExit
)

func TestReadFixtures(t *testing.T) {
	wantCSV := []transit.Tap{
		mkTap(t, "t-0001", "3102000000000000001", transit.ProductJoinIn, nb, nb, bus, "NB-518", "", board, "2025-03-01T08:15:00+08:00", "v-17"),
		mkTap(t, "t-0002", "3102000000000000001", transit.ProductJoinIn, nb, nb, metro, "地铁1号线", "ML1-06", entry, "2025-03-01T08:40:12.5+08:00", "g-3"),
		mkTap(t, "t-0003", "3102000000000000001", transit.ProductJoinIn, nb, nb, metro, "地铁1号线", "ML1-12", exit, "2025-03-01T09:05:00Z", "g-9"),
		mkTap(t, "t-0004", "6200000000000000017", transit.ProductStandard, bj, nb, bus, "", "", board, "2025-03-01T12:00:00+08:00", ""),
		mkTap(t, "t-0005", "6200000000000000017", transit.ProductStandard, bj, nb, metro, "ML2", "ML2-03", entry, "2025-03-01T12:30:00.000001+08:00", ""),
		mkTap(t, "t-0006", "6200000000000000017", transit.ProductStandard, bj, nb, metro, "ML2", "ML2-14", exit, "2025-03-01T13:10:59.999999999+08:00", "gate-14-02"),
		mkTap(t, "t-0007", "4400000000000000301", transit.ProductStudent, gz, gz, metro, "GZ-3", "体育西路", entry, "2025-03-01T07:05:00+08:00", ""),
		mkTap(t, "t-0008", "4400000000000000301", transit.ProductStudent, gz, gz, metro, "GZ-3", "珠江新城", exit, "2025-03-01T07:41:00+08:00", ""),
		mkTap(t, "t-0009", "3100000000000000099", transit.ProductSenior, sh, sh, bus, "71", "", board, "2025-03-01T18:00:00-05:00", ""),
		mkTap(t, "tap:0f8fad5b-d9cb-469f-a165-70867728950e", "3102000000000000001", transit.ProductJoinIn, nb, nb, bus, "NB-1", "NB-1-07", board, "2025-03-02T03:59:59+08:00", ""),
		mkTap(t, "t-0011", "3102000000000000001", transit.ProductJoinIn, nb, bj, metro, "BJ-10", "Guomao", entry, "2025-03-02T04:00:00+08:00", ""),
	}
	wantJSONL := []transit.Tap{
		mkTap(t, "t-1001", "3102000000000000002", transit.ProductStandard, bj, nb, bus, "NB-1", "", board, "2025-03-01T07:00:00+08:00", ""),
		mkTap(t, "t-1002", "3102000000000000002", transit.ProductStandard, bj, nb, metro, "", "ML2-01", entry, "2025-03-01T07:30:00.123456789+08:00", ""),
		mkTap(t, "t-1003", "3102000000000000002", transit.ProductStandard, bj, nb, metro, "", "ML2-09", exit, "2025-03-01T07:52:10Z", ""),
		mkTap(t, "t-1004", "3102000000000000003", transit.ProductJoinIn, nb, nb, metro, "地铁1号线", "A/B", entry, "2025-03-01T08:00:00+08:00", ""),
		mkTap(t, "t-1005", "3102000000000000003", transit.ProductJoinIn, nb, nb, metro, "", "🚇-9", exit, "2025-03-01T08:21:00+08:00", "gate-7"),
		mkTap(t, "t-1006", "4400000000000000301", transit.ProductSenior, gz, sz, bus, "", "", board, "2025-03-01T23:59:59.5Z", ""),
	}
	for _, tc := range []struct {
		file   string
		format Format
		want   []transit.Tap
		lines  int64
	}{
		{"taps.csv", FormatCSV, wantCSV, 14},
		{"taps.jsonl", FormatJSONL, wantJSONL, 7},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{1, 3, 1000} {
				res := readAll(t, tc.file, data, Options{}, batch)
				if res.err != nil {
					t.Fatal(res.err)
				}
				if res.format != tc.format || res.comp != CompressionNone {
					t.Errorf("detected %v/%v, want %v/none", res.format, res.comp, tc.format)
				}
				for _, rj := range res.rejects {
					t.Errorf("unexpected reject: %s (raw %q)", rj.Error(), rj.Raw)
				}
				if len(res.taps) != len(tc.want) {
					t.Fatalf("got %d taps, want %d", len(res.taps), len(tc.want))
				}
				for i := range tc.want {
					if res.taps[i] != tc.want[i] {
						t.Errorf("tap %d:\n got %+v\nwant %+v", i, res.taps[i], tc.want[i])
					}
				}
				want := Stats{Lines: tc.lines, Records: int64(len(tc.want)), Taps: int64(len(tc.want)), Bytes: int64(len(data))}
				if res.stats != want {
					t.Errorf("stats %+v, want %+v", res.stats, want)
				}
			}
		})
	}
}

// TestRejectGolden reads fixtures holding many kinds of bad lines and
// compares every reject with the golden file. Run with -update to rewrite.
func TestRejectGolden(t *testing.T) {
	for _, file := range []string{"bad.csv", "bad.jsonl"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			res := readAll(t, file, data, Options{MaxLine: 512}, 7)
			if res.err != nil {
				t.Fatal(res.err)
			}
			var out bytes.Buffer
			for _, rj := range res.rejects {
				when := "-"
				if rj.HasTime {
					when = string(transit.AppendRFC3339(nil, rj.Time, 0))
				}
				fmt.Fprintf(&out, "%s\ttime=%s\traw=%q\n", rj.Error(), when, rj.Raw)
			}
			for _, tap := range res.taps {
				fmt.Fprintf(&out, "tap %s\n", tap.ID)
			}
			fmt.Fprintf(&out, "%+v\n", res.stats)
			checkGolden(t, file, out.Bytes())
			if res.stats.Rejected == 0 || res.stats.Taps == 0 {
				t.Errorf("fixture should hold both good and bad records: %+v", res.stats)
			}
		})
	}
}

// checkGolden compares got, the text of a read of testdata/file, with
// testdata/file.golden, which go test -update rewrites.
func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", file+".golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rejects differ from %s (run go test -update after checking):\n%s", golden, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines that differ between two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n   got %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

func TestMalformedRecordInTheMiddle(t *testing.T) {
	const header = "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n"
	const good = "t-%d,3102000000000000001,joinin,330200,330200,bus,NB-1,,board,2025-03-01T08:0%d:00+08:00,\n"
	for _, tc := range []struct {
		name    string
		bad     string
		field   string
		reason  string
		hasTime bool
	}{
		{"card too long", "t-x,310200000000000000100000000000,joinin,330200,330200,bus,NB-1,,board,2025-03-01T08:05:00+08:00,\n",
			"card_id", "too long: 30 bytes, at most 24", true},
		{"bad time", "t-x,3102000000000000001,joinin,330200,330200,bus,NB-1,,board,2025-03-01T08:05:00,\n",
			"time", `"2025-03-01T08:05:00": missing UTC offset: want Z or ±HH:MM after the seconds`, false},
		{"short row", "t-x,3102000000000000001\n", "", "wrong number of fields: 2, header has 11", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := header + fmt.Sprintf(good, 1, 1) + fmt.Sprintf(good, 2, 2) + tc.bad + fmt.Sprintf(good, 3, 3)
			res := readAll(t, "mid.csv", []byte(in), Options{}, 2)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if len(res.rejects) != 1 {
				t.Fatalf("got %d rejects, want 1", len(res.rejects))
			}
			rj := res.rejects[0]
			if rj.Source != "mid.csv" || rj.Line != 4 || rj.Field != tc.field || rj.Reason != tc.reason {
				t.Errorf("reject = %s:%d field %q reason %q; want mid.csv:4 field %q reason %q",
					rj.Source, rj.Line, rj.Field, rj.Reason, tc.field, tc.reason)
			}
			if rj.Raw != strings.TrimSuffix(tc.bad, "\n") {
				t.Errorf("Raw = %q", rj.Raw)
			}
			if rj.HasTime != tc.hasTime {
				t.Errorf("HasTime = %v, want %v", rj.HasTime, tc.hasTime)
			}
			if tc.hasTime && rj.Time != time.Date(2025, 3, 1, 0, 5, 0, 0, time.UTC).UnixNano() {
				t.Errorf("Time = %d", rj.Time)
			}
			var ids []string
			for _, tap := range res.taps {
				ids = append(ids, tap.ID.String())
			}
			if got := strings.Join(ids, " "); got != "t-1 t-2 t-3" {
				t.Errorf("taps around the reject = %s", got)
			}
			want := Stats{Lines: 5, Records: 4, Taps: 3, Rejected: 1, Bytes: int64(len(in))}
			if res.stats != want {
				t.Errorf("stats %+v, want %+v", res.stats, want)
			}
		})
	}
}

// TestDetection: compression comes from magic bytes only and the format
// from the content, whatever the name says.
func TestDetection(t *testing.T) {
	csvData, err := os.ReadFile("testdata/taps.csv")
	if err != nil {
		t.Fatal(err)
	}
	jsonData, err := os.ReadFile("testdata/taps.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	bom := func(b []byte) []byte { return append([]byte("\xEF\xBB\xBF"), b...) }
	blank := func(b []byte) []byte { return append([]byte("\n \r\n\t\n"), b...) }
	plain := func(_ testing.TB, b []byte) []byte { return b }
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		data     []byte
		compress func(testing.TB, []byte) []byte
		format   Format
		comp     Compression
		taps     int
	}{
		{"plain.csv", csvData, plain, FormatCSV, CompressionNone, 11},
		{"plain.jsonl", jsonData, plain, FormatJSONL, CompressionNone, 6},
		{"zstd-in-a.csv", jsonData, zstdBytes, FormatJSONL, CompressionZstd, 6},
		{"gzip-named.zst", csvData, gzipBytes, FormatCSV, CompressionGzip, 11},
		{"no-extension", csvData, zstdBytes, FormatCSV, CompressionZstd, 11},
		{"bom.csv", bom(csvData), plain, FormatCSV, CompressionNone, 11},
		{"bom.jsonl.gz", bom(jsonData), gzipBytes, FormatJSONL, CompressionGzip, 6},
		{"blank-first.jsonl", blank(jsonData), plain, FormatJSONL, CompressionNone, 6},
		{"blank-first.csv.zst", blank(bom(csvData)), zstdBytes, FormatCSV, CompressionNone, 0}, // BOM only counts at the start
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			data := tc.compress(t, tc.data)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var rejects []transit.Reject
			r, err := Open(path, Options{OnReject: func(rj transit.Reject) { rejects = append(rejects, rj) }})
			if tc.taps == 0 { // a BOM after blank lines is data: the header is wrong
				if !errors.Is(err, ErrMissingColumn) {
					t.Fatalf("Open = %v, want a missing column", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Format() != tc.format || r.Compression() != tc.comp {
				t.Errorf("detected %v/%v, want %v/%v", r.Format(), r.Compression(), tc.format, tc.comp)
			}
			n, err := r.Read(make([]transit.Tap, 100))
			if err != nil || n != tc.taps || len(rejects) != 0 {
				t.Errorf("Read = %d, %v with %d rejects; want %d taps", n, err, len(rejects), tc.taps)
			}
			if st := r.Stats(); st.Bytes != int64(len(tc.data)) {
				t.Errorf("Stats.Bytes = %d, want the uncompressed %d", st.Bytes, len(tc.data))
			}
		})
	}
}

func TestForcedFormat(t *testing.T) {
	data, _ := os.ReadFile("testdata/taps.jsonl")
	res := readAll(t, "x", data, Options{Format: FormatCSV}, 10)
	var he *HeaderError
	if !errors.As(res.err, &he) {
		t.Errorf("JSON read as CSV: err = %v, want a HeaderError", res.err)
	}
	data, _ = os.ReadFile("testdata/taps.csv")
	res = readAll(t, "x", data, Options{Format: FormatJSONL}, 10)
	if res.err != nil || res.stats.Taps != 0 || res.stats.Rejected != 12 {
		t.Errorf("CSV read as JSON: %+v, %v; want every line rejected", res.stats, res.err)
	}
}

func TestHeaderErrors(t *testing.T) {
	f := func(in string, wantErr error, wantMsg string) {
		t.Helper()
		_, err := NewReader("h.csv", strings.NewReader(in), Options{MaxLine: 512})
		var he *HeaderError
		if !errors.As(err, &he) || !errors.Is(err, wantErr) {
			t.Fatalf("NewReader(%q) = %v, want a HeaderError wrapping %v", in, err, wantErr)
		}
		if err.Error() != wantMsg {
			t.Errorf("error = %q\n          want %q", err.Error(), wantMsg)
		}
	}
	f("tap_id,card_product,issuer,city,mode,action,time\n", ErrMissingColumn, `ingest: h.csv:1: missing required column "card_id"`)
	f("\n\ntap_id,card_id,card_product,issuer,city,mode,action\nx\n", ErrMissingColumn, `ingest: h.csv:3: missing required column "time"`)
	f("tap_id,card_id,card_product,issuer,city,mode,action,time,card_id\n", ErrDuplicateColumn, `ingest: h.csv:1: duplicate column "card_id"`)
	f(`tap_id,"card_id,card_product`+"\n", ErrHeaderSyntax, `ingest: h.csv:1: malformed header row: column 2: unterminated quoted field`)
	f(strings.Repeat("x", 600)+"\n", ErrHeaderSyntax, `ingest: h.csv:1: malformed header row: line too long: 600 bytes, at most 512`)
	// Quoted and reordered header names, extra columns, no optional columns: fine.
	if _, err := NewReader("h.csv", strings.NewReader(`"time",x,tap_id,card_id,card_product,issuer,city,mode,action`+"\n"), Options{}); err != nil {
		t.Errorf("valid header refused: %v", err)
	}
}

func TestEmptyInput(t *testing.T) {
	for _, in := range []string{"", "\n\n  \r\n", "\xEF\xBB\xBF"} {
		for _, f := range []Format{FormatAuto, FormatCSV, FormatJSONL} {
			res := readAll(t, "e", []byte(in), Options{Format: f}, 4)
			if res.err != nil || res.stats.Records != 0 {
				t.Errorf("%q as %v: %+v, %v; want zero records", in, f, res.stats, res.err)
			}
		}
	}
}

func TestLineEndings(t *testing.T) {
	const h = "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device"
	const row = "t-%d,3102000000000000001,joinin,330200,330200,bus,NB-1,,board,2025-03-01T08:00:00+08:00,d"
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"crlf", h + "\r\n" + fmt.Sprintf(row, 1) + "\r\n" + fmt.Sprintf(row, 2) + "\r\n"},
		{"no final newline", h + "\n" + fmt.Sprintf(row, 1) + "\n" + fmt.Sprintf(row, 2)},
		{"crlf, no final newline", h + "\r\n" + fmt.Sprintf(row, 1) + "\r\n" + fmt.Sprintf(row, 2) + "\r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAll(t, "le.csv", []byte(tc.in), Options{}, 5)
			if res.err != nil || len(res.taps) != 2 || len(res.rejects) != 0 {
				t.Fatalf("%+v %v %v", res.stats, res.err, res.rejects)
			}
			if res.taps[1].ID.String() != "t-2" || res.taps[1].Device.String() != "d" {
				t.Errorf("last tap %+v", res.taps[1])
			}
		})
	}
}

func TestLongLines(t *testing.T) {
	const h = "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n"
	const row = "t-%d,3102000000000000001,joinin,330200,330200,bus,NB-1,,board,2025-03-01T08:00:00+08:00,\n"
	for _, tc := range []struct {
		name    string
		maxLine int
		long    int // length of the over-long line
	}{
		{"over MaxLine, inside the buffer", 100, 300},
		{"over the line buffer", 0, 3 << 20},
		{"exactly MaxLine", 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			longLine := strings.Repeat("z", tc.long)
			in := h + fmt.Sprintf(row, 1) + longLine + "\r\n" + fmt.Sprintf(row, 2)
			res := readAll(t, "long.csv", []byte(in), Options{MaxLine: tc.maxLine}, 5)
			if res.err != nil || len(res.taps) != 2 || len(res.rejects) != 1 {
				t.Fatalf("%+v %v, %d rejects", res.stats, res.err, len(res.rejects))
			}
			rj := res.rejects[0]
			maxLine := cmpOr(tc.maxLine, DefaultMaxLine)
			wantReason := fmt.Sprintf("line too long: %d bytes, at most %d", tc.long, maxLine)
			if tc.long <= maxLine {
				wantReason = "wrong number of fields: 1, header has 11"
			}
			if rj.Line != 3 || rj.Field != "" || rj.Reason != wantReason {
				t.Errorf("reject %s, want line 3 reason %q", rj.Error(), wantReason)
			}
			if rj.Raw != longLine[:min(len(longLine), transit.MaxRejectRaw)] {
				t.Errorf("Raw has %d bytes", len(rj.Raw))
			}
			if res.stats.Bytes != int64(len(in)) {
				t.Errorf("Bytes = %d, want %d", res.stats.Bytes, len(in))
			}
		})
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// TestBrokenStream: a compressed stream cut short is an error that names
// the file, returned after the taps decoded before the break.
func TestBrokenStream(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, FormatCSV)
	tap := mkTap(t, "t-0", "3102000000000000001", transit.ProductJoinIn, nb, nb, bus, "NB-1", "", board, "2025-03-01T08:00:00+08:00", "")
	for i := range 20000 {
		tap.ID.Set(fmt.Appendf(nil, "t-%d", i))
		if err := w.Write(&tap); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"zstd", zstdBytes(t, buf.Bytes())},
		{"gzip", gzipBytes(t, buf.Bytes())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cut := tc.data[:len(tc.data)*2/3]
			res := readAll(t, "cut.csv."+tc.name, cut, Options{}, 1000)
			if res.err == nil || !strings.Contains(res.err.Error(), "cut.csv."+tc.name) {
				t.Fatalf("err = %v, want an error naming the file", res.err)
			}
			if len(res.taps) == 0 || len(res.taps) >= 20000 || len(res.rejects) != 0 {
				t.Errorf("%d taps and %d rejects before the break", len(res.taps), len(res.rejects))
			}
			for i, tap := range res.taps {
				if tap.ID.String() != fmt.Sprint("t-", i) {
					t.Fatalf("tap %d is %s: a partial line was decoded", i, tap.ID)
				}
			}
		})
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestIOError(t *testing.T) {
	boom := errors.New("disk on fire")
	data, _ := os.ReadFile("testdata/taps.csv")
	// Cut mid-line: the partial line must be dropped, not rejected.
	r, err := NewReader("f.csv", &failingReader{data: data[:len(data)-10], err: boom}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]transit.Tap, 100)
	n, err := r.Read(buf)
	if n != 10 || err != nil {
		t.Fatalf("first Read = %d, %v; want the 10 complete taps", n, err)
	}
	n, err = r.Read(buf)
	if n != 0 || !errors.Is(err, boom) || !strings.Contains(err.Error(), "f.csv") {
		t.Fatalf("second Read = %d, %v; want the wrapped error", n, err)
	}
	if _, err := r.Read(buf); !errors.Is(err, boom) {
		t.Errorf("error is not sticky: %v", err)
	}
	if st := r.Stats(); st.Records != 10 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
	r.Close()
	if _, err := r.Read(buf); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.csv"), Options{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.csv") {
		t.Errorf("Open(missing) = %v", err)
	}
	if _, err := NewReader("x", strings.NewReader(""), Options{MaxLine: -1}); err == nil || !strings.Contains(err.Error(), "MaxLine") {
		t.Errorf("negative MaxLine: %v", err)
	}
	if _, err := NewReader("x", strings.NewReader(""), Options{Format: 9}); err == nil || !strings.Contains(err.Error(), "Format") {
		t.Errorf("bad Format: %v", err)
	}
	// A file with the gzip magic but a broken header fails at Open.
	path := filepath.Join(t.TempDir(), "bad.gz")
	os.WriteFile(path, []byte{0x1f, 0x8b, 0, 0}, 0o644)
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "bad.gz") {
		t.Errorf("broken gzip header: %v", err)
	}
}

func TestReadContract(t *testing.T) {
	data, _ := os.ReadFile("testdata/taps.jsonl")
	r, err := NewReader("c", bytes.NewReader(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
	one := make([]transit.Tap, 1)
	for i := range 6 {
		if n, err := r.Read(one); n != 1 || err != nil {
			t.Fatalf("Read %d = %d, %v", i, n, err)
		}
	}
	for range 2 {
		if n, err := r.Read(one); n != 0 || err != io.EOF {
			t.Fatalf("Read at the end = %d, %v; want 0, io.EOF", n, err)
		}
	}
}

func TestReset(t *testing.T) {
	csvData, _ := os.ReadFile("testdata/taps.csv")
	jsonData, _ := os.ReadFile("testdata/taps.jsonl")
	r, err := NewReader("a", bytes.NewReader(zstdBytes(t, csvData)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]transit.Tap, 100)
	for i, in := range [][]byte{jsonData, zstdBytes(t, csvData), gzipBytes(t, jsonData), csvData} {
		if err := r.Reset(fmt.Sprint("in", i), bytes.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		n, err := r.Read(buf)
		want := 6
		if i%2 == 1 {
			want = 11
		}
		if n != want || err != nil || r.Stats().Taps != int64(want) {
			t.Errorf("input %d: Read = %d, %v (stats %+v); want %d", i, n, err, r.Stats(), want)
		}
	}
	if err := r.Reset("bad", strings.NewReader("a,b\n1,2\n")); !errors.Is(err, ErrMissingColumn) {
		t.Fatalf("Reset to a bad header = %v", err)
	}
	if _, err := r.Read(buf); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("Read after a failed Reset = %v", err)
	}
}

// TestReadDoesNotAllocate pins the headline property: steady-state reading
// allocates nothing per record, for both formats, plain and zstd.
func TestReadDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, format := range []Format{FormatCSV, FormatJSONL} {
		data := benchData(t, format, 4096)
		for _, comp := range []Compression{CompressionNone, CompressionZstd} {
			in := data
			if comp == CompressionZstd {
				in = zstdBytes(t, data)
			}
			r, err := NewReader("a", bytes.NewReader(in), Options{OnReject: func(transit.Reject) { t.Fatal("reject") }})
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]transit.Tap, 64)
			r.Read(buf) // warm up
			allocs := testing.AllocsPerRun(50, func() {
				if n, err := r.Read(buf); n != len(buf) || err != nil {
					t.Fatalf("Read = %d, %v", n, err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v/%v: %v allocations per Read of %d taps", format, comp, allocs, len(buf))
			}
			r.Close()
		}
	}
}

// TestZstdWindowCapped: a zstd stream that asks for a window beyond
// maxZstdWindow (zstd --long=29 does) is refused with an error naming the
// file, before the decoder allocates the window: a small hostile file
// must not take hundreds of megabytes.
func TestZstdWindowCapped(t *testing.T) {
	one, err := os.ReadFile("testdata/taps.csv")
	if err != nil {
		t.Fatal(err)
	}
	// More than one block, so that the frame declares its window rather
	// than its content size.
	data := append(one, bytes.Repeat(one[bytes.IndexByte(one, '\n')+1:], 200)...)
	for _, tc := range []struct {
		window int
		ok     bool
	}{
		{maxZstdWindow, true},
		{maxZstdWindow * 2, false},
	} {
		t.Run(fmt.Sprint(tc.window>>20, "MiB"), func(t *testing.T) {
			var buf bytes.Buffer
			zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(tc.window))
			if err != nil {
				t.Fatal(err)
			}
			zw.Write(data)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res := readAll(t, "long.csv.zst", buf.Bytes(), Options{}, 64)
			runtime.ReadMemStats(&after)
			if tc.ok {
				if res.err != nil || len(res.taps) == 0 {
					t.Fatalf("window %d: %d taps, err %v; want it read", tc.window, len(res.taps), res.err)
				}
				return
			}
			if res.err == nil || !strings.Contains(res.err.Error(), "long.csv.zst") || !strings.Contains(res.err.Error(), "window") {
				t.Fatalf("err = %v, want a window error naming the file", res.err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("refusing a %d MiB window allocated %d MiB", tc.window>>20, alloc>>20)
			}
		})
	}
}
