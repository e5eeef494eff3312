package settlement

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestRowProblemAdjustments: the row checks accept adjustments of one
// sign with a ref_day, and refuse each broken rule.
func TestRowProblemAdjustments(t *testing.T) {
	base := func() transit.Priced { return fixtureAdjust()[0] } // the reversal of t-020
	neg := func(r *transit.Priced) {
		r.Gross, r.ProductDiscount, r.TransferDiscount, r.CapDiscount = -r.Gross, -r.ProductDiscount, -r.TransferDiscount, -r.CapDiscount
		r.Discount, r.Charged = -r.Discount, -r.Charged
	}
	for _, c := range []struct {
		name string
		edit func(r *transit.Priced)
		ok   bool
	}{
		{"reversal", func(r *transit.Priced) {}, true},
		{"replacing charge", neg, true},
		{"zero amounts", func(r *transit.Priced) {
			*r = fixtureAdjust()[1]
			r.Gross, r.ProductDiscount, r.Discount, r.Charged = 0, 0, 0, 0
		}, true},
		{"same day", func(r *transit.Priced) { r.RefDay = r.Day }, true},
		{"adjustment of a paired entry", func(r *transit.Priced) { r.Rules |= transit.RuleMetroEntry }, true},
		{"mixed signs", func(r *transit.Priced) { r.ProductDiscount, r.Discount, r.Charged = 40, 40, -840 }, false},
		{"mixed signs, cap", func(r *transit.Priced) { r.CapDiscount, r.ProductDiscount = 10, -50 }, false},
		{"no ref_day", func(r *transit.Priced) { r.RefDay = 0 }, false},
		{"ref_day undated", func(r *transit.Priced) { r.RefDay = Undated }, false},
		{"ref_day after the day", func(r *transit.Priced) { r.RefDay = r.Day + 1 }, false},
		{"reason", func(r *transit.Priced) { r.Reason = transit.ReasonUnknownCity }, false},
		{"charged not gross - discount", func(r *transit.Priced) { r.Charged-- }, false},
		{"discount not the sum", func(r *transit.Priced) { r.Discount--; r.Charged++ }, false},
		{"negative on a charged row", func(r *transit.Priced) { r.Status, r.RefDay = transit.StatusCharged, 0 }, false},
		{"negative on an incomplete row", func(r *transit.Priced) { r.Status, r.RefDay = transit.StatusIncomplete, 0 }, false},
		{"ref_day on a charged row", func(r *transit.Priced) { neg(r); r.Status = transit.StatusCharged }, false},
		{"status past adjustment", func(r *transit.Priced) { r.Status = transit.NumStatuses }, false},
	} {
		r := base()
		c.edit(&r)
		why := rowProblem(&r)
		if (why == "") != c.ok {
			t.Errorf("%s: rowProblem = %q, want ok %v", c.name, why, c.ok)
		}
	}
	if r := base(); !isClearing(&r) {
		t.Error("an adjustment is not a clearing row")
	}
}

