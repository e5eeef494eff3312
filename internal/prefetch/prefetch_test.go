package prefetch

import (
	"testing"
	"unsafe"
)

// TestLineIsHarmless: a prefetch of any address, mapped or not, is a hint
// the CPU may drop; it never faults.
func TestLineIsHarmless(t *testing.T) {
	var x [64]byte
	for _, p := range []uintptr{0, 1, ^uintptr(0) - 63, uintptr(unsafe.Pointer(&x))} {
		Line(p)
		Bytes(p, 200)
	}
}

func TestSpan(t *testing.T) {
	tests := []struct {
		addr, n uintptr
		first   uintptr
		lines   int
	}{
		{0, 0, 0, 0},
		{0, 1, 0, 1},
		{0, 64, 0, 1},
		{0, 65, 0, 2},
		{63, 2, 0, 2},       // straddles a line boundary
		{64, 160, 64, 3},    // an aligned 160-byte journey
		{100, 156, 64, 3},   // 100..255: lines 64, 128, 192
		{120, 160, 64, 4},   // 120..279: lines 64 .. 256
		{1000, 192, 960, 4}, // a card state off its alignment
	}
	for _, tt := range tests {
		first, lines := span(tt.addr, tt.n)
		if first != tt.first || lines != tt.lines {
			t.Errorf("span(%d, %d) = %d, %d; want %d, %d", tt.addr, tt.n, first, lines, tt.first, tt.lines)
		}
	}
}
