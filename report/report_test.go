package report

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// TestFixtureFigures reads the fixture's day and checks every figure the
// report shows against the figures worked out by hand from the rows of
// internal/fixture (see settlement's TestFixtureFigures), with the
// fixture's adjustments: the reversal of Shanghai's Join in Card charge
// of 7.60 in the Ningbo metro and its new charge of 3.80 (Shanghai ->
// Ningbo -3.80 net), and the refund of a Ningbo Join in Card bus ride.
func TestFixtureFigures(t *testing.T) {
	d := readFixture(t, writeFixtureDay(t, true, nil))
	s := d.Summary
	want := settlement.StatusCounts{Charged: 9, Open: 1, Duplicate: 1, Rejected: 3, Incomplete: 2}
	if s.Counts != want || s.Records != 16 || s.Malformed != 2 || s.Adjustments.Count != 3 {
		t.Errorf("counts %+v, records %d, malformed %d, adjustments %d; want %+v, 16, 2, 3", s.Counts, s.Records, s.Malformed, s.Adjustments.Count, want)
	}
	all, _, adj := d.Totals()
	if want := (Amounts{Count: 9 + 3, Gross: 3100 - 600, Discount: 900 - 100, Charged: 2200 - 500}); all != want {
		t.Errorf("totals %+v, want %+v", all, want)
	}
	if want := (Amounts{Count: 3, Gross: -800 + 400 - 200, Discount: -40 + 20 - 80, Charged: -760 + 380 - 120}); adj != want {
		t.Errorf("adjustments %+v, want %+v", adj, want)
	}
	// Rows 1, 3, 13, less the refund of t-022 and the product discount
	// that Shanghai's Join in Card in the Ningbo metro gives back.
	if got := d.JoinInDiscount(); got != 80+20+80-80-40+20 {
		t.Errorf("Join in Card discount %v, want 0.80", got)
	}

	flows, err := d.Flows()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range flows {
		got = append(got, f.Issuer.String()+">"+f.Acquirer.String()+" "+f.Charged.String())
	}
	wantFlows := []string{
		"110100>310100 6.00", "310100>110100 4.50", "440300>310100 3.00", "330200>330100 2.00",
		"440300>440100 1.50", "310100>330200 -3.80",
	}
	if !reflect.DeepEqual(got, wantFlows) {
		t.Errorf("flows %q\nwant %q", got, wantFlows)
	}

	nets, err := d.NetPositions()
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, n := range nets {
		got = append(got, n.Participant.String()+" "+n.Amount.String())
	}
	wantNets := []string{"310100 8.30", "330100 2.00", "440100 1.50", "110100 -1.50", "440300 -4.50", "330200 -5.80"}
	if !reflect.DeepEqual(got, wantNets) {
		t.Errorf("net positions %q\nwant %q", got, wantNets)
	}
	if c, db := Creditors(nets, 2), Debtors(nets, 2); len(c) != 2 || c[0].Participant != fixture.Shanghai || c[1].Participant != fixture.Hangzhou ||
		len(db) != 2 || db[0].Participant != fixture.Ningbo || db[1].Participant != fixture.Shenzhen {
		t.Errorf("top 2 creditors %+v, debtors %+v", c, db)
	}

	claims, err := d.Claims()
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, c := range claims {
		got = append(got, strings.Join([]string{c.City.String(), c.Product.String(), c.ProductDiscount.String(), c.TransferDiscount.String(), c.CapDiscount.String(), c.Total().String()}, " "))
	}
	wantClaims := []string{
		"110100 student 4.50 0.00 0.00 4.50",  // row 8
		"310100 standard 0.00 1.00 0.00 1.00", // row 6
		"330200 joinin 0.80 1.20 0.00 2.00",   // rows 1, 3, 13 and the adjustments in Ningbo
		"440100 standard 0.00 0.00 0.50 0.50", // row 12
	}
	if !reflect.DeepEqual(got, wantClaims) {
		t.Errorf("claims %q\nwant %q", got, wantClaims)
	}
	if cc := CityClaims(claims); len(cc) != 4 || cc[0].City != fixture.Beijing || cc[1].City != fixture.Ningbo || cc[1].Total() != 200 {
		t.Errorf("city claims %+v: want Beijing 4.50 first, then Ningbo 2.00", cc)
	}

	// Hours from 04:00: every ledger row of the day but the adjustments.
	h := d.Hours
	wantBus := make([]int64, 24)
	wantMetro := make([]int64, 24)
	for _, i := range []int{3, 4, 5, 5, 8, 10, 14} { // rows 1, 13, 4, 9, 7, 10, 12
		wantBus[i]++
	}
	for _, i := range []int{3, 4, 5, 5, 9, 16, 19} { // rows 2, 3, 5, 6, 8, 15, 11
		wantMetro[i]++
	}
	if h.Source != HoursLedger || !reflect.DeepEqual(h.Bus, wantBus) || !reflect.DeepEqual(h.Metro, wantMetro) || h.Outside != 0 || h.Label(0) != "04:00" || h.Label(23) != "03:00" {
		t.Errorf("hours %+v (first %s, last %s)\nwant bus %v metro %v", h, h.Label(0), h.Label(23), wantBus, wantMetro)
	}
}

