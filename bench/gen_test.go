package bench

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

func testWorld(t testing.TB) (*fares.Book, *transit.Calendar) {
	t.Helper()
	b, err := fares.Default()
	if err != nil {
		t.Fatal(err)
	}
	cal, err := transit.NewCalendar(time.FixedZone("CST", 8*3600), 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return b, cal
}

func gen(t testing.TB, o GenOptions) *GenDay {
	t.Helper()
	b, cal := testWorld(t)
	if o.Day == 0 {
		o.Day, _ = transit.ParseDay("2025-03-03")
	}
	d, err := Generate(b, cal, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func encode(t testing.TB, f ingest.Format, d *GenDay) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f, ingest.CompressionNone, d); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := encode(t, ingest.FormatCSV, gen(t, GenOptions{Taps: 5000, Seed: 3}))
	b := encode(t, ingest.FormatCSV, gen(t, GenOptions{Taps: 5000, Seed: 3}))
	c := encode(t, ingest.FormatCSV, gen(t, GenOptions{Taps: 5000, Seed: 4}))
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different bytes")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same bytes")
	}
}

// TestGeneratedDayIsInOrder: the records come in the engine's order
// (transit.Compare), except the late share, which follows in that order
// too; a duplicate sits beside the tap it repeats.
func TestGeneratedDayIsInOrder(t *testing.T) {
	byTap := func(a, b Record) int { return transit.Compare(&a.Tap, &b.Tap) }
	d := gen(t, GenOptions{Taps: 20000, Seed: 5, Late: -1})
	if !slices.IsSortedFunc(d.Records, byTap) {
		t.Error("with no late share the records are not in transit.Compare order")
	}
	d = gen(t, GenOptions{Taps: 20000, Seed: 5, Late: 0.05})
	onTime := d.Records[:len(d.Records)-d.Late]
	if d.Late == 0 || !slices.IsSortedFunc(onTime, byTap) || !slices.IsSortedFunc(d.Records[len(onTime):], byTap) {
		t.Errorf("%d late records: the on-time and the late records are not each in order", d.Late)
	}
	dups := 0
	for i := 1; i < len(onTime); i++ {
		if onTime[i].Tap.ID == onTime[i-1].Tap.ID {
			dups++
		}
	}
	if dups == 0 {
		t.Error("no duplicate sits beside the tap it repeats")
	}
}

// The written day decodes to exactly the generated taps, and the
// corrupted records are exactly the rejects.
func TestGeneratedDayDecodes(t *testing.T) {
	d := gen(t, GenOptions{Taps: 20_000, Seed: 1, Malformed: 0.01, Duplicates: 0.01})
	want := d.Taps()
	for _, f := range []ingest.Format{ingest.FormatCSV, ingest.FormatJSONL} {
		var rejects []transit.Reject
		r, err := ingest.NewReader("day", bytes.NewReader(encode(t, f, d)), ingest.Options{OnReject: func(x transit.Reject) { rejects = append(rejects, x) }})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]transit.Tap, 0, len(want))
		buf := make([]transit.Tap, 512)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%v: decoded %d taps, generated %d", f, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%v: tap %d differs: %+v vs %+v", f, i, got[i], want[i])
			}
		}
		if len(rejects) != d.Malformed || d.Malformed < 100 {
			t.Errorf("%v: %d rejects, %d malformed generated", f, len(rejects), d.Malformed)
		}
	}
}

func TestGeneratedDayIsRealistic(t *testing.T) {
	d := gen(t, GenOptions{Taps: 100_000, Seed: 5})
	taps := d.Taps()
	cities := map[transit.City]int{}
	var peak, interregional, metro, joininNingbo int
	for i := range taps {
		x := &taps[i]
		cities[x.City]++
		h := time.Unix(0, x.Time).In(time.FixedZone("CST", 8*3600)).Hour()
		if h >= 7 && h < 10 || h >= 17 && h < 20 {
			peak++
		}
		if x.Issuer != x.City {
			interregional++
		}
		if x.Mode == transit.ModeMetro {
			metro++
		}
		if x.City == transit.Ningbo && x.Issuer == transit.Ningbo && x.Product == transit.ProductJoinIn {
			joininNingbo++
		}
	}
	n := float64(len(taps))
	// 6 peak hours of 18 in service would carry a third of the taps if
	// ridership were flat; peaks carry far more.
	if share := float64(peak) / n; share < 0.42 {
		t.Errorf("peak-hour share %.2f, want > 0.42", share)
	}
	if share := float64(interregional) / n; share < 0.02 || share > 0.08 {
		t.Errorf("interregional share %.3f, want about 0.04", share)
	}
	if share := float64(metro) / n; share < 0.3 {
		t.Errorf("metro share %.2f", share)
	}
	if joininNingbo == 0 {
		t.Error("no Ningbo Join in Card taps in Ningbo")
	}
	if len(cities) < 300 {
		t.Errorf("taps in %d cities, want nearly all 336", len(cities))
	}
	if cities[110100] < 10*cities[654000] {
		t.Errorf("Beijing %d taps vs Yili %d: ridership is not skewed to large cities", cities[110100], cities[654000])
	}
}

