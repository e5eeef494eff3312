package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestRoundTrip: taps written by the Writer, in every format and
// compression, read back identical, through files named as Create expects
// and named misleadingly.
func TestRoundTrip(t *testing.T) {
	taps := benchTaps(t, 3000)
	// Edge values: longest identifiers, UTF-8 names, offsets and years at
	// the limits, fractions.
	edge := mkTap(t, strings.Repeat("x", transit.MaxTapID), strings.Repeat("9", transit.MaxCardID), transit.ProductSenior,
		transit.City(820000), transit.City(110000), metro, "地铁1号线", "体育西路", exit, "2261-12-31T23:59:59.999999999-23:59", strings.Repeat("d", transit.MaxDeviceID))
	edge2 := mkTap(t, "🚇", "c", transit.ProductStudent, nb, nb, bus, "", "", board, "1678-01-01T00:00:00.000000001+23:59", "")
	taps = append(taps, edge, edge2)
	dir := t.TempDir()
	for _, name := range []string{"t.csv", "t.jsonl", "t.csv.zst", "t.jsonl.gz", "t.ndjson.zstd", "t.json.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			w, err := Create(path, FormatAuto, CompressionAuto)
			if err != nil {
				t.Fatal(err)
			}
			for i := range taps {
				if err := w.Write(&taps[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// The reader must not care about the name: read a copy
			// under a name that says nothing.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			odd := filepath.Join(dir, "odd-"+name+".txt")
			os.WriteFile(odd, data, 0o644)
			r, err := Open(odd, Options{OnReject: func(rj transit.Reject) { t.Errorf("reject: %s", rj.Error()) }})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Format() != FormatFromPath(name) || r.Compression() != CompressionFromPath(name) {
				t.Errorf("read as %v/%v, written as %v/%v", r.Format(), r.Compression(), FormatFromPath(name), CompressionFromPath(name))
			}
			got := make([]transit.Tap, len(taps)+1)
			n := 0
			for {
				k, err := r.Read(got[n:])
				n += k
				if err != nil || k == 0 {
					break
				}
			}
			if n != len(taps) {
				t.Fatalf("read %d taps, wrote %d", n, len(taps))
			}
			for i := range taps {
				if got[i] != taps[i] {
					t.Fatalf("tap %d:\n got %+v\nwant %+v", i, got[i], taps[i])
				}
			}
		})
	}
}

func TestFormatAndCompressionFromPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		f    Format
		c    Compression
	}{
		{"a.csv", FormatCSV, CompressionNone},
		{"a.CSV.GZ", FormatCSV, CompressionGzip},
		{"a.jsonl.zst", FormatJSONL, CompressionZstd},
		{"dir.jsonl/a", FormatCSV, CompressionNone},
		{"a.ndjson", FormatJSONL, CompressionNone},
		{"a.zst", FormatCSV, CompressionZstd},
	} {
		if f, c := FormatFromPath(tc.path), CompressionFromPath(tc.path); f != tc.f || c != tc.c {
			t.Errorf("%s: %v/%v, want %v/%v", tc.path, f, c, tc.f, tc.c)
		}
	}
	for in, want := range map[string]Format{"": FormatAuto, "CSV": FormatCSV, "ndjson": FormatJSONL, "jsonl": FormatJSONL} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) accepted")
	}
	for in, want := range map[string]Compression{"": CompressionAuto, "none": CompressionNone, "zst": CompressionZstd, "gzip": CompressionGzip} {
		if got, err := ParseCompression(in); err != nil || got != want {
			t.Errorf("ParseCompression(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseCompression("lz4"); err == nil {
		t.Error("ParseCompression(lz4) accepted")
	}
}

func TestValidate(t *testing.T) {
	good := mkTap(t, "t-1", "c-1", transit.ProductJoinIn, nb, nb, metro, "ML1", "S1", entry, "2025-03-01T08:00:00+08:00", "")
	if fe := Validate(&good); fe != nil {
		t.Fatalf("valid tap refused: %v", fe)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*transit.Tap)
		field  string
		reason string
	}{
		{"empty id", func(t *transit.Tap) { t.ID = transit.TapID{} }, "tap_id", "empty"},
		{"id with space", func(t *transit.Tap) { t.ID[1] = ' ' }, "tap_id", "invalid character ' ' at byte 2"},
		{"junk after padding", func(t *transit.Tap) { t.Card[10] = 'x' }, "card_id", "bytes after the NUL padding"},
		{"bad UTF-8", func(t *transit.Tap) { t.Line[0] = 0xff }, "line", "invalid UTF-8"},
		{"product", func(t *transit.Tap) { t.Product = 9 }, "card_product", "invalid product 9"},
		{"issuer", func(t *transit.Tap) { t.Issuer = 330201 }, "issuer", "330201: not a six-digit prefecture-level city code"},
		{"city", func(t *transit.Tap) { t.City = 0 }, "city", "0: not a six-digit prefecture-level city code"},
		{"mode", func(t *transit.Tap) { t.Mode = 0 }, "mode", "invalid mode 0"},
		{"no stop", func(t *transit.Tap) { t.Stop = transit.Code{} }, "stop", "required for metro"},
		{"action", func(t *transit.Tap) { t.Action = transit.ActionBoard }, "action", `"board" is not valid for mode metro`},
		{"bad action", func(t *transit.Tap) { t.Action = 0 }, "action", "invalid action 0"},
		{"offset seconds", func(t *transit.Tap) { t.Offset = 8*3600 + 30 }, "time", "UTC offset 28830s: want whole minutes within ±23:59"},
		{"offset range", func(t *transit.Tap) { t.Offset = 24 * 3600 }, "time", "UTC offset 86400s: want whole minutes within ±23:59"},
		{"too early", func(t *transit.Tap) { t.Time = -1 << 63 }, "time", "year out of range: want 1678 to 2261"},
		{"too late", func(t *transit.Tap) { t.Time = 1<<63 - 1 }, "time", "year out of range: want 1678 to 2261"},
		{"device", func(t *transit.Tap) { t.Device[0] = ',' }, "device", "invalid character ',' at byte 1"},
	} {
		tap := good
		tc.mutate(&tap)
		fe := Validate(&tap)
		if fe == nil || fe.Field != tc.field || fe.Reason != tc.reason {
			t.Errorf("%s: %v, want field %s reason %q", tc.name, fe, tc.field, tc.reason)
		}
	}
}

