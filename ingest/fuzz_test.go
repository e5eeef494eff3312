package ingest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// seedFuzz adds every fixture under testdata whose name has one of exts,
// and each of its lines on its own.
func seedFuzz(f *testing.F, exts ...string) {
	f.Helper()
	for _, ext := range exts {
		files, _ := filepath.Glob(filepath.Join("testdata", "*"+ext))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			if ext == ".jsonl" {
				for _, l := range bytes.Split(data, []byte("\n")) {
					f.Add(l)
				}
			}
		}
	}
}

// fuzzReader returns a Reader that a fuzz target reuses for every input
// (fuzz functions run one at a time in a worker).
func fuzzReader(f *testing.F) *Reader {
	r, err := NewReader("seed", bytes.NewReader(nil), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	return r
}

// checkRoundTrip is the round-trip property: every tap a reader decoded is
// valid for the Writer, and what the Writer writes, in either format,
// decodes to the identical taps with no rejects.
func checkRoundTrip(t *testing.T, r *Reader, taps []transit.Tap) {
	t.Helper()
	for _, format := range []Format{FormatCSV, FormatJSONL} {
		var buf bytes.Buffer
		w := NewWriter(&buf, format)
		for i := range taps {
			if err := w.Write(&taps[i]); err != nil {
				t.Fatalf("decoded tap %d does not re-encode: %v (%+v)", i, err, taps[i])
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		res := readWith(t, r, "rt", buf.Bytes(), Options{Format: format}, 64)
		if res.err != nil || len(res.rejects) != 0 {
			t.Fatalf("%v re-read: %v, rejects %v\n%s", format, res.err, res.rejects, buf.Bytes())
		}
		if len(res.taps) != len(taps) {
			t.Fatalf("%v re-read %d taps, wrote %d", format, len(res.taps), len(taps))
		}
		for i := range taps {
			if res.taps[i] != taps[i] {
				t.Fatalf("%v tap %d changed:\n was %+v\n now %+v", format, i, taps[i], res.taps[i])
			}
		}
	}
}

func FuzzCSV(f *testing.F) {
	seedFuzz(f, ".csv")
	f.Add([]byte("tap_id,card_id,card_product,issuer,city,mode,action,time\nt,c,joinin,330200,330200,bus,board,2025-03-01T08:00:00Z"))
	r := fuzzReader(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res := readWith(t, r, "fuzz.csv", data, Options{Format: FormatCSV, MaxLine: 4096}, 16)
		if res.err != nil {
			return // a header error: nothing was read
		}
		checkRoundTrip(t, r, res.taps)
	})
}

func FuzzJSONL(f *testing.F) {
	seedFuzz(f, ".jsonl")
	r := fuzzReader(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res := readWith(t, r, "fuzz.jsonl", data, Options{Format: FormatJSONL, MaxLine: 4096}, 16)
		if res.err != nil {
			// Input that starts with gzip's or zstd's magic number is
			// read as that compression, and a corrupt stream fails the
			// file as a whole, naming it. Anything else has no header
			// to fail.
			if sniffCompression(data) == CompressionNone {
				t.Fatalf("JSON lines have no header to fail: %v", res.err)
			}
			if !strings.Contains(res.err.Error(), "fuzz.jsonl") {
				t.Fatalf("a corrupt compressed input fails without naming the file: %v", res.err)
			}
			return
		}
		checkRoundTrip(t, r, res.taps)
		// On a single line, the stream decoder and DecodeJSON agree.
		if bytes.ContainsAny(data, "\n") || bytes.HasPrefix(data, utf8BOM) || len(data) > 4096 || res.stats.Records != 1 {
			return
		}
		line := trimEOL(append(data, '\n'))
		var tap transit.Tap
		fe := DecodeJSON(line, &tap)
		switch {
		case fe == nil && len(res.taps) != 1:
			t.Fatalf("DecodeJSON accepts what the reader rejected (%s)", res.rejects[0].Error())
		case fe != nil && len(res.rejects) != 1:
			t.Fatalf("DecodeJSON rejects (%v) what the reader accepted", fe)
		case fe == nil && tap != res.taps[0]:
			t.Fatalf("DecodeJSON and the reader disagree:\n%+v\n%+v", tap, res.taps[0])
		case fe != nil && (fe.Field != res.rejects[0].Field || fe.Reason != res.rejects[0].Reason):
			t.Fatalf("DecodeJSON says %v, the reader %s", fe, res.rejects[0].Error())
		}
	})
}

// checkIDClass pins storeID to transit's rule: it may only accept what
// TapID.Set accepts (and what is valid UTF-8), and it refuses exactly what
// Set refuses.
func checkIDClass(t *testing.T, v []byte) {
	t.Helper()
	var dst, want transit.TapID
	st := storeID(dst[:], v)
	err := want.Set(v)
	switch {
	case len(v) == 0:
		if st != idStored || dst != (transit.TapID{}) {
			t.Fatalf("storeID(empty) = %v", st)
		}
	case st == idStored:
		if err != nil || !utf8.Valid(v) || dst != want {
			t.Fatalf("storeID accepts %q, transit.Set says %v", v, err)
		}
	case st == idBadUTF8:
		if err != nil || utf8.Valid(v) {
			t.Fatalf("storeID says bad UTF-8 for %q, Set says %v", v, err)
		}
	case st == idRefused:
		if err == nil {
			t.Fatalf("storeID refuses %q, which transit.Set accepts", v)
		}
	}
}

func TestIDClassMatchesTransit(t *testing.T) {
	for c := range 256 {
		for _, v := range [][]byte{{byte(c)}, {'a', byte(c)}, {'a', 'b', 'c', 'd', 'e', byte(c), 'f'}, bytes.Repeat([]byte{byte(c)}, 9)} {
			checkIDClass(t, v)
		}
	}
	checkIDClass(t, bytes.Repeat([]byte("x"), transit.MaxTapID))
	checkIDClass(t, bytes.Repeat([]byte("x"), transit.MaxTapID+1))
	// The smaller arrays refuse by length as their Set does.
	var c transit.Code
	if storeID(c[:], bytes.Repeat([]byte("x"), transit.MaxCode+1)) != idRefused {
		t.Error("storeID stored an over-long code")
	}
}

func FuzzIDClass(f *testing.F) {
	for _, s := range []string{"t-0001", "地铁1号线", "a b", "a\xffb", "\xe5\x9c", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkIDClass)
}

// seedCorrections adds the correction fixtures with extension ext, whole
// and line by line.
func seedCorrections(f *testing.F, ext string) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*corrections"+ext))
	if len(files) == 0 {
		f.Fatalf("no correction fixtures *corrections%s", ext)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		if ext == ".jsonl" {
			for _, l := range bytes.Split(data, []byte("\n")) {
				f.Add(l)
			}
		}
	}
}

