package batch

import (
	"encoding/binary"
	"io"
	"runtime"
	"testing"

	"github.com/tapsettle/tapsettle/internal/spill"
)

// TestTapPartsKeepOrder: whatever order the writers finish a partition's
// buffers in, its sections come back in the order they were filled,
// which a state's records need (a card's state before its tap_ids).
func TestTapPartsKeepOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // four writers
	dir, err := spill.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	const recs, size = 40000, 100
	tp := newTapParts(dir, 0, partBufMin)
	rec := make([]byte, size)
	for i := range recs {
		binary.LittleEndian.PutUint64(rec, uint64(i))
		tp.addRaw(i%2, rec)
	}
	parts, err := tp.finish()
	if err != nil {
		t.Fatal(err)
	}
	for p := range 2 {
		if len(parts[p].secs) < 100 || parts[p].taps != recs/2 {
			t.Fatalf("partition %d: %d records in %d sections: want %d in many", p, parts[p].taps, len(parts[p].secs), recs/2)
		}
		sr := &sectionReader{secs: parts[p].secs, counted: true}
		b, err := io.ReadAll(sr)
		sr.close()
		if err != nil || len(b) != recs/2*size {
			t.Fatalf("partition %d: %d bytes, %v", p, len(b), err)
		}
		for k := range recs / 2 {
			if got := binary.LittleEndian.Uint64(b[k*size:]); got != uint64(2*k+p) {
				t.Fatalf("partition %d: record %d is record %d of those added", p, k, got)
			}
		}
	}
}
