package settlement

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestLedgerMatchesClearing reads a written day back with the public
// readers: the ledger's interregional clearing rows must sum, pair by
// pair, to the clearing files' controls, and in total to the summary's
// interregional figures.
func TestLedgerMatchesClearing(t *testing.T) {
	root := t.TempDir()
	c := collect(t, append(fixtureRows(), synthRows(3000, 13)...), fixtureRejects(), 3, true, rand.New(rand.NewPCG(4, 4)))
	writeAll(t, c, root, WriteOptions{Ledger: true, SkipSync: true})
	files := plain(t, readTree(t, root))
	prefix := DirName(fixtureDay) + "/"

	fromLedger := make(map[string]Amounts)
	var ledgerInter Amounts
	for _, r := range ledgerRows(t, files[prefix+"ledger.csv"]) {
		if (r.Status == transit.StatusCharged || r.Status == transit.StatusIncomplete) && r.Rules&transit.RuleMetroEntry == 0 && r.Issuer != r.City {
			a := fromLedger[r.Issuer.String()+"-"+r.City.String()]
			a.Count++
			a.Gross += r.Gross
			a.Discount += r.Discount
			a.Charged += r.Charged
			fromLedger[r.Issuer.String()+"-"+r.City.String()] = a
			ledgerInter.Add(Amounts{1, r.Gross, r.Discount, r.Charged})
		}
	}
	var clearingInter Amounts
	fromClearing := make(map[string]Amounts)
	issuers := 0
	for p, data := range files {
		name, ok := strings.CutPrefix(p, prefix+"clearing/")
		if !ok {
			continue
		}
		issuers++
		cf, err := ReadClearingFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if want := cf.Header.Issuer.String() + ".clr"; name != want {
			t.Errorf("%s: the header names issuer %v", p, cf.Header.Issuer)
		}
		for _, b := range cf.Batches {
			k := b.Header.Issuer.String() + "-" + b.Header.Acquirer.String()
			a := fromClearing[k]
			a.Add(Amounts{b.Control.Details, b.Control.Gross, b.Control.Discount, b.Control.Charged})
			fromClearing[k] = a
		}
		clearingInter.Add(Amounts{cf.Control.Details, cf.Control.Gross, cf.Control.Discount, cf.Control.Charged})
	}
	if !maps.Equal(fromClearing, fromLedger) || len(fromLedger) < 20 || issuers < 5 {
		t.Errorf("pairs in the clearing files (%d issuers):\n%v\nin the ledger:\n%v", issuers, fromClearing, fromLedger)
	}
	if ledgerInter != clearingInter {
		t.Errorf("ledger interregional %+v, clearing files %+v", ledgerInter, clearingInter)
	}
	s, err := ParseSummary(files[prefix+"summary.json"])
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Interregional.amounts(); got != ledgerInter {
		t.Errorf("summary interregional %+v, ledger %+v", got, ledgerInter)
	}
	var net int64
	for _, n := range s.NetPositions {
		net += n.NetFen
	}
	if net != 0 || len(s.NetPositions) != len(fixtureParts) {
		t.Errorf("%d net positions summing to %d", len(s.NetPositions), net)
	}
}

func TestOptionsValidate(t *testing.T) {
	f := func(o Options, ok bool) {
		t.Helper()
		if err := o.Validate(); (err == nil) != ok {
			t.Errorf("%+v: Validate = %v, want ok=%v", o, err, ok)
		}
	}
	f(Options{Participants: fixtureParts, Shards: 4}, true)
	f(Options{}, true)
	f(Options{Shards: -1}, false)
	f(Options{Participants: []transit.Participant{{Code: 330200, Name: "Ningbo"}, {Code: 110100, Name: "Beijing"}}}, false)
	f(Options{Participants: []transit.Participant{{Code: 330200, Name: "Ningbo"}, {Code: 330200, Name: "Ningbo"}}}, false)
	f(Options{Participants: []transit.Participant{{Code: 330201, Name: "bad"}}}, false)

	w := func(o WriteOptions, ok bool) {
		t.Helper()
		if err := o.Validate(); (err == nil) != ok {
			t.Errorf("%+v: Validate = %v, want ok=%v", o, err, ok)
		}
	}
	w(WriteOptions{PolicyFingerprint: "book-2025.03:sha256=ab12"}, true)
	w(WriteOptions{PolicyFingerprint: "a b"}, false)
	w(WriteOptions{PolicyFingerprint: "a|b"}, false)
	w(WriteOptions{PolicyFingerprint: strings.Repeat("x", 129)}, false)
	w(WriteOptions{Concurrency: -1}, false)
	w(WriteOptions{FileMode: 0o4755}, false)

	lean := collect(t, fixtureRows(), nil, 1, false, nil).Day(fixtureDay)
	if _, err := WriteDay(t.TempDir(), lean, WriteOptions{Ledger: true, SkipSync: true}); !errors.Is(err, ErrOptions) {
		t.Errorf("WriteDay of a clearing-only day with a ledger: %v, want ErrOptions", err)
	}
}

