package pages

import (
	"runtime/debug"
	"testing"
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