// TestWriterRefusesInvalid: an invalid tap is not written, the error
// names the field, and the Writer goes on.
func TestWriterRefusesInvalid(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, FormatCSV)
	good := mkTap(t, "t-1", "c-1", transit.ProductJoinIn, nb, nb, bus, "", "", board, "2025-03-01T08:00:00+08:00", "")
	bad := good
	bad.Action = exit
	var fe *FieldError
	if err := w.Write(&bad); !errors.As(err, &fe) || fe.Field != "action" {
		t.Fatalf("Write(invalid) = %v", err)
	}
	if err := w.Write(&good); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	want := string(csvHeader) + "\nt-1,c-1,joinin,330200,330200,bus,,,board,2025-03-01T08:00:00+08:00,\n"
	if buf.String() != want {
		t.Errorf("wrote %q, want %q", buf.String(), want)
	}
	// A CSV Writer with no taps still writes the header.
	buf.Reset()
	NewWriter(&buf, FormatAuto).Flush()
	if buf.String() != "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n" {
		t.Errorf("empty CSV = %q", buf.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterStickyError(t *testing.T) {
	w := NewWriter(failWriter{}, FormatJSONL)
	tap := benchTaps(t, 1)[0]
	var err error
	for range 100000 {
		if err = w.Write(&tap); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	if err2 := w.Write(&tap); err2 == nil || w.Flush() == nil {
		t.Error("write error is not sticky")
	}
}

// TestAppendJSONIsJSON: AppendJSON writes JSON that encoding/json reads
// back to the same strings, for hostile identifiers too (AppendJSON does
// not validate).
func TestAppendJSONIsJSON(t *testing.T) {
	tap := benchTaps(t, 1)[0]
	setRaw(tap.ID[:], "a\"b\\c\x01\n\t\r")
	setRaw(tap.Line[:], "x\xffy")
	setRaw(tap.Device[:], "é😀")
	var m map[string]string
	if err := json.Unmarshal(AppendJSON(nil, &tap), &m); err != nil {
		t.Fatalf("%s: %v", AppendJSON(nil, &tap), err)
	}
	if m["tap_id"] != "a\"b\\c\x01\n\t\r" || m["line"] != "x\uFFFDy" || m["device"] != "é😀" {
		t.Errorf("decoded %q", m)
	}
	if m["issuer"] != tap.Issuer.String() || m["time"] != string(tap.AppendTime(nil)) {
		t.Errorf("decoded %q", m)
	}
}

// TestAppendCSVIsCSV: encoding/csv splits AppendCSV rows into the schema's
// columns, quoted values included.
func TestAppendCSVIsCSV(t *testing.T) {
	tap := benchTaps(t, 1)[0]
	setRaw(tap.ID[:], `a,"b"`)
	row := append(AppendCSVHeader(nil), '\n')
	row = append(AppendCSV(row, &tap), '\n')
	recs, err := csv.NewReader(bytes.NewReader(row)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(recs[1]) != int(numFields) || recs[1][0] != `a,"b"` {
		t.Fatalf("%q", recs)
	}
	for i, c := range recs[0] {
		if want := fieldText(&tap, c); recs[1][i] != want {
			t.Errorf("column %s = %q, want %q", c, recs[1][i], want)
		}
	}
}

func TestCreateErrors(t *testing.T) {
	if _, err := Create(filepath.Join(t.TempDir(), "no", "such", "dir.csv"), FormatAuto, CompressionAuto); err == nil {
		t.Error("Create in a missing directory succeeded")
	}
	if _, err := NewCompressor(&bytes.Buffer{}, 9); err == nil {
		t.Error("unknown compression accepted")
	}
}

// setRaw stores s in an identifier array without validation.
func setRaw(dst []byte, s string) {
	clear(dst)
	copy(dst, s)
}
