package settlement

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

var (
	segmentGoldenSeg = filepath.Join("testdata", "segment_golden.seg")
	segmentGoldenTxt = filepath.Join("testdata", "segment_golden.txt")
)

// goldenSegmentContent is the fixture's day as one partition would
// checkpoint it: every row of the fixture (every status, a paired metro
// journey, a late row of the previous day), a row with every identifier at
// its maximum length, and rejects dated and undated.
func goldenSegmentContent(t testing.TB) segContent {
	return segContent{rows: append(fixtureRows(), maxIDRow()), rejects: fixtureSegRejects(t)}
}

// renderSegment lists what ReadSegment hands over, one record a line, rows
// in the ledger's notation: the reviewable twin of the binary golden file.
func renderSegment(t testing.TB, data []byte) string {
	t.Helper()
	var out strings.Builder
	h, serr := parseSegmentHeader(data)
	if serr != nil {
		t.Fatalf("golden segment: %v", serr)
	}
	fmt.Fprintf(&out, "# %s, decoded (regenerate: go test ./settlement -run TestSegmentGolden -update)\n", filepath.Base(segmentGoldenSeg))
	fmt.Fprintf(&out, "version %d, row size %d, %d bytes: body %d bytes, %d compressed\n",
		segmentVersion, segmentRowSize, len(data), h.rawLen, len(h.body))
	var line []byte
	info, err := ReadSegment(data,
		func(p *transit.Priced) error {
			line = AppendLedgerRow(line[:0], p)
			fmt.Fprintf(&out, "row    %s", line)
			return nil
		},
		func(r *transit.Reject, day transit.Day, dated bool) error {
			line = AppendRejectRow(line[:0], r)
			fmt.Fprintf(&out, "reject day=%s has_time=%v time=%d %q\n", DirName(day), r.HasTime, r.Time, line)
			return nil
		})
	if err != nil {
		t.Fatalf("golden segment: %v", err)
	}
	days := make([]string, len(info.Days))
	for i, d := range info.Days {
		days[i] = DirName(d)
	}
	fmt.Fprintf(&out, "rows %d, rejects %d, days %s\n", info.Rows, info.Rejects, strings.Join(days, " "))
	return out.String()
}

// TestSegmentGolden pins the format. The golden file must still decode to
// the fixture (old segments stay readable), and the fixture must still
// encode to the golden file byte for byte (the format cannot change
// unnoticed). After a deliberate change, bump segmentVersion, run with
// -update and review the diff of segment_golden.txt.
func TestSegmentGolden(t *testing.T) {
	c := goldenSegmentContent(t)
	data := c.encode()
	if *update {
		if err := os.WriteFile(segmentGoldenSeg, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(segmentGoldenTxt, []byte(renderSegment(t, data)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(segmentGoldenSeg)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(segmentGoldenTxt)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := readSegment(golden)
	if err != nil {
		t.Fatalf("the golden segment no longer reads: %v", err)
	}
	if !got.equal(&c) {
		t.Fatalf("the golden segment decodes to other records than the fixture's:\n got %+v\nwant %+v", got, c)
	}
	if r := renderSegment(t, golden); r != string(text) {
		t.Errorf("%s differs from its decoding:\n got: %s\nwant: %s", segmentGoldenTxt, r, text)
	}
	if !bytes.Equal(data, golden) {
		t.Errorf("the fixture encodes to other bytes than %s (%d bytes, golden %d). The golden file still decodes, "+
			"so if only the compressor's output changed (a klauspost/compress upgrade), old segments stay readable: "+
			"run with -update. Any change to the layout needs a new segmentVersion first.", segmentGoldenSeg, len(data), len(golden))
	}
}
