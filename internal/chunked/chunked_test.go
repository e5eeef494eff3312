package chunked

import (
	"testing"
	"unsafe"

	"github.com/tapsettle/tapsettle/internal/pages"
)

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

// TestUseBlocks: a vector on blocks holds a power of two of elements per
// chunk, as many as a block takes; Release gives its chunks back, and a
// second vector of the same blocks fills them without cutting new ones;
// pointers from At stay valid until Release.
func TestUseBlocks(t *testing.T) {
	type elem struct{ a, b, c int64 } // 24 bytes: 3072 fit a 72 KiB block, 2048 a chunk
	var blocks pages.Blocks
	var a, b Vec[elem]
	a.UseBlocks(&blocks)
	b.UseBlocks(&blocks)
	per := 1
	for per*2*int(unsafe.Sizeof(elem{})) <= pages.BlockSize {
		per *= 2
	}
	const n = 10_000
	a.Push(&elem{})
	p0 := a.At(0) // taken before the vector grows
	for i := 1; i < n; i++ {
		a.Push(&elem{a: int64(i), c: -int64(i)})
	}
	if want := (n + per - 1) / per; a.Cap() != want*per || blocks.Made() != want {
		t.Fatalf("%d elements: Cap %d, %d blocks, want %d chunks of %d", n, a.Cap(), blocks.Made(), want, per)
	}
	for i := range n {
		if e := a.At(i); e.a != int64(i) || e.c != -int64(i) {
			t.Fatalf("At(%d) = %+v", i, *e)
		}
	}
	if p0 != a.At(0) || p0.a != 0 {
		t.Error("a pointer from At moved")
	}
	made := blocks.Made()
	a.Release()
	if a.Len() != 0 || a.Cap() != 0 {
		t.Errorf("after Release: Len %d Cap %d", a.Len(), a.Cap())
	}
	for i := range n {
		b.Push(&elem{b: int64(i)})
	}
	if blocks.Made() != made {
		t.Errorf("a second vector cut %d new blocks where the first gave back %d", blocks.Made()-made, made)
	}
	for i := range n {
		if e := b.At(i); e.b != int64(i) {
			t.Fatalf("second vector At(%d) = %+v", i, *e)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("UseBlocks on a vector with chunks did not panic")
		}
	}()
	b.UseBlocks(&blocks)
}

// TestUseBlocksRefusesLargeElements: a vector whose elements a block
// holds fewer than two of cannot use blocks.
func TestUseBlocksRefusesLargeElements(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("UseBlocks of elements larger than half a block did not panic")
		}
	}()
	var blocks pages.Blocks
	var v Vec[[pages.BlockSize/2 + 1]byte]
	v.UseBlocks(&blocks)
}
