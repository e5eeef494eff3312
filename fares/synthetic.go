package fares

import (
	"fmt"
	"slices"

	"github.com/tapsettle/tapsettle/transit"
)

// Bounds of generated networks (ours). We hold no station data for most
// cities, so each metro city gets a synthetic network sized by its number
// of lines: realistic enough that fares span the ladder, small enough that
// the OD matrices of ~45 cities compile in milliseconds.
const (
	// MinSyntheticLines and MaxSyntheticLines clamp a city's line count.
	MinSyntheticLines = 2
	MaxSyntheticLines = 20
	// DefaultSyntheticStations caps a synthetic network's stations, so its
	// matrices stay under 1.3 MB.
	DefaultSyntheticStations = 400
	// maxLineStations: real lines have about 15-35 stations; with the
	// 800-3000 m gaps below a 26-station line is about 50 km long.
	maxLineStations = 26
	minLineStations = 4
	minGapM         = 800
	maxGapM         = 3000
	// maxInterchanges is how many stations a new line shares, at most,
	// with the lines before it.
	maxInterchanges = 3
)

// splitMix64 is the SplitMix64 generator (Steele, Lea, Flood 2014). It is
// written out here, rather than taken from math/rand, so that a network
// generated from a seed is the same with every Go release: the network
// decides fares, and fares must be reproducible.
type splitMix64 struct{ s uint64 }

func (r *splitMix64) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a value in [0, n). The modulo bias (below 2^-50 for our n)
// is irrelevant to network shapes.
func (r *splitMix64) intn(n int) int { return int(r.next() % uint64(n)) }

// syntheticNetwork generates a network of the given number of lines and at
// most maxStations stations, deterministically from seed. Line k (k > 0)
// shares one to three stations with lines before it, so the network is
// connected and has interchanges; the other stations are new. Stations are
// coded "S001", lines "M1".
func syntheticNetwork(seed uint64, lines, maxStations int) (codes []transit.Code, out []Line) {
	rng := splitMix64{s: seed}
	perLine := min(maxLineStations, maxStations/lines)
	minLine := max(minLineStations, perLine*2/3)
	width := 3
	if maxStations > 999 {
		width = 4
	}
	var next int32
	out = make([]Line, 0, lines)
	for k := range lines {
		n := minLine + rng.intn(perLine-minLine+1)
		seq := make([]int32, n)
		for i := range seq {
			seq[i] = -1
		}
		if k > 0 {
			m := 1 + rng.intn(min(k, maxInterchanges))
			for range m {
				pos := rng.intn(n)
				if seq[pos] >= 0 {
					continue
				}
				for range 8 { // a few tries to find a station not on this line yet
					prev := out[rng.intn(k)].Stations
					if st := prev[rng.intn(len(prev))]; !slices.Contains(seq, st) {
						seq[pos] = st
						break
					}
				}
			}
			if !slices.ContainsFunc(seq, func(s int32) bool { return s >= 0 }) {
				prev := out[k-1].Stations
				seq[rng.intn(n)] = prev[rng.intn(len(prev))]
			}
		}
		for i := range seq {
			if seq[i] < 0 {
				seq[i] = next
				next++
			}
		}
		dists := make([]int32, n-1)
		for i := range dists {
			dists[i] = int32(minGapM + rng.intn(maxGapM-minGapM+1))
		}
		out = append(out, Line{Code: transit.MustCode(fmt.Sprintf("M%d", k+1)), Stations: seq, Distances: dists})
	}
	codes = make([]transit.Code, next)
	for i := range codes {
		codes[i] = transit.MustCode(fmt.Sprintf("S%0*d", width, i+1))
	}
	return codes, out
}

// newSyntheticNetwork returns an unbuilt synthetic network.
func newSyntheticNetwork(seed uint64, lines, maxStations int, l ladder, source string) *Network {
	codes, ls := syntheticNetwork(seed, lines, maxStations)
	return &Network{Synthetic: true, seed: seed, source: source, ladder: l, lines: ls, codes: codes}
}
