package fares

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/tapsettle/tapsettle/transit"
)

// MaxInterStation bounds the track length between consecutive stations,
// in metres. With MaxStations it keeps every path length inside int32.
const MaxInterStation = 100_000

const unreached = math.MaxInt32

// build compiles the network into its origin-destination matrices: an
// all-pairs shortest path by Dijkstra from every station (the graph is
// sparse, about as many edges as stations, so n Dijkstra runs beat
// Floyd-Warshall's n^3), then each distance priced on the ladder once. It
// fails if the network is not connected or a fare does not fit an int32.
//
// build is deterministic: the matrices depend only on the lines and the
// ladder. It is called once per network, before the Book is published.
func (n *Network) build() error {
	nn := len(n.codes)
	n.n = nn
	n.stations = newStationTable(n.codes)

	// Adjacency in compressed sparse rows: the neighbours of u are
	// adj[start[u]:start[u+1]], at track distances w[...].
	start := make([]int32, nn+1)
	for _, l := range n.lines {
		for i := range l.Distances {
			start[l.Stations[i]+1]++
			start[l.Stations[i+1]+1]++
		}
	}
	for i := 1; i <= nn; i++ {
		start[i] += start[i-1]
	}
	adj := make([]int32, start[nn])
	w := make([]int32, start[nn])
	fill := make([]int32, nn)
	copy(fill, start[:nn])
	for _, l := range n.lines {
		for i, d := range l.Distances {
			a, b := l.Stations[i], l.Stations[i+1]
			adj[fill[a]], w[fill[a]] = b, d
			fill[a]++
			adj[fill[b]], w[fill[b]] = a, d
			fill[b]++
		}
	}

	n.dist = make([]int32, nn*nn)
	fare := make([]int32, nn*nn)
	n.maxFrom = make([]int32, nn)
	var h minHeap
	h = make(minHeap, 0, len(adj)+1)
	var maxFare int32
	for s := range nn {
		row := n.dist[s*nn : (s+1)*nn]
		for j := range row {
			row[j] = unreached
		}
		row[s] = 0
		h = h[:0]
		h.push(0, int32(s))
		for len(h) > 0 {
			d, u := h.pop()
			if d > row[u] {
				continue // a stale entry: u was reached more cheaply since
			}
			for e := start[u]; e < start[u+1]; e++ {
				v := adj[e]
				if nd := d + w[e]; nd < row[v] {
					row[v] = nd
					h.push(nd, v)
				}
			}
		}
		fares := fare[s*nn : (s+1)*nn]
		var mx int32
		for j, d := range row {
			if d == unreached {
				return &Error{File: n.file, Line: n.line, Key: n.key, Err: fmt.Errorf("%w: station %s cannot be reached from %s",
					ErrDisconnected, n.codes[j], n.codes[s])}
			}
			f := n.ladder.fare(d)
			if f > math.MaxInt32 {
				return &Error{File: n.file, Line: n.line, Key: n.key, Err: fmt.Errorf("%w: fare %d fen from %s to %s does not fit the fare matrix",
					ErrRange, f, n.codes[s], n.codes[j])}
			}
			fares[j] = int32(f)
			mx = max(mx, int32(f))
		}
		n.maxFrom[s] = mx
		maxFare = max(maxFare, mx)
	}
	n.maxFare = transit.Fen(maxFare)
	n.setFares(fare)
	return nil
}

// setFares stores the fare matrix: palette-coded, one byte per cell, when
// it has at most 256 distinct fares (see Network), as it is otherwise.
func (n *Network) setFares(fare []int32) {
	seen := make(map[int32]struct{})
	for _, f := range fare {
		if _, ok := seen[f]; !ok {
			if len(seen) == 256 {
				n.fareWide, n.fare, n.palette = fare, nil, nil
				return
			}
			seen[f] = struct{}{}
		}
	}
	values := slices.Sorted(maps.Keys(seen))
	n.palette = make([]transit.Fen, len(values))
	code := make(map[int32]uint8, len(values))
	for i, f := range values {
		n.palette[i] = transit.Fen(f)
		code[f] = uint8(i)
	}
	n.fare = make([]uint8, len(fare))
	last, lastCode := int32(-1), uint8(0)
	for i, f := range fare {
		// Neighbouring cells mostly share a fare: skip the map for them.
		if f != last {
			last, lastCode = f, code[f]
		}
		n.fare[i] = lastCode
	}
	n.fareWide = nil
}

// minHeap is a binary min-heap of (distance, station) packed into one
// uint64, distance in the high half, so that comparing entries is one
// integer comparison and ties break by station index (deterministically).
type minHeap []uint64

func (h *minHeap) push(d, v int32) {
	x := uint64(uint32(d))<<32 | uint64(uint32(v))
	s := append(*h, x)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p] <= x {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = x
	*h = s
}

func (h *minHeap) pop() (int32, int32) {
	s := *h
	top := s[0]
	last := s[len(s)-1]
	s = s[:len(s)-1]
	if len(s) > 0 {
		i := 0
		for {
			c := 2*i + 1
			if c >= len(s) {
				break
			}
			if c+1 < len(s) && s[c+1] < s[c] {
				c++
			}
			if last <= s[c] {
				break
			}
			s[i] = s[c]
			i = c
		}
		s[i] = last
	}
	*h = s
	return int32(top >> 32), int32(uint32(top))
}
