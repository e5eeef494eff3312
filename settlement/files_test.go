package settlement

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
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
	lr, err := NewLedgerReader(bytes.NewReader(files[prefix+"ledger.csv"]))
	if err != nil {
		t.Fatal(err)
	}
	for {
		var r transit.Priced
		if err := lr.Read(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
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
	pairs := 0
	for p, data := range files {
		name, ok := strings.CutPrefix(p, prefix+"clearing/")
		if !ok {
			continue
		}
		pairs++
		cf, err := ReadClearingFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got := Amounts{cf.Control.Entries, cf.Control.Gross, cf.Control.Discount, cf.Control.Charged}
		if want := fromLedger[strings.TrimSuffix(name, ".clr")]; got != want {
			t.Errorf("%s: file control %+v, ledger rows %+v", p, got, want)
		}
		clearingInter.Add(got)
	}
	if pairs != len(fromLedger) || pairs < 20 {
		t.Errorf("%d clearing files, %d pairs in the ledger", pairs, len(fromLedger))
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
	f(Options{Participants: []Participant{{330200, "Ningbo"}, {110100, "Beijing"}}}, false)
	f(Options{Participants: []Participant{{330200, "Ningbo"}, {330200, "Ningbo"}}}, false)
	f(Options{Participants: []Participant{{330201, "bad"}}}, false)

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