func TestGenOptionsValidate(t *testing.T) {
	b, cal := testWorld(t)
	bad := []GenOptions{{Taps: 0}, {Taps: 10, Duplicates: 2}, {Taps: 10, FirstID: -1}}
	if seq := int64(maxTapSeq); strconv.IntSize == 64 { // an int of 32 bits cannot hold a first id past ten digits
		bad = append(bad, GenOptions{Taps: 10, FirstID: int(seq - 10)})
	}
	for _, o := range bad {
		if _, err := Generate(b, cal, o); err == nil {
			t.Errorf("Generate(%+v) accepted", o)
		}
	}
}

// TestGenerateNextDay checks FirstID's promise: the same seed on the next
// day is the same riders, every tap on that day, no tap_id shared with
// the first day, and the ids still ten digits of sequence.
func TestGenerateNextDay(t *testing.T) {
	day1, _ := transit.ParseDay("2025-03-03")
	const n = 20_000
	first := gen(t, GenOptions{Taps: n, Seed: 6, Day: day1, Late: -1})
	second := gen(t, GenOptions{Taps: n, Seed: 6, Day: day1 + 1, Late: -1, FirstID: n})
	_, cal := testWorld(t)
	cards := func(d *GenDay) map[transit.CardID]bool {
		m := map[transit.CardID]bool{}
		for _, r := range d.Records {
			m[r.Tap.Card] = true
		}
		return m
	}
	if a, b := cards(first), cards(second); len(a) != len(b) || len(a) == 0 {
		t.Errorf("%d cards on the first day, %d on the second, want the same riders", len(a), len(b))
	} else {
		for c := range b {
			if !a[c] {
				t.Fatalf("card %s rides on the second day only", c.String())
			}
		}
	}
	ids := map[transit.TapID]bool{}
	for _, r := range first.Records {
		ids[r.Tap.ID] = true
	}
	for _, r := range second.Records {
		if ids[r.Tap.ID] && r.Bad == NotCorrupt {
			t.Fatalf("tap_id %s is on both days", r.Tap.ID.String())
		}
		if got := cal.DayOf(r.Tap.Time); got != day1+1 {
			t.Fatalf("tap %s is on %v, want %v", r.Tap.ID.String(), got, day1+1)
		}
		if len(r.Tap.ID.String()) != len("110100-0000000001") {
			t.Fatalf("tap_id %q: want six digits of city, a dash, ten of sequence", r.Tap.ID.String())
		}
	}
}

// TestRoundID: the replay's tap_ids of different rounds differ, stay valid
// identifiers, and keep the original's bytes before the suffix.
func TestRoundID(t *testing.T) {
	for _, s := range []string{"t-1", strings.Repeat("x", 36), strings.Repeat("y", transit.MaxTapID)} {
		var id transit.TapID
		if err := id.Set([]byte(s)); err != nil {
			t.Fatal(err)
		}
		seen := map[transit.TapID]int{}
		for k := range 1296 {
			r := roundID(id, k)
			var back transit.TapID
			if err := back.Set(r.Bytes()); err != nil || back != r {
				t.Fatalf("round %d of %q: %q is not a valid identifier: %v", k, s, r.Bytes(), err)
			}
			if !strings.HasPrefix(string(r.Bytes()), s[:min(len(s), transit.MaxTapID-3)]) {
				t.Fatalf("round %d of %q: %q lost the original's prefix", k, s, r.Bytes())
			}
			if j, dup := seen[r]; dup {
				t.Fatalf("rounds %d and %d of %q share %q", j, k, s, r.Bytes())
			}
			seen[r] = k
		}
	}
}
