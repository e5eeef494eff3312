package chunked

import "testing"

func TestChunked(t *testing.T) {
	var c Vec[int]
	for round := range 3 {
		for i := range 3000 {
			v := i * (round + 1)
			if got := c.Push(&v); got != i {
				t.Fatalf("Push returned %d, want %d", got, i)
			}
		}
		if c.Len() != 3000 {
			t.Fatalf("Len = %d", c.Len())
		}
		for i := range 3000 {
			if *c.At(i) != i*(round+1) {
				t.Fatalf("round %d: At(%d) = %d", round, i, *c.At(i))
			}
		}
		c.Reset()
	}
	if len(c.chunks) != 3 {
		t.Fatalf("Reset should keep the 3 chunks for reuse, have %d", len(c.chunks))
	}
}