// TestFixtureText checks the text's figures for the fixture's day.
func TestFixtureText(t *testing.T) {
	d := readFixture(t, writeFixtureDay(t, true, nil))
	var b bytes.Buffer
	if err := WriteText(&b, d, 2); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"records by status (summary, recounted from the ledger)",
		"  charged       9\n",
		"  rejected      3  of which 2 malformed, in the rejects file\n",
		"  records      16  = charged + open + duplicate + rejected + incomplete\n",
		"  adjustments   3  ",
		"  all              12  25.00      8.00    17.00\n",
		"  interregional     8  19.00      5.80    13.20\n",
		"  adjustments       3  -6.00     -1.00    -5.00\n",
		"Ningbo Join in Card discount given: 0.80 CNY",
		"largest bilateral flows: 2 of 6 pairs",
		"  Beijing 110100   ->  Shanghai 310100     2   7.00      1.00     6.00\n",
		"  Shanghai 310100  ->  Beijing 110100      1   9.00      4.50     4.50\n",
		"net positions of 6 participants (receivable - payable, CNY; they sum to 0.00)",
		"    Shanghai 310100        9.00     0.70   8.30\n",
		"    Hangzhou 330100        2.00     0.00   2.00\n",
		"    Ningbo 330200         -3.80     2.00  -5.80\n",
		"    Shenzhen 440300        0.00     4.50  -4.50\n",
		"  Beijing 110100    student      1   9.00     4.50      0.00  0.00   4.50\n",
		"  Ningbo 330200     joinin       6   2.00     0.80      1.20  0.00   2.00\n",
		"  total                         11  23.00     5.30      2.20  0.50   8.00\n",
		"taps per hour: 14 taps of the ledger in the day's hours from 04:00 (CST)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Shenzhen 440300  ->") || strings.Contains(out, "Guangzhou 440100   ") {
		t.Errorf("text lists more than the top 2 flows, creditors and debtors:\n%s", out)
	}
}

// TestOutsideHours: a late tap of an earlier day, settled on this day, is
// counted apart from the day's hours.
func TestOutsideHours(t *testing.T) {
	d := readFixture(t, writeFixtureDay(t, true, func(r *transit.Priced) {
		if r.ID.String() == "t-014" { // 03:30, before the day's 04:00 cut-off
			r.Day = fixture.Day
		}
	}))
	if d.Hours.Outside != 1 || d.Hours.Total() != 14 {
		t.Errorf("outside %d, in the hours %d; want 1, 14", d.Hours.Outside, d.Hours.Total())
	}
	if n := d.Hours.Note(); !strings.Contains(n, "and 1 made before or after them") {
		t.Errorf("note %q does not count the late tap", n)
	}
}

// TestWithoutLedger: a day settled without a ledger places only the
// interregional journeys of its clearing files in hours, and says so.
func TestWithoutLedger(t *testing.T) {
	d := readFixture(t, writeFixtureDay(t, false, nil))
	h := d.Hours
	// Interregional journeys: rows 4, 6, 7, 8, 12, 15 (the adjustments
	// are not journeys of the day).
	wantBus, wantMetro := make([]int64, 24), make([]int64, 24)
	wantBus[5], wantBus[8], wantBus[14] = 1, 1, 1
	wantMetro[5], wantMetro[9], wantMetro[16] = 1, 1, 1
	if h.Source != HoursClearing || !reflect.DeepEqual(h.Bus, wantBus) || !reflect.DeepEqual(h.Metro, wantMetro) || h.Outside != 0 {
		t.Errorf("hours %+v; want bus %v metro %v from the clearing files", h, wantBus, wantMetro)
	}
	if n := h.Note(); !strings.Contains(n, "no ledger") || !strings.Contains(n, "cannot be computed for all taps") || !strings.Contains(n, "6 interregional journeys") {
		t.Errorf("note %q", n)
	}
	// The figures are the summary's either way.
	withLedger := readFixture(t, writeFixtureDay(t, true, nil))
	a, b := *d.Summary, *withLedger.Summary
	a.Ledger, b.Ledger = false, false
	if !reflect.DeepEqual(a, b) {
		t.Error("the summaries with and without a ledger differ beyond the ledger flag")
	}
}

