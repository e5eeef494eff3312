package settlement

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestFixtureFigures checks the fixture's day against figures worked out
// by hand from the rows in fixture_test.go.
func TestFixtureFigures(t *testing.T) {
	c := collect(t, fixtureRows(), fixtureRejects(), 3, true, rand.New(rand.NewPCG(1, 2)))
	if got, want := c.Days(), []transit.Day{Undated, fixturePrev, fixtureDay}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Days = %v, want %v", got, want)
	}
	d := c.Day(fixtureDay)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	var counts [transit.NumStatuses]int64
	counts[transit.StatusCharged] = 9      // rows 1-7, 12, 13
	counts[transit.StatusOpen] = 1         // row 11
	counts[transit.StatusDuplicate] = 1    // row 9
	counts[transit.StatusRejected] = 1 + 2 // row 10 and two malformed records of the day
	counts[transit.StatusIncomplete] = 2   // rows 8 and 15
	if d.Counts != counts || d.Records != 16 {
		t.Errorf("Counts = %v, Records = %d; want %v, 16", d.Counts, d.Records, counts)
	}
	// Journeys: 1, 3, 4, 6, 7, 8, 12, 13, 15 (paired entries 2 and 5 are not).
	if want := (Amounts{Count: 9, Gross: 200 + 400 + 200 + 500 + 200 + 900 + 200 + 200 + 300, Discount: 80 + 20 + 100 + 450 + 50 + 200, Charged: 120 + 380 + 200 + 400 + 200 + 450 + 150 + 0 + 300}); d.Totals != want {
		t.Errorf("Totals = %+v, want %+v", d.Totals, want)
	}
	wantBil := []Bilateral{
		{beijing, shanghai, Amounts{2, 700, 100, 600}, Amounts{}},
		{shanghai, beijing, Amounts{1, 900, 450, 450}, Amounts{}},
		{ningbo, hangzhou, Amounts{1, 200, 0, 200}, Amounts{}},
		{shenzhen, shanghai, Amounts{1, 300, 0, 300}, Amounts{}},
		{shenzhen, guangzhou, Amounts{1, 200, 50, 150}, Amounts{}},
	}
	if !reflect.DeepEqual(d.Bilateral, wantBil) {
		t.Errorf("Bilateral = %+v\nwant %+v", d.Bilateral, wantBil)
	}
	wantNet := map[transit.City]transit.Fen{
		beijing: 450 - 600, shanghai: 600 + 300 - 450, hangzhou: 200, ningbo: -200, guangzhou: 150, shenzhen: -300 - 150,
	}
	var sum transit.Fen
	for _, n := range d.Net {
		sum += n.Net
		if n.Net != wantNet[n.Participant] || n.Net != n.Receivable-n.Payable {
			t.Errorf("net position of %v = %+v, want %d", n.Participant, n, wantNet[n.Participant])
		}
	}
	if sum != 0 || len(d.Net) != len(fixtureParts) {
		t.Errorf("net positions: %d of them sum to %d; want %d summing to 0", len(d.Net), sum, len(fixtureParts))
	}
	if got := d.NingboJoinInDiscount(); got != 80+20+80 {
		t.Errorf("Ningbo Join in Card discount = %d, want 180 (rows 1, 3, 13)", got)
	}
	if got, want := d.Interregional, (Amounts{6, 2300, 600, 1700}); got != want {
		t.Errorf("Interregional = %+v, want %+v", got, want)
	}
	if len(d.Rows) != 14 || len(d.Rejects) != 2 {
		t.Errorf("%d rows, %d rejects; want 14, 2", len(d.Rows), len(d.Rejects))
	}
	if u := c.Day(Undated); u.Records != 1 || u.Counts[transit.StatusRejected] != 1 || len(u.Rows) != 0 {
		t.Errorf("undated day: %+v", u)
	}
}

