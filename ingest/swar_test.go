package ingest

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// swarWords yields words built from bytes that sit at the edges of every
// class the masks test, plus random ones.
func swarWords(n int) []uint64 {
	edges := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '"' + 1, ',', '+', '-', '/', '0', '9', ':', '\\', ']', 0x7f, 0x80, 0x81, 0xa2, 0xdc, 0xff}
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([]uint64, n)
	for i := range out {
		var b [8]byte
		for j := range b {
			if rng.IntN(2) == 0 {
				b[j] = edges[rng.IntN(len(edges))]
			} else {
				b[j] = byte(rng.Uint32())
			}
		}
		out[i] = binary.LittleEndian.Uint64(b[:])
	}
	return out
}

func TestSWAR(t *testing.T) {
	for _, w := range swarWords(200000) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], w)
		for _, c := range []byte{',', '"'} {
			var want uint64
			for j, x := range b {
				if x == c {
					want |= 0x80 << (8 * j)
				}
			}
			if got := eqMask(w, c); got != want {
				t.Fatalf("eqMask(%x, %q) = %x, want %x", w, c, got, want)
			}
		}
		first := -1
		for j, x := range b {
			if x == '"' || x == '\\' || x < 0x20 || x >= 0x80 {
				first = j
				break
			}
		}
		m := strStopMask(w)
		if (m == 0) != (first < 0) || m != 0 && firstByte(m) != first {
			t.Fatalf("strStopMask(%x) = %x, want first stop at %d", w, m, first)
		}
		allDigits := true
		for _, x := range b {
			allDigits = allDigits && x >= '0' && x <= '9'
		}
		if swarDigits(w, ^uint64(0)) != allDigits {
			t.Fatalf("swarDigits(%x) = %v", w, !allDigits)
		}
	}
	if got := parse8(binary.LittleEndian.Uint64([]byte("12345678"))); got != 12345678 {
		t.Errorf("parse8 = %d", got)
	}
	if got := parse8(binary.LittleEndian.Uint64([]byte("09000001"))); got != 9000001 {
		t.Errorf("parse8 = %d", got)
	}
}