// TestUndated: an undated folder has no hours, and says why.
func TestUndated(t *testing.T) {
	d := readFixture(t, writeUndatedDay(t))
	if d.Hours.Source != HoursNone || d.Summary.Records != 1 {
		t.Errorf("undated: hours %+v, records %d", d.Hours, d.Summary.Records)
	}
	var b bytes.Buffer
	if err := WriteText(&b, d, 10); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"none: no card rode outside", "every position is zero", "none: no discount was given", "undated folder"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("undated text lacks %q:\n%s", want, b.String())
		}
	}
}

// rewriteSummary replaces the summary of the day folder dir by edit's
// version of it, with a manifest that lists it: a day whose checksums
// agree but whose figures do not.
func rewriteSummary(t *testing.T, dir string, edit func(*settlement.Summary)) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	raw, err := dec.DecodeAll(read(settlement.SummaryName), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := settlement.ParseSummary(raw)
	if err != nil {
		t.Fatal(err)
	}
	edit(s)
	enc, _ := zstd.NewWriter(nil)
	data := enc.EncodeAll(s.Marshal(), nil)
	if err := os.WriteFile(filepath.Join(dir, settlement.SummaryName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := settlement.ParseManifest(read(settlement.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	mf := m.File(settlement.SummaryName)
	mf.Size = int64(len(data))
	mf.SHA256 = sha256.Sum256(data)
	if err := os.WriteFile(filepath.Join(dir, settlement.ManifestName), m.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRefusesUnreconciled: figures that do not add up, or a file that is
// not the one the manifest lists, are an error, not a report.
func TestRefusesUnreconciled(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*settlement.Summary)
		want string
	}{
		{"ledger disagrees", func(s *settlement.Summary) { s.Counts.Charged++; s.Records++ }, "the ledger has 9 rows of status charged, the summary 10"},
		{"counts do not sum to records", func(s *settlement.Summary) { s.Counts.Open++ }, "the counts by status sum to 17, records are 16"},
		{"net positions do not sum to zero", func(s *settlement.Summary) { s.NetPositions[0].NetFen++ }, "net positions sum to 0.01 CNY"},
		{"no ledger, says the summary", func(s *settlement.Summary) { s.Ledger = false }, "the summary says ledger=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFixtureDay(t, true, nil)
			rewriteSummary(t, dir, tc.edit)
			_, err := Read(dir, Options{Cities: fixtureCities, Calendar: fixture.Calendar(t)})
			if !errors.Is(err, ErrUnreconciled) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read: %v; want ErrUnreconciled saying %q", err, tc.want)
			}
		})
	}
	t.Run("a file changed after the manifest", func(t *testing.T) {
		dir := writeFixtureDay(t, true, nil)
		p := filepath.Join(dir, settlement.LedgerName)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = Read(dir, Options{Cities: fixtureCities, Calendar: fixture.Calendar(t)})
		if !errors.Is(err, ErrUnreconciled) || !strings.Contains(err.Error(), "ledger.csv.zst is not the file the manifest lists") {
			t.Errorf("Read: %v; want the ledger named as changed", err)
		}
	})
	t.Run("not a day folder", func(t *testing.T) {
		_, err := Read(t.TempDir(), Options{Calendar: fixture.Calendar(t)})
		if err == nil || !strings.Contains(err.Error(), "a settled day folder") {
			t.Errorf("Read of an empty folder: %v", err)
		}
	})
}

// TestGeneratedDayReconciles reads a generated day of the 336 participants
// settled by the batch job: the ledger's rows by hour account for every
// record but the malformed ones, and the clearing files' journeys for
// every interregional row.
func TestGeneratedDayReconciles(t *testing.T) {
	ledger, plain, book := generatedDays(t)
	cal := fixture.Calendar(t)
	d, err := Read(ledger, Options{Cities: book.Cities(), Calendar: cal})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Summary
	if got, want := d.Hours.Total()+d.Hours.Outside, s.Records-s.Malformed; got != want {
		t.Errorf("ledger hours count %d taps, want records less malformed %d", got, want)
	}
	nets, err := d.NetPositions()
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 336 || d.Name(transit.Ningbo) != "Ningbo" || d.NameZH(transit.Ningbo) != "宁波市" {
		t.Errorf("%d net positions, Ningbo named %q %q", len(nets), d.Name(transit.Ningbo), d.NameZH(transit.Ningbo))
	}
	p, err := Read(plain, Options{Cities: book.Cities(), Calendar: cal})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Hours.Total()+p.Hours.Outside, p.Summary.Interregional.Count-p.Summary.Adjustments.Count; p.Hours.Source != HoursClearing || got > want || got == 0 {
		t.Errorf("clearing hours count %d journeys (source %v), want at most the %d interregional rows", got, p.Hours.Source, want)
	}
	// The top flow is the pair with the largest charged amount.
	flows, err := d.Flows()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range s.Bilateral {
		if b.ChargedFen > int64(flows[0].Charged) {
			t.Errorf("pair %s->%s charged %d fen, more than the top flow %+v", b.Issuer, b.Acquirer, b.ChargedFen, flows[0])
		}
	}
}
