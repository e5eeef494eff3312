package pages

import (
	"runtime/debug"
	"slices"
	"testing"
	"unsafe"
)

func TestMakeIsMake(t *testing.T) {
	for _, n := range []int{0, 1, 100, 1 << 16} {
		s := Make[int64](n)
		if len(s) != n || cap(s) != n {
			t.Fatalf("Make(%d): len %d cap %d", n, len(s), cap(s))
		}
		for i := range s {
			if s[i] != 0 {
				t.Fatalf("Make(%d)[%d] = %d, want 0", n, i, s[i])
			}
			s[i] = int64(i)
		}
	}
}

// BenchmarkMake compares first touches of fresh memory: every round hands
// the heap back to the operating system first, so each allocation faults
// its pages in anew. The gap is the cost of one page fault per 4 KiB
// against one populate call per slice on the machine it runs on.
func BenchmarkMake(b *testing.B) {
	for _, bc := range []struct {
		name string
		make func(int) []byte
	}{{"pages.Make", Make[byte]}, {"make", func(n int) []byte { return make([]byte, n) }}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(1 << 20)
			for b.Loop() {
				b.StopTimer()
				sink = nil
				debug.FreeOSMemory()
				b.StartTimer()
				touch(bc.make(1 << 20))
			}
		})
	}
}

var sink []byte

func touch(s []byte) {
	for i := 0; i < len(s); i += 4096 {
		s[i] = 1
	}
	sink = s
}

// TestAppend: one element at a time, Append keeps every element and
// doubles the capacity when it is full.
func TestAppend(t *testing.T) {
	var s []int32
	for i := range int32(1000) {
		before := cap(s)
		s = Append(s, i)
		if before > 0 && cap(s) != before && cap(s) != 2*before {
			t.Fatalf("at %d elements the capacity went from %d to %d, want %d", i, before, cap(s), 2*before)
		}
	}
	for i := range s {
		if s[i] != int32(i) {
			t.Fatalf("element %d is %d", i, s[i])
		}
	}
	if s = Append(s, 7, 8, 9); len(s) != 1003 || s[1002] != 9 {
		t.Fatalf("appending three: len %d, last %d", len(s), s[len(s)-1])
	}
}

func TestGrow(t *testing.T) {
	for _, tc := range []struct{ len, cap, n, wantCap int }{
		{0, 0, 0, 0},             // nothing asked: s as it is
		{3, 10, 7, 10},           // room enough: s as it is
		{3, 10, 8, 20},           // doubles
		{3, 4, 100, 103},         // exactly what is needed when that is more
		{0, 0, 1 << 17, 1 << 17}, // large: populated, same contract
	} {
		s := make([]int32, tc.len, tc.cap)
		for i := range s {
			s[i] = int32(i + 1)
		}
		g := Grow(s, tc.n)
		if len(g) != tc.len || cap(g) != tc.wantCap {
			t.Errorf("Grow(len %d cap %d, %d): len %d cap %d, want len %d cap %d", tc.len, tc.cap, tc.n, len(g), cap(g), tc.len, tc.wantCap)
			continue
		}
		for i := range g {
			if g[i] != int32(i+1) {
				t.Fatalf("Grow lost element %d: %d", i, g[i])
			}
		}
		if tail := g[len(g):cap(g)]; len(tail) > 0 && tail[len(tail)-1] != 0 {
			t.Errorf("Grow's new capacity is not zeroed")
		}
		if same := cap(s) > 0 && cap(g) == cap(s) && &g[:cap(g)][0] != &s[:cap(s)][0]; same {
			t.Errorf("Grow reallocated though the capacity sufficed")
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Grow with a negative count did not panic")
		}
	}()
	Grow([]byte{}, -1)
}

func TestSlabCut(t *testing.T) {
	var s Slab[int32]
	a := s.Cut(3, 8)
	b := s.Cut(3, 8)
	c := s.Cut(3, 8) // the slab (8 rounded down to 6) is used up: a fresh one
	for _, p := range [][]int32{a, b, c} {
		if len(p) != 3 || cap(p) != 3 {
			t.Fatalf("piece len %d cap %d, want 3 and 3", len(p), cap(p))
		}
	}
	addr := func(p []int32) uintptr { return uintptr(unsafe.Pointer(&p[0])) }
	if addr(b)-addr(a) != 3*4 {
		t.Error("the second piece is not cut right behind the first")
	}
	if addr(c)-addr(b) == 3*4 {
		t.Error("the third piece was cut past the end of the slab")
	}
	a[0], b[0], c[0] = 1, 2, 3
	if a[0] != 1 || b[0] != 2 || c[0] != 3 {
		t.Error("pieces overlap")
	}
	if big := s.Cut(20, 8); len(big) != 20 {
		t.Errorf("a piece larger than the slab size: len %d, want 20", len(big))
	}
}

// TestSlabGrows checks that slabs double from the size asked up to slabMax
// bytes, each a multiple of the piece, and that a size asked above
// slabMax is kept.
func TestSlabGrows(t *testing.T) {
	const piece = 1000 // elements of 8 bytes
	var s Slab[int64]
	var sizes []int
	for range 20 {
		before := s.last
		s.Cut(piece, piece)
		if s.last != before {
			sizes = append(sizes, s.last)
		}
		s.rest = s.rest[:0] // the next Cut takes a fresh slab
	}
	most := slabMax / 8 / piece * piece
	var want []int
	for n := piece; n < most; n *= 2 {
		want = append(want, n)
	}
	want = append(want, most)
	if len(sizes) < len(want) || !slices.Equal(sizes[:len(want)], want) {
		t.Fatalf("slab sizes %v, want %v then %d", sizes, want, most)
	}
	for _, n := range sizes[len(want):] {
		if n != most {
			t.Fatalf("a slab of %d elements after reaching %d", n, most)
		}
	}
	var big Slab[int64]
	big.Cut(piece, 3*most)
	if big.last != 3*most/piece*piece {
		t.Errorf("a slab asked at %d elements has %d", 3*most, big.last)
	}
}