// TestClearingOnlyRows: without Ledger only the interregional clearing
// rows are kept, and the aggregates are the same as with it.
func TestClearingOnlyRows(t *testing.T) {
	full := collect(t, fixtureRows(), fixtureRejects(), 2, true, rand.New(rand.NewPCG(3, 4))).Day(fixtureDay)
	lean := collect(t, fixtureRows(), fixtureRejects(), 2, false, rand.New(rand.NewPCG(3, 4))).Day(fixtureDay)
	if err := lean.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(lean.Rows) != 6 {
		t.Errorf("lean day keeps %d rows, want the 6 interregional journeys", len(lean.Rows))
	}
	for i := range lean.Rows {
		if r := &lean.Rows[i]; !isClearing(r) || !r.Interregional() {
			t.Errorf("lean day keeps tap %s (%v, %v-%v)", r.ID, r.Status, r.Issuer, r.City)
		}
	}
	if full.Counts != lean.Counts || full.Totals != lean.Totals || !reflect.DeepEqual(full.Bilateral, lean.Bilateral) ||
		!reflect.DeepEqual(full.Net, lean.Net) || !reflect.DeepEqual(full.Discounts, lean.Discounts) {
		t.Error("aggregates differ between ledger and clearing-only collection")
	}
}

// TestDeterministic writes the same rows emitted over 1, 2 and 4 shards,
// in shuffled orders and random batches, and requires identical bytes.
func TestDeterministic(t *testing.T) {
	rows := append(fixtureRows(), synthRows(2000, 7)...)
	var ref map[string][]byte
	for _, shards := range []int{1, 2, 4} {
		for seed := range uint64(3) {
			rng := rand.New(rand.NewPCG(seed, uint64(shards)))
			shuffled := append([]transit.Priced(nil), rows...)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			root := t.TempDir()
			c := collect(t, shuffled, fixtureRejects(), shards, true, rng)
			writeAll(t, c, root, WriteOptions{Ledger: true, PolicyFingerprint: "p1", SkipSync: true, Concurrency: 1 + int(seed)})
			tree := readTree(t, root)
			if ref == nil {
				ref = tree
				continue
			}
			if len(tree) != len(ref) {
				t.Fatalf("shards=%d seed=%d: %d files, want %d", shards, seed, len(tree), len(ref))
			}
			for p, b := range ref {
				if !bytes.Equal(tree[p], b) {
					t.Errorf("shards=%d seed=%d: %s differs", shards, seed, p)
				}
			}
		}
	}
}

