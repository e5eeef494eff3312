package fares

import (
	"slices"
	"unsafe"

	"github.com/tapsettle/tapsettle/internal/prefetch"
	"github.com/tapsettle/tapsettle/transit"
)

// MaxStations bounds the stations of one network. The distance matrix holds
// n*n int32 and the fare matrix n*n bytes (see Network), so 2048 stations
// cost 20 MiB; the largest real networks (Beijing, Shanghai) have about
// 500.
const MaxStations = 2048

// Network is a compiled metro network: its stations and lines, its fare
// ladder and the origin-destination matrices of shortest-path distance and
// fare. The hot path (Station, Fare, MaxFareFrom) is a map lookup and
// slice indexing, and never allocates. A Network is immutable and safe for
// concurrent use.
type Network struct {
	// Synthetic is true when the network was generated (deterministically,
	// from a seed) because the real one is not sourced; fares on it are
	// labelled transit.RuleSynthetic.
	Synthetic bool

	seed   uint64 // synthetic networks only
	source string
	ladder ladder

	lines    []Line
	codes    []transit.Code // station index -> code
	stations stationTable   // code -> station index
	n        int
	// dist is the n*n row-major matrix of shortest paths: dist[i*n+j] is
	// the length in metres of the shortest path from station i to j.
	dist []int32
	// The fare matrix, the same shape, is what a metro exit reads, at a
	// random cell: a cache miss that was a sixth of the engine's time per
	// tap. A ladder gives a network few distinct fares, so the matrix
	// holds one byte per cell, an index into palette (the distinct fares,
	// ascending): a quarter of the memory of int32 fares, and four times
	// as many cells per cache line. A network of more than 256 distinct
	// fares (possible only with very fine ladders) keeps them in fareWide.
	fare     []uint8
	palette  []transit.Fen
	fareWide []int32
	maxFrom  []int32 // highest fare from each station
	maxFare  transit.Fen

	// Where the network was defined, for errors found while compiling it.
	file string
	line int
	key  string
}

// Line is one metro line: its code and its stations (indexes into the
// network, as returned by Station) in order along the line. Distances[i]
// is the track length in metres between Stations[i] and Stations[i+1].
type Line struct {
	Code      transit.Code
	Stations  []int32
	Distances []int32
}

// Station returns the index of the station with code stop.
func (n *Network) Station(stop transit.Code) (int32, bool) {
	return n.stations.find(n.codes, &stop)
}

// StationHint is Station for a stop whose index is probably hint (the
// index it had when looked up before, perhaps in an earlier version of the
// network): it checks the hint's code and looks stop up only if the hint
// is wrong. A metro exit finds its entry's station so without hashing.
func (n *Network) StationHint(stop transit.Code, hint int32) (int32, bool) {
	if uint32(hint) < uint32(len(n.codes)) && n.codes[hint] == stop {
		return hint, true
	}
	return n.Station(stop)
}

// Fare returns the fare of a journey between stations from and to (indexes
// from Station), priced on the shortest path. An entry and exit at the
// same station pays the ladder's base fare. Out-of-range indexes panic, as
// a slice index would.
func (n *Network) Fare(from, to int32) transit.Fen {
	i := int(from)*n.n + int(to)
	if n.fareWide != nil {
		return transit.Fen(n.fareWide[i])
	}
	return n.palette[n.fare[i]]
}

// PrefetchFare asks the CPU for the matrix cell Fare(from, to) reads,
// without waiting for it (see package prefetch): a caller that knows both
// stations some work before it needs the fare hides the cell's likely
// cache miss behind that work. Any from and to are safe; out of range,
// the hint is merely useless.
func (n *Network) PrefetchFare(from, to int32) {
	i := uintptr(int(from)*n.n + int(to))
	if n.fareWide != nil {
		prefetch.Line(uintptr(unsafe.Pointer(unsafe.SliceData(n.fareWide))) + 4*i)
		return
	}
	prefetch.Line(uintptr(unsafe.Pointer(unsafe.SliceData(n.fare))) + i)
}

// Distance returns the length in metres of the shortest path between
// stations from and to.
func (n *Network) Distance(from, to int32) int32 {
	return n.dist[int(from)*n.n+int(to)]
}

// MaxFare returns the highest fare between any two stations of the
// network: what an incomplete journey pays by default.
func (n *Network) MaxFare() transit.Fen { return n.maxFare }

// MaxFareFrom returns the highest single fare from station, which a
// journey over the time-in-system limit pays (Ningbo's rule).
func (n *Network) MaxFareFrom(station int32) transit.Fen {
	return transit.Fen(n.maxFrom[station])
}

// NumStations returns the number of stations.
func (n *Network) NumStations() int { return n.n }

// StationCode returns the code of station i.
func (n *Network) StationCode(i int32) transit.Code { return n.codes[i] }

// NumLines returns the number of lines.
func (n *Network) NumLines() int { return len(n.lines) }

// LineCode returns the code of line i, in the order the lines were
// defined, without the copy Lines makes.
func (n *Network) LineCode(i int) transit.Code { return n.lines[i].Code }

// Lines returns the network's lines, in the order they were defined. The
// result is a copy the caller may keep.
func (n *Network) Lines() []Line {
	out := make([]Line, len(n.lines))
	for i, l := range n.lines {
		out[i] = Line{Code: l.Code, Stations: slices.Clone(l.Stations), Distances: slices.Clone(l.Distances)}
	}
	return out
}

// FareForDistance returns the ladder fare of a trip of m metres. The
// matrices are built from it; it is exported for tools that price
// distances directly (and for tests of the published ladders).
func (n *Network) FareForDistance(m int32) transit.Fen { return n.ladder.fare(m) }