// fuzzCorrectionReader returns a CorrectionReader that a fuzz target
// reuses for every input.
func fuzzCorrectionReader(f *testing.F) *CorrectionReader {
	r, err := NewCorrectionReader("seed", bytes.NewReader(nil), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	return r
}

// FuzzCorrectionCSV checks that no input panics the correction reader,
// that its counts and records keep their invariants (readCorrections
// checks them: Records == Corrections + Rejected, every correction valid),
// and that the records it decodes encode back to themselves.
func FuzzCorrectionCSV(f *testing.F) {
	seedCorrections(f, ".csv")
	f.Add([]byte(corrHeader + `c-1,3102,t-1,reprice,0,"a, ""b"""` + "\n"))
	r := fuzzCorrectionReader(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res := readCorrections(t, r, "fuzz.csv", data, Options{Format: FormatCSV, MaxLine: 4096}, 8)
		if res.err != nil && res.stats.Records != 0 {
			t.Fatalf("a header error after %d records: %v", res.stats.Records, res.err)
		}
		checkCorrRoundTrip(t, res.recs)
	})
}

// FuzzCorrectionJSON checks the correction reader on JSON lines, that the
// records it decodes encode back to themselves, and that on a single line
// it agrees with DecodeCorrectionJSON.
func FuzzCorrectionJSON(f *testing.F) {
	seedCorrections(f, ".jsonl")
	r := fuzzCorrectionReader(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res := readCorrections(t, r, "fuzz.jsonl", data, Options{Format: FormatJSONL, MaxLine: 4096}, 8)
		if res.err != nil {
			if sniffCompression(data) == CompressionNone {
				t.Fatalf("JSON lines have no header to fail: %v", res.err)
			}
			if !strings.Contains(res.err.Error(), "fuzz.jsonl") {
				t.Fatalf("a corrupt compressed input fails without naming the file: %v", res.err)
			}
			return
		}
		checkCorrRoundTrip(t, res.recs)
		if bytes.ContainsAny(data, "\n") || bytes.HasPrefix(data, utf8BOM) || len(data) > 4096 || res.stats.Records != 1 {
			return
		}
		line := trimEOL(append(data, '\n'))
		var rec CorrectionRecord
		fe := DecodeCorrectionJSON(line, &rec)
		switch {
		case fe == nil && len(res.recs) != 1:
			t.Fatalf("DecodeCorrectionJSON accepts what the reader rejected (%s)", res.rejects[0].Error())
		case fe != nil && len(res.rejects) != 1:
			t.Fatalf("DecodeCorrectionJSON rejects (%v) what the reader accepted", fe)
		case fe == nil:
			rec.Correction.Line = 1
			if rec != res.recs[0] {
				t.Fatalf("DecodeCorrectionJSON and the reader disagree:\n%+v\n%+v", rec, res.recs[0])
			}
			if err := rec.Correction.Validate(); err != nil {
				t.Fatalf("DecodeCorrectionJSON returned an invalid correction: %v", err)
			}
		case fe.Field != res.rejects[0].Field || fe.Reason != res.rejects[0].Reason:
			t.Fatalf("DecodeCorrectionJSON says %v, the reader %s", fe, res.rejects[0].Error())
		}
	})
}
