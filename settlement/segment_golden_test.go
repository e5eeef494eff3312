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

// The golden segments: what this build writes (version 2, stored), and
// what builds before version 2 wrote, which must stay readable.
var (
	segmentGoldenSeg   = filepath.Join("testdata", "segment_golden.seg")
	segmentGoldenTxt   = filepath.Join("testdata", "segment_golden.txt")
	segmentGoldenV1Seg = filepath.Join("testdata", "segment_golden_v1.seg")
	segmentGoldenV1Txt = filepath.Join("testdata", "segment_golden_v1.txt")
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
func renderSegment(t testing.TB, name string, data []byte) string {
	t.Helper()
	var out strings.Builder
	h, serr := parseSegmentHeader(data)
	if serr != nil {
		t.Fatalf("golden segment: %v", serr)
	}
	fmt.Fprintf(&out, "# %s, decoded (regenerate: go test ./settlement -run TestSegmentGolden -update)\n", filepath.Base(name))
	if h.version == segmentVersionFixed {
		fmt.Fprintf(&out, "version %d, row size %d, %d bytes: body %d bytes, %d compressed\n",
			h.version, segmentRowSize, len(data), h.rawLen, len(h.body))
	} else {
		fmt.Fprintf(&out, "version %d, codec %d, %d bytes: body %d bytes, %d as stored\n",
			h.version, h.codec, len(data), h.rawLen, len(h.body))
	}
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

// TestSegmentGolden pins the formats. Each golden file must still decode
// to the fixture (old segments stay readable), and the fixture must still
// encode to it byte for byte: the current format, and version 1 as the
// tests' legacy writer makes it (the format cannot change unnoticed).
// After a deliberate change, bump segmentVersion, run with -update and
// review the diff of segment_golden.txt. Version 1 is frozen: -update
// leaves its files alone.
func TestSegmentGolden(t *testing.T) {
	c := goldenSegmentContent(t)
	for _, g := range []struct {
		name, seg, txt string
		f              segFormat
	}{
		{"current", segmentGoldenSeg, segmentGoldenTxt, segFormat{segmentVersion, segCodecStored}},
		{"version 1", segmentGoldenV1Seg, segmentGoldenV1Txt, segFormat{segmentVersionFixed, segCodecS2}},
	} {
		t.Run(g.name, func(t *testing.T) {
			data := c.encodeAs(g.f)
			if *update && g.f.version == segmentVersion {
				if err := os.WriteFile(g.seg, data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(g.txt, []byte(renderSegment(t, g.seg, data)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(g.seg)
			if err != nil {
				t.Fatal(err)
			}
			text, err := os.ReadFile(g.txt)
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
			if r := renderSegment(t, g.seg, golden); r != string(text) {
				t.Errorf("%s differs from its decoding:\n got: %s\nwant: %s", g.txt, r, text)
			}
			if !bytes.Equal(data, golden) {
				t.Errorf("the fixture encodes to other bytes than %s (%d bytes, golden %d). The golden file still decodes, "+
					"so if only the compressor's output changed (a klauspost/compress upgrade), old segments stay readable: "+
					"run with -update. Any change to the layout needs a new segmentVersion first.", g.seg, len(data), len(golden))
			}
		})
	}
}
