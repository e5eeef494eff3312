package fares

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

func mustLoad(t testing.TB, dir string) *Book {
	t.Helper()
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestShortestPath prices the explicit network of
// testdata/override/320500_suzhou.yaml, where line L1 runs A-B-C directly
// (10 km) but the route through the interchange D is shorter (5 km). The
// expected distances are summed by hand from the diagram in that file.
func TestShortestPath(t *testing.T) {
	b := mustLoad(t, "testdata/override")
	p := b.Policy(320500, transit.DayOf(2025, 1, 1))
	if p == nil || p.Metro == nil || p.Metro.Synthetic {
		t.Fatalf("want the explicit test network, got %+v", p)
	}
	n := p.Metro
	st := func(code string) int32 {
		t.Helper()
		i, ok := n.Station(transit.MustCode(code))
		if !ok {
			t.Fatalf("station %s missing", code)
		}
		if got := n.StationCode(i).String(); got != code {
			t.Fatalf("StationCode(Station(%s)) = %s", code, got)
		}
		return i
	}
	tests := []struct {
		from, to string
		dist     int32
		fare     transit.Fen
	}{
		{"A", "C", 5000, 300}, // via D, not the 10 km along L1
		{"A", "B", 5000, 300},
		{"B", "D", 7000, 300}, // B-A-D (7 km), not B-C-D (8 km)
		{"A", "E", 3000, 200},
		{"E", "F", 1000, 200}, // directly along the loop
		{"F", "D", 1000, 200}, // the loop's closing segment
		{"B", "F", 8000, 300},
		{"G", "E", 9000, 400}, // G-B-A-D-E, the longest trip
		{"G", "C", 6000, 300},
		{"C", "C", 0, 200}, // same station: the base fare
	}
	for _, tt := range tests {
		a, z := st(tt.from), st(tt.to)
		if got := n.Distance(a, z); got != tt.dist {
			t.Errorf("Distance(%s, %s) = %d, want %d", tt.from, tt.to, got, tt.dist)
		}
		if got := n.Fare(a, z); got != tt.fare {
			t.Errorf("Fare(%s, %s) = %d, want %d", tt.from, tt.to, got, tt.fare)
		}
		if n.Fare(z, a) != n.Fare(a, z) || n.Distance(z, a) != n.Distance(a, z) {
			t.Errorf("%s-%s is not symmetric", tt.from, tt.to)
		}
	}
	if got := n.MaxFare(); got != 400 {
		t.Errorf("MaxFare = %d, want 400", got)
	}
	for code, want := range map[string]transit.Fen{"G": 400, "E": 400, "F": 400, "A": 300, "D": 300} {
		if got := n.MaxFareFrom(st(code)); got != want {
			t.Errorf("MaxFareFrom(%s) = %d, want %d", code, got, want)
		}
	}
	if n.NumStations() != 7 {
		t.Errorf("NumStations = %d, want 7", n.NumStations())
	}
	if _, ok := n.Station(transit.MustCode("Z")); ok {
		t.Error("unknown station found")
	}
	lines := n.Lines()
	if len(lines) != 5 || lines[3].Code.String() != "L4" || len(lines[3].Stations) != 4 || lines[3].Stations[0] != lines[3].Stations[3] {
		t.Errorf("Lines() = %+v, want L4 as a loop of 4 entries", lines)
	}
	if n.NumLines() != len(lines) {
		t.Errorf("NumLines = %d, want %d", n.NumLines(), len(lines))
	}
	for i := range lines {
		if n.LineCode(i) != lines[i].Code {
			t.Errorf("LineCode(%d) = %s, want %s", i, n.LineCode(i), lines[i].Code)
		}
	}
	lines[0].Stations[0] = 99 // a copy: the network must not change
	if n.Lines()[0].Stations[0] == 99 {
		t.Error("Lines() returned the network's own slices")
	}
}

// TestDisconnected: a network with two islands has no fare between them
// and must not compile.
func TestDisconnected(t *testing.T) {
	err := Check("testdata/broken")
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Check = %v, want ErrDisconnected among the problems", err)
	}
}

func TestMinHeap(t *testing.T) {
	var h minHeap
	in := []int32{5, 3, 9, 1, 7, 3, 0, 8}
	for i, d := range in {
		h.push(d, int32(i))
	}
	prev := int32(-1)
	for range in {
		d, _ := h.pop()
		if d < prev {
			t.Fatalf("popped %d after %d", d, prev)
		}
		prev = d
	}
	if len(h) != 0 {
		t.Fatalf("heap not empty: %v", h)
	}
}

// TestFareMatrixCoding builds a line of stations 1 km apart priced on
// ladders of few and of many distinct fares: the matrix is palette-coded
// (one byte per cell) up to 256 distinct fares and kept as int32 beyond,
// and in both cases every cell is the ladder's fare of the distance.
func TestFareMatrixCoding(t *testing.T) {
	tests := []struct {
		name     string
		perM     int32 // the ladder adds 1 fen per started perM metres
		stations int
		wide     bool
	}{
		{"few fares", 2000, 300, false},     // 150 distinct fares
		{"256 fares", 1000, 256, false},     // exactly 256: 0..255 km
		{"257 fares", 1000, 257, true},      // one more does not fit a byte
		{"many fares", 1000, 400, true},     // 400 distinct fares
		{"one station", 1000, 1, false},     // the base fare only
		{"two stations", 500_000, 2, false}, // one band
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &Network{ladder: ladder{base: 100, steps: []ladderStep{{add: 1, per: tt.perM}}}}
			l := Line{Code: transit.MustCode("L")}
			for i := range tt.stations {
				n.codes = append(n.codes, transit.MustCode(fmt.Sprintf("S%d", i)))
				l.Stations = append(l.Stations, int32(i))
				if i > 0 {
					l.Distances = append(l.Distances, 1000)
				}
			}
			n.lines = []Line{l}
			if err := n.build(); err != nil {
				t.Fatal(err)
			}
			if got := n.fareWide != nil; got != tt.wide {
				t.Fatalf("wide matrix = %v, want %v (palette of %d)", got, tt.wide, len(n.palette))
			}
			var highest transit.Fen
			for i := range int32(tt.stations) {
				for j := range int32(tt.stations) {
					want := n.ladder.fare(n.Distance(i, j))
					if got := n.Fare(i, j); got != want {
						t.Fatalf("Fare(%d, %d) = %d, want %d", i, j, got, want)
					}
					highest = max(highest, want)
				}
			}
			if n.MaxFare() != highest {
				t.Errorf("MaxFare = %d, want %d", n.MaxFare(), highest)
			}
		})
	}
}

// TestStationHint checks that a hint is taken only when it names the stop,
// and that any other hint (wrong, out of range, negative) falls back to
// the lookup by code.
func TestStationHint(t *testing.T) {
	n := mustLoad(t, "testdata/override").Policy(320500, transit.DayOf(2025, 1, 1)).Metro
	c, _ := n.Station(transit.MustCode("C"))
	for _, hint := range []int32{c, (c + 1) % int32(n.NumStations()), int32(n.NumStations()), -1, 1 << 30} {
		if got, ok := n.StationHint(transit.MustCode("C"), hint); !ok || got != c {
			t.Errorf("StationHint(C, %d) = %d, %v; want %d", hint, got, ok, c)
		}
		if got, ok := n.StationHint(transit.MustCode("Z"), hint); ok {
			t.Errorf("StationHint(Z, %d) = %d: an unknown stop was found", hint, got)
		}
	}
}
