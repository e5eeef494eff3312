package fares

import (
	"slices"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

func TestCities(t *testing.T) {
	b := mustDefault(t)
	cities := b.Cities()
	if len(cities) != 336 {
		t.Fatalf("%d cities, want the 336 participants", len(cities))
	}
	if !slices.IsSortedFunc(cities, func(a, b City) int { return int(a.Code) - int(b.Code) }) {
		t.Error("cities not sorted by code")
	}
	nb, ok := b.City(transit.Ningbo)
	want := City{Code: 330200, NameZH: "宁波市", NameEN: "Ningbo", Province: 330000, ProvinceZH: "浙江省", HasMetro: true}
	if !ok || nb != want {
		t.Errorf("City(Ningbo) = %+v, %v; want %+v", nb, ok, want)
	}
	if c, ok := b.City(130200); !ok || c.HasMetro || c.NameEN != "Tangshan" {
		t.Errorf("City(Tangshan) = %+v, %v; want no metro", c, ok)
	}
	for _, bad := range []transit.City{0, 330201, 460300 /* Sansha: not a participant */, 710100, 999999, 4294967295} {
		if _, ok := b.City(bad); ok {
			t.Errorf("City(%d) found", bad)
		}
		if p := b.Policy(bad, march1); p != nil {
			t.Errorf("Policy(%d) = %v", bad, p)
		}
		if v := b.Versions(bad); v != nil {
			t.Errorf("Versions(%d) = %v", bad, v)
		}
	}
	cities[0].NameEN = "changed"
	if c, _ := b.City(cities[0].Code); c.NameEN == "changed" {
		t.Error("Cities() returned the book's own slice")
	}
}

// TestParticipants: one clearing member per city, in the cities' order,
// named in English.
func TestParticipants(t *testing.T) {
	b := mustDefault(t)
	cities, parts := b.Cities(), b.Participants()
	if len(parts) != len(cities) {
		t.Fatalf("%d participants for %d cities", len(parts), len(cities))
	}
	for i, c := range cities {
		if want := (transit.Participant{Code: c.Code, Name: c.NameEN}); parts[i] != want {
			t.Fatalf("Participants()[%d] = %+v, want %+v", i, parts[i], want)
		}
	}
}

// TestMetroCities: the cities of data/metro_cities.csv, and only they, run
// a metro, and every shipped policy file with a metro names a city listed
// there.
func TestMetroCities(t *testing.T) {
	b := mustDefault(t)
	n := 0
	for _, c := range b.Cities() {
		_, listed := b.metro[c.Code]
		if c.HasMetro != listed {
			t.Errorf("%s %s: HasMetro %v, listed in metro_cities.csv %v", c.Code, c.NameEN, c.HasMetro, listed)
		}
		if c.HasMetro {
			n++
		}
	}
	if n < 40 || n > 60 {
		t.Errorf("%d metro cities; the 2025 count is about 45-50", n)
	}
}

func TestPolicyLookup(t *testing.T) {
	b := mustDefault(t)
	if p := b.Policy(transit.Ningbo, transit.DayOf(2019, 12, 31)); p != nil {
		t.Errorf("a policy effective before 2020-01-01: %v", p.Version)
	}
	p := b.Policy(transit.Ningbo, transit.DayOf(2020, 1, 1))
	if p == nil || p.Version != "ningbo-2020-r2" || p.Default || p.City != transit.Ningbo || p.MaxInSystem != 120*60e9 {
		t.Fatalf("Policy(Ningbo, 2020-01-01) = %+v", p)
	}
	if p.File != "embedded:policies/330200_ningbo.yaml" {
		t.Errorf("File = %q", p.File)
	}
	tangshan := b.Policy(130200, march1)
	if tangshan == nil || !tangshan.Default || tangshan.Metro != nil || tangshan.City != 130200 {
		t.Errorf("Tangshan: %+v, want the default without a metro", tangshan)
	}
	if f, r := tangshan.BusFare(transit.MustCode("1")); f != 200 || r != transit.RuleBusFlat {
		t.Errorf("default bus fare %d %s", f, r)
	}
	suzhou := b.Policy(320500, march1)
	if suzhou.Metro == nil || !suzhou.Metro.Synthetic || suzhou.MaxInSystem != 240*60e9 {
		t.Errorf("Suzhou: want the default metro on a synthetic network, 240 min")
	}
	if allocs := testing.AllocsPerRun(100, func() { b.Policy(transit.Ningbo, march1) }); allocs != 0 {
		t.Errorf("Policy allocates %v", allocs)
	}
}

// TestLoad lays testdata/override over the defaults: Suzhou's default
// version is replaced (same effective_from) and a 2026 version added.
func TestLoad(t *testing.T) {
	def := mustDefault(t)
	b := mustLoad(t, "testdata/override")
	vs := b.Versions(320500)
	if len(vs) != 2 || vs[0].Version != "suzhou-test" || vs[1].Version != "suzhou-2026" {
		t.Fatalf("Suzhou versions %v", versionNames(vs))
	}
	if vs[0].Default || vs[0].Metro.Synthetic {
		t.Error("the override should replace the default version")
	}
	if got := b.Policy(320500, transit.DayOf(2025, 12, 31)); got != vs[0] {
		t.Errorf("2025-12-31 -> %s", got.Version)
	}
	if got := b.Policy(320500, transit.DayOf(2026, 1, 1)); got != vs[1] || got.Metro != nil {
		t.Errorf("2026-01-01 -> %s", got.Version)
	}
	if c, _ := b.City(320500); !c.HasMetro {
		t.Error("Suzhou lost its metro")
	}
	// The default book is untouched, and unchanged cities are shared.
	if dv := def.Versions(320500); len(dv) != 1 || !dv[0].Default {
		t.Errorf("Load changed the default book: %v", versionNames(dv))
	}
	if b.Policy(transit.Ningbo, march1) != def.Policy(transit.Ningbo, march1) {
		t.Error("Ningbo should be shared with the default book")
	}
	if b.Fingerprint() == def.Fingerprint() {
		t.Error("an override must change the fingerprint")
	}
	if again := mustLoad(t, "testdata/override"); again.Fingerprint() != b.Fingerprint() {
		t.Error("loading the same directory twice gave different fingerprints")
	}
	if same, err := Load(""); err != nil || same != def {
		t.Errorf(`Load("") = %v, %v; want Default()`, same, err)
	}
	if _, err := Load("testdata/no-such-dir"); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}

// TestLoadTemplate overrides the default template: every city without a
// file of its own follows it; cities with files do not.
func TestLoadTemplate(t *testing.T) {
	b := mustLoad(t, "testdata/template")
	tangshan := b.Policy(130200, march1)
	if f, _ := tangshan.BusFare(transit.Code{}); f != 300 || tangshan.Version != "default-test" {
		t.Errorf("Tangshan bus %d (%s), want 300 from the new template", f, tangshan.Version)
	}
	suzhou := b.Policy(320500, march1)
	if suzhou.Metro == nil || suzhou.Metro.FareForDistance(5000) != 300 || suzhou.Metro.FareForDistance(5001) != 400 {
		t.Error("Suzhou's synthetic network should be priced on the new template's ladder")
	}
	if f, _ := b.Policy(transit.Ningbo, march1).BusFare(transit.Code{}); f != 200 {
		t.Errorf("Ningbo bus %d, want its own 200", f)
	}
}

func TestFingerprint(t *testing.T) {
	fp := mustDefault(t).Fingerprint()
	if len(fp) != len("sha256:")+64 || fp[:7] != "sha256:" {
		t.Errorf("fingerprint %q", fp)
	}
	if s := mustDefault(t).String(); s == "" {
		t.Error("empty String()")
	}
}

func versionNames(vs []*Policy) []string {
	var out []string
	for _, p := range vs {
		out = append(out, p.Version)
	}
	return out
}