func TestDirName(t *testing.T) {
	for _, s := range []string{"2025-03-01", "undated", "1999-12-31"} {
		d, err := ParseDirName(s)
		if err != nil || DirName(d) != s {
			t.Errorf("ParseDirName(%q) = %v, %v; DirName back = %q", s, d, err, DirName(d))
		}
	}
	for _, s := range []string{"2025-02-30", "2025-3-01", "Undated", "", "2025-03-01x"} {
		if _, err := ParseDirName(s); err == nil {
			t.Errorf("ParseDirName(%q) accepted", s)
		}
	}
}

// TestClearingFileBatchOrder: a reader refuses batches out of (acquirer,
// mode) order, a repeated batch, and a batch whose acquirer is the issuer,
// naming the offending batch header's line.
func TestClearingFileBatchOrder(t *testing.T) {
	const issuer, a, b = transit.City(440300), transit.City(310100), transit.City(440100)
	detail := func(id string, m transit.Mode) Detail {
		e := Detail{Product: transit.ProductStandard, Mode: m, Stop: transit.MustCode("S1"),
			Time: 1_740_800_000e9, Offset: 8 * 3600, Gross: 200, Charged: 200, Status: transit.StatusCharged}
		if err := e.TapID.Set([]byte(id)); err != nil {
			t.Fatal(err)
		}
		if err := e.Card.Set([]byte("3101000000000000001")); err != nil {
			t.Fatal(err)
		}
		if m == transit.ModeBus {
			e.Action = transit.ActionBoard
		} else {
			e.Action = transit.ActionExit
		}
		return e
	}
	build := func() *ClearingFile {
		f, err := BuildClearingFile(FileHeader{Day: 20148, Issuer: issuer}, []AcquirerDetails{
			{Acquirer: b, Details: []Detail{detail("t2", transit.ModeBus)}},
			{Acquirer: a, Details: []Detail{detail("t1", transit.ModeBus)}},
			{Acquirer: a, Details: []Detail{detail("t3", transit.ModeMetro)}}, // merged with the group above
		})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	good := build()
	if got := len(good.Batches); got != 3 {
		t.Fatalf("%d batches, want 3 (a bus, a metro, b bus)", got)
	}
	if h := good.Batches[2].Header; h.Acquirer != b || h.Batch != 3 {
		t.Fatalf("last batch %+v, want acquirer %v number 3", h, b)
	}
	if _, err := ReadClearingFile(bytes.NewReader(good.Append(nil))); err != nil {
		t.Fatalf("the built file does not read: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(f *ClearingFile)
		line int64 // of the refused batch header
	}{
		{"acquirers descending", func(f *ClearingFile) { f.Batches[0], f.Batches[2] = f.Batches[2], f.Batches[0] }, 5},
		{"modes descending", func(f *ClearingFile) { f.Batches[0], f.Batches[1] = f.Batches[1], f.Batches[0] }, 5},
		{"batch repeated", func(f *ClearingFile) { f.Batches[1] = f.Batches[0] }, 5},
		{"local acquirer", func(f *ClearingFile) { f.Batches[2].Header.Acquirer = issuer }, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := build()
			tc.edit(f)
			for i := range f.Batches {
				f.Batches[i].Header.Batch = i + 1
			}
			f.seal()
			_, err := ReadClearingFile(bytes.NewReader(f.Append(nil)))
			var re *RecordError
			if !errors.As(err, &re) || re.Line != tc.line {
				t.Errorf("ReadClearingFile = %v, want an error at line %d", err, tc.line)
			}
		})
	}
}

// TestBuildClearingFileRefuses: the builder returns an error rather than a
// file no reader accepts (or an entry silently left out).
func TestBuildClearingFileRefuses(t *testing.T) {
	const issuer, a = transit.City(440300), transit.City(310100)
	detail := func(id string, m transit.Mode, at int64) Detail {
		e := Detail{Product: transit.ProductStandard, Mode: m, Action: transit.ActionBoard, Stop: transit.MustCode("S1"),
			Time: at, Offset: 8 * 3600, Gross: 200, Charged: 200, Status: transit.StatusCharged}
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(e.TapID.Set([]byte(id)))
		must(e.Card.Set([]byte("3101000000000000001")))
		return e
	}
	h := FileHeader{Day: 20148, Issuer: issuer}
	for _, tc := range []struct {
		name   string
		groups []AcquirerDetails
		want   string
	}{
		{"mode 0 (would be left out)", []AcquirerDetails{{Acquirer: a, Details: []Detail{detail("t1", 0, 1_740_800_000e9)}}}, "mode 0"},
		{"mode out of range (would panic)", []AcquirerDetails{{Acquirer: a, Details: []Detail{detail("t1", transit.NumModes, 1_740_800_000e9)}}}, "not bus or metro"},
		{"local acquirer", []AcquirerDetails{{Acquirer: issuer, Details: []Detail{detail("t1", transit.ModeBus, 1_740_800_000e9)}}}, "acquirer"},
		{"merged groups out of time order", []AcquirerDetails{
			{Acquirer: a, Details: []Detail{detail("t2", transit.ModeBus, 1_740_800_060e9)}},
			{Acquirer: a, Details: []Detail{detail("t1", transit.ModeBus, 1_740_800_000e9)}},
		}, "order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := BuildClearingFile(h, tc.groups)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("BuildClearingFile = %v, %v; want an error mentioning %q", f, err, tc.want)
			}
		})
	}
}

