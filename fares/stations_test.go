package fares

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestStationTable finds every station of every embedded network at its
// index, and none of a set of codes the networks do not have.
func TestStationTable(t *testing.T) {
	b, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	nets := 0
	for _, vs := range b.versions {
		for _, p := range vs {
			n := p.Metro
			if n == nil {
				continue
			}
			nets++
			for i, c := range n.codes {
				if got, ok := n.Station(c); !ok || got != int32(i) {
					t.Fatalf("%s: Station(%s) = %d, %v; want %d", p.City, c, got, ok, i)
				}
			}
			for _, s := range []string{"S0", "S99999", "s1", "X", "S1-", "0123456789abcdef"} {
				c := transit.MustCode(s)
				if i, ok := n.Station(c); ok && n.codes[i] != c {
					t.Fatalf("%s: Station(%s) found %s", p.City, c, n.codes[i])
				}
			}
		}
	}
	if nets == 0 {
		t.Fatal("no metro network in the default book")
	}
}

// TestStationTableRandom indexes random codes, many alike (a shared
// 8-byte prefix, so only the second half tells them apart), and checks
// every lookup against a map.
func TestStationTableRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 7, 8, 9, 300, MaxStations} {
		want := map[transit.Code]int32{}
		var codes []transit.Code
		for len(codes) < size {
			c := transit.MustCode(fmt.Sprintf("LINE-01-%d", r.IntN(1_000_000)))
			if _, dup := want[c]; !dup {
				want[c] = int32(len(codes))
				codes = append(codes, c)
			}
		}
		st := newStationTable(codes)
		for c, i := range want {
			if got, ok := st.find(codes, &c); !ok || got != i {
				t.Fatalf("size %d: find(%s) = %d, %v; want %d", size, c, got, ok, i)
			}
		}
		for range 1000 {
			c := transit.MustCode(fmt.Sprintf("LINE-01-%d", 1_000_000+r.IntN(1_000_000)))
			if i, ok := st.find(codes, &c); ok {
				t.Fatalf("size %d: find(%s) = %d for a code not indexed", size, c, i)
			}
		}
	}
}
