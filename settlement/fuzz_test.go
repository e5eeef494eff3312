package settlement

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// The fuzz tests hold every reader to the same round-trip property: what a
// reader accepts, the writer writes back byte for byte (so no two byte
// strings read as the same content), and reading never panics. They are
// seeded from the golden files.

func goldenFiles(f *testing.F, suffix string) [][]byte {
	f.Helper()
	var out [][]byte
	paths, _ := filepath.Glob(filepath.Join("testdata", "golden", "*", suffix))
	more, _ := filepath.Glob(filepath.Join("testdata", "golden", "*", "clearing", suffix))
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		f.Fatalf("no golden %s files", suffix)
	}
	return out
}

func FuzzLedgerRow(f *testing.F) {
	for _, file := range goldenFiles(f, "ledger.csv") {
		for _, line := range bytes.Split(file, []byte{'\n'})[1:] {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var r transit.Priced
		if err := ParseLedgerRow(line, &r); err != nil {
			var re *RecordError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *RecordError: %v", err)
			}
			return
		}
		out := AppendLedgerRow(nil, &r)
		if !bytes.Equal(out, append(bytes.Clone(line), '\n')) {
			t.Fatalf("round trip:\n in  %q\n out %q", line, out)
		}
		var again transit.Priced
		if err := ParseLedgerRow(out[:len(out)-1], &again); err != nil || again != r {
			t.Fatalf("re-parse: %v, %+v != %+v", err, again, r)
		}
	})
}

func FuzzLedgerReader(f *testing.F) {
	for _, file := range goldenFiles(f, "ledger.csv") {
		f.Add(file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lr, err := NewLedgerReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		out := []byte(LedgerHeader + "\n")
		var r transit.Priced
		for {
			err := lr.Read(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
			out = AppendLedgerRow(out, &r)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("round trip:\n in  %q\n out %q", data, out)
		}
	})
}

func FuzzClearingFile(f *testing.F) {
	for _, file := range goldenFiles(f, "*.clr") {
		f.Add(file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ReadClearingFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		if out := cf.Append(nil); !bytes.Equal(out, data) {
			t.Fatalf("round trip:\n in  %q\n out %q", data, out)
		}
		if err := cf.Validate(); err != nil {
			t.Fatalf("a file that reads does not validate: %v", err)
		}
		// The builder recomputes every derived field from the details and
		// their acquirers alone, merging the batches of one acquirer
		// itself.
		var groups []AcquirerDetails
		for _, b := range cf.Batches {
			groups = append(groups, AcquirerDetails{Acquirer: b.Header.Acquirer, Details: b.Details})
		}
		built, err := BuildClearingFile(cf.Header, groups)
		if err != nil {
			t.Fatalf("rebuilding a file that reads: %v", err)
		}
		if out := built.Append(nil); !bytes.Equal(out, data) {
			t.Fatalf("rebuilt:\n in  %q\n out %q", data, out)
		}
	})
}

func FuzzManifest(f *testing.F) {
	for _, file := range goldenFiles(f, ManifestName) {
		f.Add(file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		if out := m.Marshal(); !bytes.Equal(out, data) {
			t.Fatalf("round trip:\n in  %q\n out %q", data, out)
		}
	})
}

func FuzzRejects(f *testing.F) {
	for _, file := range goldenFiles(f, "rejects.csv") {
		f.Add(file)
	}
	f.Add([]byte(RejectsHeader + "\na,1,b,c,\"\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr, err := NewRejectsReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		out := []byte(RejectsHeader + "\n")
		var r transit.Reject
		for {
			err := rr.Read(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
			out = AppendRejectRow(out, &r)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("round trip:\n in  %q\n out %q", data, out)
		}
	})
}

func FuzzSummary(f *testing.F) {
	for _, file := range goldenFiles(f, "summary.json") {
		f.Add(file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSummary(data)
		if err != nil {
			return
		}
		if out := s.Marshal(); !bytes.Equal(out, data) {
			t.Fatalf("round trip:\n in  %q\n out %q", data, out)
		}
	})
}

// TestLedgerRoundTrip: every valid row formats to a line that parses back
// to the same row (the direction the fuzzers cannot reach from bytes).
func TestLedgerRoundTrip(t *testing.T) {
	rows := append(fixtureRows(), synthRows(2000, 5)...)
	for i := range rows {
		r := &rows[i]
		line := AppendLedgerRow(nil, r)
		var got transit.Priced
		if err := ParseLedgerRow(line[:len(line)-1], &got); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got != *r {
			t.Fatalf("%q:\n got %+v\nwant %+v", line, got, *r)
		}
	}
}

// TestRejectsRoundTrip: awkward raw records survive the rejects file.
func TestRejectsRoundTrip(t *testing.T) {
	raws := []string{"", ",", "\"", "\"\"", "a\nb", "a\r\nb", "\n", "x,\"y\",z\n", "\x00\xff\xfe", strings.Repeat("q\"", 600)}
	var b []byte
	b = append(b, RejectsHeader+"\n"...)
	var want []transit.Reject
	for i, raw := range raws {
		r := transit.Reject{Source: "s,\"src\"", Line: int64(i), Field: "f\n", Reason: "r", Raw: raw}
		want = append(want, r)
		b = AppendRejectRow(b, &r)
	}
	rr, err := NewRejectsReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		var got transit.Reject
		if err := rr.Read(&got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if got != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, got, want[i])
		}
	}
	if err := rr.Read(new(transit.Reject)); !errors.Is(err, io.EOF) {
		t.Errorf("after the last record: %v, want io.EOF", err)
	}
}
