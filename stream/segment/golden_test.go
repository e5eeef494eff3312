package segment

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The golden segments: what this build writes (stored), and what the
// build before wrote (version 2, which this build still reads; written by
// that build, never regenerated).
var (
	segmentGoldenSeg   = filepath.Join("testdata", "segment_golden.seg")
	segmentGoldenTxt   = filepath.Join("testdata", "segment_golden.txt")
	segmentGoldenV2Seg = filepath.Join("testdata", "segment_golden_v2.seg")
	segmentGoldenV2Txt = filepath.Join("testdata", "segment_golden_v2.txt")
)

// goldenSegmentContent is the fixture's day as one partition would
// checkpoint it: every row of the fixture (every status, a paired metro
// journey, a late row of the previous day), the fixture's adjustments, a
// row with every identifier at its maximum length, and rejects dated and
// undated.
func goldenSegmentContent(t testing.TB) segContent {
	rows := append(fixture.Rows(), fixture.Adjustments()...)
	return segContent{rows: append(rows, maxIDRow()), rejects: fixtureSegRejects(t)}
}

// goldenSegmentContentV2 is goldenSegmentContent without the
// adjustments, which version 2 could not hold.
func goldenSegmentContentV2(t testing.TB) segContent {
	return segContent{rows: append(fixture.Rows(), maxIDRow()), rejects: fixtureSegRejects(t)}
}

// renderSegment lists what Read hands over, one record a line, rows
// in the ledger's notation: the reviewable twin of the binary golden file.
func renderSegment(t testing.TB, name string, data []byte) string {
	t.Helper()
	var out strings.Builder
	h, serr := parseSegmentHeader(data)
	if serr != nil {
		t.Fatalf("golden segment: %v", serr)
	}
	fmt.Fprintf(&out, "# %s, decoded (regenerate: go test ./stream/segment -run TestSegmentGolden -update)\n", filepath.Base(name))
	fmt.Fprintf(&out, "version %d, codec %d, %d bytes: body %d bytes, %d as stored\n",
		h.version, h.codec, len(data), h.rawLen, len(h.body))
	var line []byte
	info, err := Read(data,
		func(p *transit.Priced) error {
			line = settlement.AppendLedgerRow(line[:0], p)
			fmt.Fprintf(&out, "row    %s", line)
			return nil
		},
		func(r *transit.Reject, day transit.Day, dated bool) error {
			line = settlement.AppendRejectRow(line[:0], r)
			fmt.Fprintf(&out, "reject day=%s has_time=%v time=%d %q\n", settlement.DirName(day), r.HasTime, r.Time, line)
			return nil
		})
	if err != nil {
		t.Fatalf("golden segment: %v", err)
	}
	days := make([]string, len(info.Days))
	for i, d := range info.Days {
		days[i] = settlement.DirName(d)
	}
	fmt.Fprintf(&out, "rows %d, rejects %d, days %s\n", info.Rows, info.Rejects, strings.Join(days, " "))
	return out.String()
}

// TestSegmentGolden pins the format. The golden file must still decode to
// the fixture, and the fixture must still encode to it byte for byte (the
// format cannot change unnoticed). After a deliberate change, bump
// segmentVersion, run with -update and review the diff of
// segment_golden.txt. The version-2 golden, written by the build before,
// must still decode to the fixture without adjustments; only its text
// twin is rewritten by -update (it renders rows in the ledger notation).
func TestSegmentGolden(t *testing.T) {
	for _, g := range []struct {
		name, seg, txt string
		f              segFormat
		c              segContent
	}{
		{"current", segmentGoldenSeg, segmentGoldenTxt, segFormat{segmentVersion, segCodecStored}, goldenSegmentContent(t)},
		{"v2", segmentGoldenV2Seg, segmentGoldenV2Txt, segFormat{segmentVersionV2, segCodecStored}, goldenSegmentContentV2(t)},
	} {
		t.Run(g.name, func(t *testing.T) {
			c := g.c
			if g.f.version != segmentVersion {
				checkOldGolden(t, g.seg, g.txt, &c)
				return
			}
			data := c.encodeAs(g.f)
			if *update {
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

// checkOldGolden checks a golden segment of an older version, which this
// build reads but no longer writes: it decodes to c, and to its text twin.
func checkOldGolden(t *testing.T, seg, txt string, c *segContent) {
	golden, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := readSegment(golden)
	if err != nil {
		t.Fatalf("the old golden segment no longer reads: %v", err)
	}
	if !got.equal(c) {
		t.Fatalf("the old golden segment decodes to other records than the fixture's:\n got %+v\nwant %+v", got, c)
	}
	r := renderSegment(t, seg, golden)
	if *update {
		if err := os.WriteFile(txt, []byte(r), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text, err := os.ReadFile(txt)
	if err != nil {
		t.Fatal(err)
	}
	if r != string(text) {
		t.Errorf("%s differs from its decoding:\n got: %s\nwant: %s", txt, r, text)
	}
}
