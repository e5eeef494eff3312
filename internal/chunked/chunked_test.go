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

// TestTruncate: truncating keeps the first elements and their pointers,
// and later pushes reuse the room without moving them.
func TestTruncate(t *testing.T) {
	var v Vec[int]
	for i := range 3 << Shift {
		v.Push(&i)
	}
	p := v.At(5)
	v.Truncate(1<<Shift + 7)
	if v.Len() != 1<<Shift+7 || *v.At(1<<Shift + 6) != 1<<Shift+6 {
		t.Fatalf("after Truncate: len %d, last %d", v.Len(), *v.At(v.Len() - 1))
	}
	x := -1
	if i := v.Push(&x); i != 1<<Shift+7 || *v.At(i) != -1 || v.At(5) != p || v.Cap() != 3<<Shift {
		t.Fatalf("push after Truncate: index %d, cap %d, pointer moved %v", i, v.Cap(), v.At(5) != p)
	}
	defer func() {
		if recover() == nil {
			t.Error("Truncate beyond the length did not panic")
		}
	}()
	v.Truncate(v.Len() + 1)
}
