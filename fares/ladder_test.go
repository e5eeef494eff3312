package fares

import (
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestPublishedLadders prices distances at and around every boundary of the
// shipped ladders. The expected fares are written by hand from the
// published rules (domain notes), not computed: a boundary distance belongs
// to the lower band, one metre more to the next.
func TestPublishedLadders(t *testing.T) {
	book := mustDefault(t)
	day := transit.DayOf(2025, 3, 1)
	type at struct {
		m    int32
		want transit.Fen
	}
	tests := []struct {
		name string
		city transit.City
		at   []at
	}{
		// 2 CNY up to 4 km, +1 per 4 km to 8, per 5 km to 13, per 7 km to 20, per 9 km beyond.
		{"Ningbo", transit.Ningbo, []at{
			{0, 200}, {1, 200}, {3999, 200}, {4000, 200}, {4001, 300},
			{8000, 300}, {8001, 400}, {13000, 400}, {13001, 500},
			{20000, 500}, {20001, 600}, {29000, 600}, {29001, 700}, {38000, 700}, {38001, 800},
		}},
		// 3 up to 6 km, 4 up to 12, 5 up to 22, 6 up to 32, then +1 per 20 km.
		{"Beijing", 110100, []at{
			{0, 300}, {6000, 300}, {6001, 400}, {12000, 400}, {12001, 500},
			{22000, 500}, {22001, 600}, {32000, 600}, {32001, 700},
			{52000, 700}, {52001, 800}, {72000, 800}, {72001, 900},
		}},
		// 3 up to 6 km, then +1 per 10 km.
		{"Shanghai", 310100, []at{
			{6000, 300}, {6001, 400}, {16000, 400}, {16001, 500}, {26000, 500}, {26001, 600},
		}},
		// 2 up to 4 km, +1 per 4 km to 12, +1 per 6 km to 24, then +1 per 8 km.
		{"Guangzhou", 440100, []at{
			{4000, 200}, {4001, 300}, {8000, 300}, {8001, 400}, {12000, 400}, {12001, 500},
			{18000, 500}, {18001, 600}, {24000, 600}, {24001, 700}, {32000, 700}, {32001, 800},
		}},
		{"Hangzhou", 330100, []at{
			{4000, 200}, {4001, 300}, {12000, 400}, {12001, 500}, {24000, 600}, {24001, 700}, {40001, 900},
		}},
		// The same ladder as Guangzhou: 2 up to 4 km, +1 per 4 km to 12, +1 per 6 km
		// to 24, then +1 per 8 km (issue 17: 16,001 m is 5 CNY, not 6).
		{"Shenzhen", 440300, []at{
			{4000, 200}, {4001, 300}, {8000, 300}, {8001, 400}, {12000, 400}, {12001, 500},
			{16000, 500}, {16001, 500}, {18000, 500}, {18001, 600}, {24000, 600}, {24001, 700},
			{32000, 700}, {32001, 800},
		}},
		// The default template is Hangzhou-style.
		{"Suzhou (default)", 320500, []at{
			{4000, 200}, {4001, 300}, {12001, 500}, {24000, 600}, {24001, 700},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := book.Policy(tt.city, day)
			if p == nil || p.Metro == nil {
				t.Fatalf("no metro policy for %s", tt.city)
			}
			for _, a := range tt.at {
				if got := p.Metro.FareForDistance(a.m); got != a.want {
					t.Errorf("fare(%d m) = %d, want %d", a.m, got, a.want)
				}
			}
		})
	}
}

// TestLadderSteps covers step amounts other than 1 CNY and a ladder with no
// steps, which the published data does not exercise.
func TestLadderSteps(t *testing.T) {
	f := func(l ladder, m int32, want transit.Fen) {
		t.Helper()
		if got := l.fare(m); got != want {
			t.Errorf("fare(%d) = %d, want %d", m, got, want)
		}
	}
	flat := ladder{base: 300, baseUpTo: 1000}
	f(flat, 0, 300)
	f(flat, 1_000_000, 300)
	half := ladder{base: 200, baseUpTo: 5000, steps: []ladderStep{{add: 50, per: 2000, upTo: 9000}, {add: 200, per: 10000}}}
	f(half, 5000, 200)
	f(half, 5001, 250)
	f(half, 7000, 250)
	f(half, 7001, 300)
	f(half, 9000, 300)
	f(half, 9001, 500)
	f(half, 19000, 500)
	f(half, 19001, 700)
}

func mustDefault(t testing.TB) *Book {
	t.Helper()
	b, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
