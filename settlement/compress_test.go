package settlement

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// frameText returns n bytes of text like a clearing file's, with random
// identifiers, and, with noise, stretches of random bytes that the
// encoder stores raw.
func frameText(rng *rand.Rand, n int, noise bool) []byte {
	b := make([]byte, 0, n+256)
	for i := 0; len(b) < n; i++ {
		if noise && i%500 == 499 {
			for range 3*blockSize/2 + 77 { // a whole block stored raw
				b = append(b, byte(rng.Uint32()))
			}
			continue
		}
		b = fmt.Appendf(b, "6|%d|t-%x|%019d|standard|metro|exit|L%d|||S%d|2025-03-01T%02d:%02d:%02d+08:00|%d|0|%d|charged|metro-distance|\n",
			i+1, rng.Uint64(), rng.Int64N(1e18), rng.IntN(20), rng.IntN(400), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(900), rng.IntN(900))
	}
	return b[:n]
}

// TestFrameWriter: a text written to a frameWriter in pieces of any size
// comes out as compress makes it of the whole, at the sizes where the
// framing changes (one block, a last block that is full, the single
// segment, the window) and through a spool file.
func TestFrameWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 1000, blockSize - 1, blockSize, blockSize + 1, 2 * blockSize, 2*blockSize + 1, 3*blockSize - 7, 1 << 20}
	if !testing.Short() {
		sizes = append(sizes, 8<<20-1, 8<<20, 8<<20+1, 8<<20+blockSize, 9<<20+12345)
	}
	for _, noise := range []bool{false, true} {
		for _, n := range sizes {
			for _, limit := range []int{spoolMemory, 1000} {
				text := frameText(rng, n, noise)
				want := compress(nil, text)
				var got bytes.Buffer
				fw := newFrameWriter(&got, t.TempDir())
				fw.limit = limit
				for p := text; len(p) > 0; {
					k := min(len(p), 1+rng.IntN(3*blockSize/2))
					if _, err := fw.Write(p[:k]); err != nil {
						t.Fatal(err)
					}
					p = p[k:]
				}
				if err := fw.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("noise %v, %d bytes, spool limit %d: %d bytes compressed, compress makes %d", noise, n, limit, got.Len(), len(want))
				}
			}
		}
	}
}