// TestClearingFileVersion: a reader refuses a file of another format
// version, naming the field.
func TestClearingFileVersion(t *testing.T) {
	for _, line := range []string{
		"1|TSCLR|1|2025-03-01|110100|310100|CNY|fen|p",
		"1|TSCLR|2|2025-03-01|110100|CNY|fen|p", // no batch classes, no ref_day
		"1|TSCLR|3|2025-03-01|110100|CNY|fen|p", // no producer
		"1|TSCLR|5|2025-03-01|110100|CNY|fen|p|tapsettle/v9",
	} {
		var h FileHeader
		err := h.Parse([]byte(line))
		var re *RecordError
		if !errors.As(err, &re) || re.Field != "version" {
			t.Errorf("Parse(%q) = %v, want a version error", line, err)
		}
	}
	var h FileHeader
	if err := h.Parse([]byte("1|TSCLR|4|2025-03-01|110100|CNY|fen|p|tapsettle/v1.4.0")); err != nil || h.Issuer != 110100 || h.PolicyFingerprint != "p" || h.Producer != "tapsettle/v1.4.0" {
		t.Errorf("Parse(version 4) = %+v, %v", h, err)
	}
	// Version 4's producer is required: a reader refuses a header without
	// one, or with one no writer writes.
	for _, line := range []string{
		"1|TSCLR|4|2025-03-01|110100|CNY|fen|p",
		"1|TSCLR|4|2025-03-01|110100|CNY|fen|p|",
		"1|TSCLR|4|2025-03-01|110100|CNY|fen|p|tapsettle v1",
	} {
		_, err := ReadClearingFile(strings.NewReader(line + "\n"))
		var re *RecordError
		if !errors.As(err, &re) || re.Line != 1 {
			t.Errorf("ReadClearingFile(%q) = %v, want an error at line 1", line, err)
		}
	}
}

// TestDuplicateReasonRoundTrip: a duplicate whose content differs from the
// tap first seen keeps its reason through the ledger, and the day verifies.
func TestDuplicateReasonRoundTrip(t *testing.T) {
	rows := fixtureRows()
	var id transit.TapID
	for i := range rows {
		if rows[i].Status == transit.StatusDuplicate {
			rows[i].Reason = transit.ReasonContentDiffers
			id = rows[i].ID
		}
	}
	if id == (transit.TapID{}) {
		t.Fatal("the fixture has no duplicate")
	}
	root := t.TempDir()
	writeAll(t, collect(t, rows, nil, 2, true, nil), root, WriteOptions{Ledger: true, SkipSync: true})
	if err := Verify(root); err != nil {
		t.Fatal(err)
	}
	files := plain(t, readTree(t, root))
	found := false
	for _, r := range ledgerRows(t, files[DirName(fixtureDay)+"/ledger.csv"]) {
		if r.ID == id && r.Status == transit.StatusDuplicate {
			found = true
			if r.Reason != transit.ReasonContentDiffers {
				t.Errorf("duplicate %s read back with reason %q, want content-differs", id.Bytes(), r.Reason)
			}
		}
	}
	if !found {
		t.Errorf("duplicate %s not in the ledger", id.Bytes())
	}
}

