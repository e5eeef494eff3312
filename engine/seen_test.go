package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestLanes holds the SWAR lane comparisons to their scalar definitions,
// at the edges of the 16-bit range (where a borrow or a carry would cross
// into the next lane) and at random.
func TestLanes(t *testing.T) {
	edges := []uint16{0, 1, 2, 0x7FFE, 0x7FFF, 0x8000, 0x8001, 0xFFFE, 0xFFFF, 20089, 20090}
	r := rand.New(rand.NewPCG(3, 4))
	value := func() uint16 {
		if r.IntN(2) == 0 {
			return edges[r.IntN(len(edges))]
		}
		return uint16(r.Uint32())
	}
	for range 200_000 {
		var lanes [4]uint16
		var x uint64
		for i := range lanes {
			lanes[i] = value()
			x |= uint64(lanes[i]) << (16 * i)
		}
		v := value()
		below, equal := lanesBelow(x, uint64(v)*laneOnes), lanesEqual(x, uint64(v)*laneOnes)
		for i, l := range lanes {
			bit := uint64(1) << (16*i + 15)
			if got := below&bit != 0; got != (l < v) {
				t.Fatalf("lanesBelow(%04x, %04x) lane %d = %v, want %v", lanes, v, i, got, l < v)
			}
			if got := equal&bit != 0; got != (l == v) {
				t.Fatalf("lanesEqual(%04x, %04x) lane %d = %v, want %v", lanes, v, i, got, l == v)
			}
		}
		if rest := (below | equal) &^ laneHigh; rest != 0 {
			t.Fatalf("lane masks with bits other than the lanes' top: %x", rest)
		}
	}
}

// TestSeenSetEntries checks that entries set in a seenSet read back, each
// lane apart from its neighbours.
func TestSeenSetEntries(t *testing.T) {
	var s seenSet
	want := make([]seenEntry, seenInline)
	r := rand.New(rand.NewPCG(5, 6))
	for range 10_000 {
		i := r.IntN(seenInline)
		want[i] = seenEntry{day: uint16(r.Uint32()), tag: uint16(r.Uint32())}
		s.set(i, want[i])
		for j, w := range want {
			if got := s.at(j); got != w {
				t.Fatalf("entry %d = %+v, want %+v", j, got, w)
			}
			if s.inUse(j) != (w.day != 0) {
				t.Fatalf("entry %d in use = %v, its day %d", j, s.inUse(j), w.day)
			}
		}
	}
}

// TestLiveFrom checks the window bound against the entry-by-entry rule it
// replaced: an entry is dead when its day is before the oldest retained
// day or not within the window of the tap's day; an empty one is free.
func TestLiveFrom(t *testing.T) {
	for _, c := range []struct {
		oldest, d transit.Day
		days      int
	}{
		{0, 20000, 7}, {19990, 20000, 7}, {19995, 20000, 7}, {0, 3, 7}, {0, 20000, 1},
		{0, 20000, 400}, {0, math.MaxUint16, 7}, {0, math.MaxUint16 + 10, 7},
	} {
		// The answer is cached by day and oldest day: ask first with
		// another oldest day and another day, as a pricer does across a
		// close, so that a stale answer would show.
		pr := &pricer{oldest: c.oldest / 2, dedupDays: c.days}
		pr.liveFrom(c.d - 1)
		pr.liveFrom(c.d)
		pr.oldest = c.oldest
		live := pr.liveFrom(c.d)
		for ed := transit.Day(0); ed <= math.MaxUint16; ed++ {
			old := ed == 0 || ed < pr.oldest || int64(ed)+int64(pr.dedupDays) <= int64(c.d)
			got := lanesBelow(uint64(ed), live)&0x8000 != 0
			if got != old && !(ed == math.MaxUint16 && c.d > math.MaxUint16) {
				t.Fatalf("oldest %d, day %d, window %d: entry of day %d dead = %v, want %v", c.oldest, c.d, c.days, ed, got, old)
			}
		}
	}
}