// TestMergeHalves: the Days of two halves of the rows, merged, equal the
// Day of all rows.
func TestMergeHalves(t *testing.T) {
	for _, ledger := range []bool{true, false} {
		t.Run(fmt.Sprint("ledger=", ledger), func(t *testing.T) {
			rows := append(fixtureRows(), synthRows(500, 11)...)
			rej := fixtureRejects()
			whole := collect(t, rows, rej, 2, ledger, rand.New(rand.NewPCG(5, 6))).Day(fixtureDay)
			h := len(rows) / 2
			a := collect(t, rows[:h], rej[:1], 1, ledger, nil).Day(fixtureDay)
			b := collect(t, rows[h:], rej[1:], 3, ledger, rand.New(rand.NewPCG(7, 8))).Day(fixtureDay)
			merged, err := Merge(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if err := merged.Validate(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(merged, whole) {
				t.Errorf("merged halves differ from the whole:\nmerged %+v\nwhole  %+v", summaryOf(merged), summaryOf(whole))
			}
			if _, err := Merge(a, collect(t, rows, nil, 1, ledger, nil).Day(fixturePrev)); err == nil {
				t.Error("Merge accepted parts of different days")
			}
		})
	}
}

func summaryOf(d *Day) string {
	return fmt.Sprintf("records=%d counts=%v totals=%+v bilateral=%d rows=%d rejects=%d", d.Records, d.Counts, d.Totals, len(d.Bilateral), len(d.Rows), len(d.Rejects))
}

// TestDayAgainAfterMoreRows: Day can be called again after more rows of the
// day arrive; the result is the merge.
func TestDayAgainAfterMoreRows(t *testing.T) {
	rows := fixtureRows()
	c := NewCollector(Options{Participants: fixtureParts, Shards: 2, Calendar: calendar(t), Ledger: true})
	c.Emit(0, rows[:5])
	first := c.Day(fixtureDay)
	if again := c.Day(fixtureDay); again != first {
		t.Error("Day without new rows returned a different Day")
	}
	c.Emit(1, rows[5:])
	got := c.Day(fixtureDay)
	want := collect(t, rows, nil, 1, true, nil).Day(fixtureDay)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Day after more rows: %s, want %s", summaryOf(got), summaryOf(want))
	}
}

// TestInvalidRows: a row that breaks an invariant is reported by Validate
// and stops WriteDay.
func TestInvalidRows(t *testing.T) {
	f := func(name string, mutate func(r *transit.Priced)) {
		t.Helper()
		rows := fixtureRows()
		mutate(&rows[3])
		c := collect(t, rows, nil, 1, true, nil)
		d := c.Day(rows[3].Day)
		if err := d.Validate(); err == nil {
			t.Errorf("%s: Validate accepted the day", name)
		}
		if _, err := WriteDay(t.TempDir(), d, WriteOptions{Ledger: true, SkipSync: true}); err == nil {
			t.Errorf("%s: WriteDay wrote the day", name)
		}
	}
	f("charged != gross - discount", func(r *transit.Priced) { r.Charged++ })
	f("discount != parts", func(r *transit.Priced) { r.Discount++; r.Charged-- })
	f("negative fare", func(r *transit.Priced) { r.Gross, r.Charged = -200, -200 })
	f("amount on a duplicate", func(r *transit.Priced) { r.Status = transit.StatusDuplicate })
	f("amount on a paired entry", func(r *transit.Priced) { r.Rules |= transit.RuleMetroEntry })
	f("invalid status", func(r *transit.Priced) { r.Status = 9 })
	f("reason on a charged row", func(r *transit.Priced) { r.Reason = transit.ReasonNoPolicy })
	f("no reason on a rejected row", func(r *transit.Priced) { *r = transit.Priced{Tap: r.Tap, Day: r.Day, Status: transit.StatusRejected} })
	f("content-differs on a rejected row", func(r *transit.Priced) {
		*r = transit.Priced{Tap: r.Tap, Day: r.Day, Status: transit.StatusRejected, Reason: transit.ReasonContentDiffers}
	})
	f("content-differs on a charged row", func(r *transit.Priced) { r.Reason = transit.ReasonContentDiffers })
	f("a reject reason on a duplicate", func(r *transit.Priced) {
		*r = transit.Priced{Tap: r.Tap, Day: r.Day, Status: transit.StatusDuplicate, Reason: transit.ReasonNoPolicy}
	})
	f("unknown rule bit", func(r *transit.Priced) { r.Rules |= 1 << 30 })
	f("odd offset", func(r *transit.Priced) { r.Offset = 8*3600 + 7 })
	f("comma in line", func(r *transit.Priced) { r.Line[2] = ',' })
	f("garbage after the padding", func(r *transit.Priced) { r.Stop[len(r.Stop)-1] = 'x' })
	f("non-participant acquirer", func(r *transit.Priced) { r.City = hami })
	f("non-participant issuer", func(r *transit.Priced) { r.Issuer = hami })
}

// TestRecordsInvariant: Records == sum(Counts) on every day of a large
// random collection.
func TestRecordsInvariant(t *testing.T) {
	c := collect(t, synthRows(3000, 3), fixtureRejects(), 4, false, rand.New(rand.NewPCG(9, 9)))
	for _, d := range c.Days() {
		day := c.Day(d)
		var sum int64
		for _, n := range day.Counts {
			sum += n
		}
		if sum != day.Records || day.Records == 0 {
			t.Errorf("%s: Records %d, sum of counts %d", DirName(d), day.Records, sum)
		}
	}
}