// TestLedgerTimeOutOfRangeOffset: a row whose offset is far outside
// ±23:59 writes a time longer than ledgerFormat remembers; it must come
// out as AppendRFC3339 writes it, and leave the remembered time right for
// the rows after it.
func TestLedgerTimeOutOfRangeOffset(t *testing.T) {
	good := fixtureRows()[0]
	good.Time = good.Time/1e9*1e9 + 123456789 // fractional seconds: the longest text
	bad := good
	bad.Offset = math.MinInt32
	if n := len(transit.AppendRFC3339(nil, bad.Time, bad.Offset)); n <= len(timeText{}.text) {
		t.Fatalf("the out-of-range time writes %d bytes, no more than timeText holds: the test checks nothing", n)
	}
	var f ledgerFormat
	for i, r := range []transit.Priced{good, bad, bad, good, good, bad} {
		got := f.append(nil, &r)
		if want := AppendLedgerRow(nil, &r); !bytes.Equal(got, want) {
			t.Fatalf("row %d: ledgerFormat wrote\n%s want\n%s", i, got, want)
		}
		field := bytes.Split(got, []byte{','})[9]
		if want := transit.AppendRFC3339(nil, r.Time, r.Offset); !bytes.Equal(field, want) {
			t.Fatalf("row %d: time %q, want %q", i, field, want)
		}
	}
}

// ledgerRows reads a decompressed ledger with the public reader.
func ledgerRows(t *testing.T, data []byte) []transit.Priced {
	t.Helper()
	lr, err := NewLedgerReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var rows []transit.Priced
	for {
		var r transit.Priced
		if err := lr.Read(&r); errors.Is(err, io.EOF) {
			return rows
		} else if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
}

// TestScanClearingFile: ScanClearingFile visits, in order and with their
// batches' headers, exactly the details ReadClearingFile keeps, returns
// the same file less its details, and refuses what ReadClearingFile
// refuses.
func TestScanClearingFile(t *testing.T) {
	root := t.TempDir()
	c := collect(t, append(fixtureRows(), synthRows(3000, 13)...), fixtureRejects(), 3, true, rand.New(rand.NewPCG(4, 4)))
	writeAll(t, c, root, WriteOptions{SkipSync: true})
	files := plain(t, readTree(t, root))
	type seen struct {
		batch int
		d     Detail
	}
	read := 0
	for p, data := range files {
		if !strings.Contains(p, "/clearing/") {
			continue
		}
		read++
		whole, err := ReadClearingFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var want, got []seen
		for _, b := range whole.Batches {
			for _, d := range b.Details {
				want = append(want, seen{b.Header.Batch, d})
			}
		}
		scanned, err := ScanClearingFile(bytes.NewReader(data), func(h *BatchHeader, d *Detail) {
			got = append(got, seen{h.Batch, *d})
		})
		if err != nil {
			t.Fatalf("%s: scan: %v", p, err)
		}
		if len(got) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: scanned %d details, read %d (or in another order)", p, len(got), len(want))
		}
		if scanned.Header != whole.Header || scanned.Control != whole.Control || len(scanned.Batches) != len(whole.Batches) {
			t.Fatalf("%s: scanned file %+v differs from the one read", p, scanned.Header)
		}
		for i, b := range scanned.Batches {
			if len(b.Details) != 0 || b.Header != whole.Batches[i].Header || b.Control != whole.Batches[i].Control {
				t.Errorf("%s: batch %d scanned as %+v, with %d details", p, i+1, b.Header, len(b.Details))
			}
		}
		cut := data[:len(data)-len(data)/3]
		if _, err := ScanClearingFile(bytes.NewReader(cut), func(*BatchHeader, *Detail) {}); err == nil {
			t.Errorf("%s: a file cut short scanned", p)
		}
	}
	if read < 5 {
		t.Fatalf("%d clearing files, want at least 5", read)
	}
}
