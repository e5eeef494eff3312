package pages

import (
	"testing"
	"unsafe"
)

// TestBlocksGetPut: blocks are whole, never overlap while held, come
// from slabs that double from firstBlocks up to slabMax, and a block given
// back is the next one handed out, without a new cut.
func TestBlocksGetPut(t *testing.T) {
	var p Blocks
	seen := map[uintptr]bool{}
	var held [][]byte
	for i := range 3 * slabMax / BlockSize {
		b := p.Get()
		if len(b) != BlockSize || cap(b) != BlockSize {
			t.Fatalf("block %d: len %d cap %d, want %d", i, len(b), cap(b), BlockSize)
		}
		a := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		for _, h := range held {
			if h0 := uintptr(unsafe.Pointer(unsafe.SliceData(h))); a < h0+BlockSize && h0 < a+BlockSize {
				t.Fatalf("block %d overlaps one held", i)
			}
		}
		seen[a] = true
		held = append(held, b)
	}
	if p.Made() != len(held) {
		t.Errorf("Made = %d after %d blocks cut", p.Made(), len(held))
	}
	// Slabs double from firstBlocks up to slabMax's worth.
	if p.slab.last/BlockSize != slabMax/BlockSize {
		t.Errorf("after %d blocks the latest slab holds %d, want %d (slabMax)", len(held), p.slab.last/BlockSize, slabMax/BlockSize)
	}
	back := held[5]
	back[0], back[BlockSize-1] = 7, 9
	p.Put(back)
	again := p.Get()
	if unsafe.SliceData(again) != unsafe.SliceData(back) || p.Made() != len(held) {
		t.Errorf("Get after Put did not hand out the block given back (made %d)", p.Made())
	}
	// A block given back keeps what its last user left (see Get).
	if again[0] != 7 || again[BlockSize-1] != 9 {
		t.Error("a block given back was changed")
	}
	p.Put(Block()) // a block of its own is a block too
	if b := p.Get(); len(b) != BlockSize || p.Made() != len(held) {
		t.Error("a Block given back was not handed out next")
	}
}

// TestBlocksPutRefuses: Put takes whole blocks only.
func TestBlocksPutRefuses(t *testing.T) {
	var p Blocks
	for _, b := range [][]byte{make([]byte, BlockSize-1), make([]byte, BlockSize, BlockSize+1), p.Get()[:8]} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Put of %d bytes (capacity %d) did not panic", len(b), cap(b))
				}
			}()
			p.Put(b)
		}()
	}
}

// TestView: a block seen as elements holds as many whole ones as fit, at
// the block's address, and back again; a type with pointers is refused,
// since the garbage collector does not look inside blocks.
func TestView(t *testing.T) {
	type rec struct {
		a, b, c int64
		d       [5]byte
	}
	b := Block()
	v := View[rec](b)
	if want := BlockSize / int(unsafe.Sizeof(rec{})); len(v) != want {
		t.Errorf("View of a block: %d elements, want %d", len(v), want)
	}
	v[len(v)-1].d[4] = 1
	if unsafe.SliceData(BlockOf(v)) != unsafe.SliceData(b) || len(BlockOf(v)) != BlockSize {
		t.Error("BlockOf(View(b)) is not b")
	}
	for name, f := range map[string]func(){
		"pointer":        func() { View[*int](b) },
		"string":         func() { View[struct{ s string }](b) },
		"slice in array": func() { View[[2][]byte](b) },
		"too large":      func() { View[[BlockSize + 1]byte](b) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("View of %s did not panic", name)
				}
			}()
			f()
		}()
	}
}
