package stream

import (
	"bytes"
	"testing"
)

// TestArena: kept copies stay intact however much is kept after them
// (records larger than a chunk included), and a reset arena refills
// into the chunks it has.
func TestArena(t *testing.T) {
	var a arena
	fill := func() [][]byte {
		var kept [][]byte
		for i := range 3000 {
			b := bytes.Repeat([]byte{byte(i)}, 1+i%700)
			if i == 1500 {
				b = bytes.Repeat([]byte{7}, 3<<20) // bigger than a chunk
			}
			kept = append(kept, a.keep(b))
		}
		return kept
	}
	check := func(kept [][]byte) {
		for i, k := range kept {
			want := bytes.Repeat([]byte{byte(i)}, 1+i%700)
			if i == 1500 {
				want = bytes.Repeat([]byte{7}, 3<<20)
			}
			if !bytes.Equal(k, want) {
				t.Fatalf("record %d changed after later keeps", i)
			}
			if cap(k) != len(k) {
				t.Fatalf("record %d has spare capacity: an append to it would overwrite the next", i)
			}
		}
	}
	check(fill())
	chunks := len(a.chunks)
	for range 3 {
		a.reset()
		check(fill())
	}
	if len(a.chunks) != chunks {
		t.Errorf("%d chunks after refills, %d after the first fill: reset does not reuse them", len(a.chunks), chunks)
	}
}