// TestAdjustmentsDay: a day with adjustments counts them apart from the
// records, nets them into every money total, writes, verifies and reads
// back (ledger and clearing file) with the figures computed by hand.
func TestAdjustmentsDay(t *testing.T) {
	for _, shards := range []int{1, 3} {
		c := collect(t, fixtureAllRows(), fixtureRejects(), shards, true, rand.New(rand.NewPCG(7, uint64(shards))))
		d := c.Day(fixtureDay)
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		// Records and counts are the input records' alone (as without the
		// adjustments); adjustments are counted apart.
		if d.Records != 16 || d.Counts[transit.StatusAdjustment] != 3 || d.Counts[transit.StatusCharged] != 9 {
			t.Errorf("Records %d, Counts %v; want 16 records, 9 charged, 3 adjustments", d.Records, d.Counts)
		}
		// Reversal -800/-40/-760, replacing charge 400/20/380, local refund
		// -200/-80/-120.
		if want := (Amounts{3, -600, -100, -500}); d.Adjustments != want {
			t.Errorf("Adjustments = %+v, want %+v", d.Adjustments, want)
		}
		if want := (Amounts{12, 3100 - 600, 900 - 100, 2200 - 500}); d.Totals != want {
			t.Errorf("Totals = %+v, want %+v", d.Totals, want)
		}
		if want := (Amounts{8, 2300 - 400, 600 - 20, 1700 - 380}); d.Interregional != want {
			t.Errorf("Interregional = %+v, want %+v", d.Interregional, want)
		}
		var sh Bilateral
		for _, b := range d.Bilateral {
			if b.Issuer == shanghai && b.Acquirer == ningbo {
				sh = b
			}
		}
		if want := (Bilateral{shanghai, ningbo, Amounts{2, -400, -20, -380}, Amounts{2, -400, -20, -380}}); sh != want {
			t.Errorf("Shanghai-Ningbo = %+v, want %+v", sh, want)
		}
		// Net positions: Shanghai owes Ningbo -380 net (Ningbo pays back),
		// on top of the day's journeys.
		wantNet := map[transit.City]transit.Fen{
			beijing: 450 - 600, shanghai: 900 - (450 - 380), hangzhou: 200, ningbo: -380 - 200, guangzhou: 150, shenzhen: -300 - 150,
		}
		var sum transit.Fen
		for _, n := range d.Net {
			sum += n.Net
			if n.Net != wantNet[n.Participant] {
				t.Errorf("net of %v = %d, want %d", n.Participant, n.Net, wantNet[n.Participant])
			}
		}
		if sum != 0 {
			t.Errorf("net positions sum to %d", sum)
		}
		// The Join in Card claim gives back the reversed discounts:
		// 180 - 40 + 20 - 80.
		if got := d.NingboJoinInDiscount(); got != 80 {
			t.Errorf("NingboJoinInDiscount = %d, want 80", got)
		}
	}

	root := t.TempDir()
	c := collect(t, fixtureAllRows(), fixtureRejects(), 2, true, rand.New(rand.NewPCG(3, 3)))
	writeAll(t, c, root, WriteOptions{Ledger: true, PolicyFingerprint: goldenFingerprint, SkipSync: true})
	if err := Verify(root); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	files := plain(t, readTree(t, filepath.Join(root, DirName(fixtureDay))))

	// The ledger reads back every adjustment with its ref_day and signs.
	lr, err := NewLedgerReader(bytes.NewReader(files[strings.TrimSuffix(LedgerName, ".zst")]))
	if err != nil {
		t.Fatal(err)
	}
	var got []transit.Priced
	for {
		var r transit.Priced
		err := lr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == transit.StatusAdjustment {
			got = append(got, r)
		}
	}
	want := fixtureAdjust()
	sortRowsForTest(want)
	if len(got) != len(want) {
		t.Fatalf("ledger has %d adjustments, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ledger adjustment %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}

	// Shanghai's clearing file: a journey batch for Beijing, then an
	// adjustment batch for Ningbo, whose signed controls sum to the net
	// bilateral total.
	cf, err := ReadClearingFile(bytes.NewReader(files["clearing/310100.clr"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Batches) != 2 || cf.Batches[0].Header.Class != ClassJourneys || cf.Batches[1].Header.Class != ClassAdjustments {
		t.Fatalf("batches %+v, want journeys for Beijing, adjustments for Ningbo", cf.Batches)
	}
	b := cf.Batches[1]
	if b.Header.Acquirer != ningbo || b.Control.Details != 2 || b.Control.Gross != -400 || b.Control.Discount != -20 || b.Control.Charged != -380 {
		t.Errorf("adjustment batch %+v, control %+v", b.Header, b.Control)
	}
	for _, dt := range b.Details {
		if dt.Status != transit.StatusAdjustment || dt.RefDay != fixturePrev {
			t.Errorf("adjustment detail %+v", dt)
		}
	}
	if cf.Control.Details != 3 || cf.Control.Charged != 450-380 {
		t.Errorf("file control %+v, want 3 entries, 70 fen", cf.Control)
	}
}

// sortRowsForTest sorts rows by ComparePriced, time first, as a day's
// rows are.
func sortRowsForTest(rows []transit.Priced) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && (rows[j].Time < rows[j-1].Time || rows[j].Time == rows[j-1].Time && ComparePriced(&rows[j], &rows[j-1]) < 0); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

// TestVerifyTamperedAdjustment: a changed adjustment amount, batch
// control or summary figure is caught and named.
func TestVerifyTamperedAdjustment(t *testing.T) {
	const clr = "clearing/310100.clr.zst"
	// Shanghai's file: 1 header; Beijing journeys 2-4; Ningbo
	// adjustments: header 5, details 6 (400/20/380) and 7 (-800/-40/-760),
	// control 8; file control 9.
	f := func(name string, ledger bool, rel, old, new string, wantRel string, wantLine int, wantErr error) {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			c := collect(t, fixtureAllRows(), fixtureRejects(), 2, ledger, rand.New(rand.NewPCG(5, 5)))
			writeAll(t, c, root, WriteOptions{Ledger: ledger, PolicyFingerprint: goldenFingerprint, SkipSync: true})
			dir := filepath.Join(root, DirName(fixtureDay))
			if err := Verify(dir); err != nil {
				t.Fatalf("Verify of a fresh write: %v", err)
			}
			content := string(plain(t, readTree(t, dir))[strings.TrimSuffix(rel, ".zst")])
			if !strings.Contains(content, old) {
				t.Fatalf("%q not in %s", old, rel)
			}
			rewrite(t, dir, rel, []byte(strings.Replace(content, old, new, 1)))
			checkVerifyError(t, dir, wantRel, wantLine, wantErr, "")
		})
	}
	f("adjustment charged", false, clr, "|-800|-40|-760|adjustment|", "|-800|-40|-761|adjustment|", clr, 7, ErrMismatch)
	f("adjustment amounts", false, clr, "|-800|-40|-760|adjustment|", "|-801|-40|-761|adjustment|", clr, 8, ErrMismatch)
	f("adjustment sign", false, clr, "|-800|-40|-760|adjustment|", "|800|40|760|adjustment|", clr, 8, ErrMismatch)
	f("adjustment mixed signs", false, clr, "|-800|-40|-760|adjustment|", "|-800|40|-840|adjustment|", clr, 7, ErrFormat)
	f("adjustment batch control", false, clr, "8|2|metro|2|-400|-20|-380|", "8|2|metro|2|-400|-20|-381|", clr, 8, ErrMismatch)
	f("adjustment ref_day after the day", false, clr, "|metro-distance+product+late|2025-02-28", "|metro-distance+product+late|2025-03-02", clr, 6, ErrFormat)
	f("adjustment as a journey", false, clr, "|2025-03-01|adjustments", "|2025-03-01|journeys", clr, 6, ErrFormat)
	f("ledger adjustment", true, LedgerName, ",adjustment,-200,-80,-120,", ",adjustment,-201,-80,-121,", LedgerName, 0, ErrMismatch)
	f("ledger adjustment sign", true, LedgerName, ",adjustment,-200,-80,-120,", ",adjustment,200,80,120,", LedgerName, 2, ErrMismatch)
	f("summary adjustments", true, SummaryName, "\"adjustments\": {\n    \"count\": 3,\n    \"gross_fen\": -600", "\"adjustments\": {\n    \"count\": 3,\n    \"gross_fen\": -601", SummaryName, 0, ErrMismatch)
	f("summary pair adjustments", false, SummaryName, "\"adjustments\": {\n        \"count\": 2,\n        \"gross_fen\": -400,\n        \"discount_fen\": -20,\n        \"charged_fen\": -380",
		"\"adjustments\": {\n        \"count\": 2,\n        \"gross_fen\": -401,\n        \"discount_fen\": -20,\n        \"charged_fen\": -381", "clearing/310100.clr.zst", 5, ErrMismatch)
	f("summary records counting adjustments", false, SummaryName, `"records": 16`, `"records": 19`, SummaryName, 0, ErrMismatch)
}
