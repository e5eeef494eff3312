package fares

import (
	"slices"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// TestEveryPolicy is the suite every compiled policy of every participant
// must pass: positive bus fares; metro fares positive, symmetric, equal to
// the ladder fare of the shortest distance, and bounded by MaxFare and
// MaxFareFrom (which some trip reaches); and quotes that obey
// Charged == Gross - discounts >= 0.
func TestEveryPolicy(t *testing.T) {
	b := mustDefault(t)
	for _, c := range b.Cities() {
		vs := b.Versions(c.Code)
		if len(vs) == 0 {
			t.Errorf("%s has no policy", c.Code)
			continue
		}
		if vs[0].EffectiveFrom != transit.DayOf(2020, 1, 1) {
			t.Errorf("%s: first version effective from %s, want 2020-01-01", c.Code, vs[0].EffectiveFrom)
		}
		for _, p := range vs {
			checkPolicy(t, p)
		}
	}
}

func checkPolicy(t *testing.T, p *Policy) {
	t.Helper()
	if f, r := p.BusFare(transit.Code{}); f <= 0 || r != transit.RuleBusFlat {
		t.Errorf("%s %s: bus fare %d %s", p.City, p.Version, f, r)
	}
	if n := p.Metro; n != nil {
		checkNetwork(t, p, n)
	}
	// Price a few legs per product and check the quote invariants.
	var r Rider
	start := t0
	for prod := transit.Product(1); prod < transit.NumProducts; prod++ {
		for _, mode := range []transit.Mode{transit.ModeBus, transit.ModeMetro} {
			for _, gross := range []transit.Fen{0, 1, 199, 200, 250, 1300} {
				start += int64(7 * time.Minute)
				q := p.Price(&Leg{Mode: mode, Product: prod, Issuer: p.City, Start: start, Day: march1, Gross: gross}, &r)
				if q.Charged < 0 || q.Gross != gross || q.Gross-q.ProductDiscount-q.TransferDiscount-q.CapDiscount != q.Charged ||
					q.ProductDiscount < 0 || q.TransferDiscount < 0 || q.CapDiscount < 0 {
					t.Fatalf("%s %s: %v %v %d: quote %+v", p.City, p.Version, prod, mode, gross, q)
				}
			}
		}
	}
}

func checkNetwork(t *testing.T, p *Policy, n *Network) {
	t.Helper()
	ns := int32(n.NumStations())
	if ns < 2 || len(n.Lines()) < 1 {
		t.Fatalf("%s: %d stations", p.City, ns)
	}
	var maxSeen transit.Fen
	for a := range ns {
		var fromMax transit.Fen
		if got, ok := n.Station(n.StationCode(a)); !ok || got != a {
			t.Fatalf("%s: Station(StationCode(%d)) = %d, %v", p.City, a, got, ok)
		}
		for z := range ns {
			f, d := n.Fare(a, z), n.Distance(a, z)
			if f <= 0 || d < 0 || (d == 0) != (a == z) {
				t.Fatalf("%s: %d->%d fare %d distance %d", p.City, a, z, f, d)
			}
			if f != n.Fare(z, a) || d != n.Distance(z, a) {
				t.Fatalf("%s: %d<->%d not symmetric", p.City, a, z)
			}
			if f != n.FareForDistance(d) {
				t.Fatalf("%s: %d->%d fare %d, ladder says %d for %d m", p.City, a, z, f, n.FareForDistance(d), d)
			}
			fromMax = max(fromMax, f)
		}
		if fromMax != n.MaxFareFrom(a) {
			t.Fatalf("%s: MaxFareFrom(%d) = %d, highest fare from it %d", p.City, a, n.MaxFareFrom(a), fromMax)
		}
		maxSeen = max(maxSeen, fromMax)
	}
	if maxSeen != n.MaxFare() {
		t.Fatalf("%s: MaxFare %d, highest fare %d", p.City, n.MaxFare(), maxSeen)
	}
	if n.Synthetic {
		checkSynthetic(t, p.City, n)
	}
}

// checkSynthetic: the generator's promises (synthetic.go).
func checkSynthetic(t *testing.T, city transit.City, n *Network) {
	t.Helper()
	lines := n.Lines()
	if len(lines) < MinSyntheticLines || len(lines) > MaxSyntheticLines || n.NumStations() > DefaultSyntheticStations {
		t.Errorf("%s: %d lines, %d stations", city, len(lines), n.NumStations())
	}
	onLines := make([]int, n.NumStations())
	for _, l := range lines {
		for _, s := range l.Stations {
			onLines[s]++
		}
		for _, d := range l.Distances {
			if d < minGapM || d > maxGapM {
				t.Errorf("%s %s: gap %d m", city, l.Code, d)
			}
		}
	}
	interchanges := 0
	for _, k := range onLines {
		if k > 1 {
			interchanges++
		}
	}
	if interchanges < len(lines)-1 {
		t.Errorf("%s: %d interchanges for %d lines", city, interchanges, len(lines))
	}
}

// TestDeterministicCompile compiles the embedded data twice: the
// fingerprints and every matrix must be identical.
func TestDeterministicCompile(t *testing.T) {
	a, err := compileDefault()
	if err != nil {
		t.Fatal(err)
	}
	b, err := compileDefault()
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatalf("fingerprints differ: %s vs %s", a.Fingerprint(), b.Fingerprint())
	}
	for i := range a.versions {
		for j, p := range a.versions[i] {
			q := b.versions[i][j]
			if (p.Metro == nil) != (q.Metro == nil) {
				t.Fatalf("%s: metro in one compile only", p.City)
			}
			if p.Metro == nil {
				continue
			}
			if p.Metro == q.Metro || !slices.Equal(p.Metro.fare, q.Metro.fare) || !slices.Equal(p.Metro.palette, q.Metro.palette) || !slices.Equal(p.Metro.fareWide, q.Metro.fareWide) || !slices.Equal(p.Metro.dist, q.Metro.dist) ||
				!slices.Equal(p.Metro.codes, q.Metro.codes) || !slices.Equal(p.Metro.maxFrom, q.Metro.maxFrom) {
				t.Fatalf("%s: matrices differ between compiles", p.City)
			}
		}
	}
}

// TestSyntheticSeed: the generator depends on its seed only.
func TestSyntheticSeed(t *testing.T) {
	eq := func(a, b Line) bool {
		return a.Code == b.Code && slices.Equal(a.Stations, b.Stations) && slices.Equal(a.Distances, b.Distances)
	}
	c1, l1 := syntheticNetwork(330200, 7, 400)
	c2, l2 := syntheticNetwork(330200, 7, 400)
	_, l3 := syntheticNetwork(330201, 7, 400)
	if !slices.Equal(c1, c2) || !slices.EqualFunc(l1, l2, eq) {
		t.Error("same seed, different networks")
	}
	if slices.EqualFunc(l1, l3, eq) {
		t.Error("different seeds gave the same network")
	}
	// The first values of SplitMix64 seeded with 0, from the reference
	// implementation (Vigna, splitmix64.c).
	r := splitMix64{}
	for _, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f} {
		if got := r.next(); got != want {
			t.Errorf("splitmix64: %#x, want %#x", got, want)
		}
	}
}
