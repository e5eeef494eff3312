package ingest

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestHostileLinesAllocateLittle: whatever a malformed line holds (tens
// of thousands of fields, doubled quotes, 256 and more unknown keys, deep
// nesting, long values, a line over MaxLine), decoding it allocates a
// small bounded amount beyond its reject: the Raw (cut to MaxRejectRaw)
// and a reason that quotes at most 48 bytes of the value. The cost per
// line is measured as the difference between reading 600 and 100 such
// lines, so the reader's buffers, sized once, do not count.
func TestHostileLinesAllocateLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const header = "time,tap_id,card_id,card_product,issuer,city,mode,line,stop,action,device,note\n"
	many := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, head, line string
	}{
		{"csv: 60,000 fields", header, strings.Repeat(",", 60000)},
		{"csv: doubled quotes", header, `"` + strings.Repeat(`""`, 30000) + `",a`},
		{"csv: a long value", header, strings.Repeat("t", 60000) + strings.Repeat(",x", 11)},
		{"csv: over MaxLine", header, strings.Repeat("z", 100<<10)},
		{"json: unknown keys", "", "{" + many(300, func(i int) string { return fmt.Sprintf(`"k%d-%s":1,`, i, strings.Repeat("k", 150)) }) + `"x":1}`},
		{"json: deep nesting", "", `{"x":` + strings.Repeat("[", 60) + strings.Repeat("]", 60) + `,"y":` + strings.Repeat("[", 30000) + "}"},
		{"json: long escaped value", "", `{"tap_id":"` + strings.Repeat(`\u00e9`, 10000) + `"}`},
		{"json: long bad time", "", `{"time":"` + strings.Repeat("9", 60000) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := func(n int) (alloc uint64, rejects int) {
				data := []byte(tc.head + strings.Repeat(tc.line+"\n", n))
				var longest int
				r, err := NewReader("hostile", bytes.NewReader(data), Options{OnReject: func(rj transit.Reject) {
					rejects++
					longest = max(longest, len(rj.Raw)+len(rj.Reason))
				}})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				buf := make([]transit.Tap, 64)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for {
					if _, err := r.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						t.Fatal(err)
					}
				}
				runtime.ReadMemStats(&after)
				if longest > transit.MaxRejectRaw+256 {
					t.Errorf("a reject of %d bytes of raw and reason", longest)
				}
				return after.TotalAlloc - before.TotalAlloc, rejects
			}
			few, nFew := read(100)
			lots, nLots := read(600)
			if nFew != 100 || nLots != 600 {
				t.Fatalf("%d and %d rejects, want 100 and 600", nFew, nLots)
			}
			perLine := (int64(lots) - int64(few)) / 500
			t.Logf("%d bytes allocated per line", perLine)
			if perLine > 4<<10 {
				t.Errorf("%d bytes allocated per line of %d bytes, at most 4 KiB", perLine, len(tc.line))
			}
		})
	}
}
