package segment

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// FuzzReadSegment holds Read to the round-trip property of every
// reader here: it never panics; what it refuses is a *Error with no
// record handed over; what it accepts, a builder given the same records
// encodes back to the same bytes.
func FuzzReadSegment(f *testing.F) {
	for _, name := range []string{segmentGoldenSeg, segmentGoldenV2Seg} {
		golden, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(golden)
	}
	f.Add(smallSegment(f))
	for _, sf := range segFormats {
		f.Add((&segContent{}).encodeAs(sf.f))
		f.Add((&segContent{rejects: fixtureSegRejects(f)}).encodeAs(sf.f))
		f.Add((&segContent{rows: []transit.Priced{extremeRow(), minimalRow()}}).encodeAs(sf.f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, calls, info, err := readSegment(data)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *Error: %v", err)
			}
			if calls != 0 {
				t.Fatalf("%d records handed over before the error %v", calls, err)
			}
			return
		}
		h, _ := parseSegmentHeader(data)
		if h.segFormat.version != segmentVersion {
			// A version this build reads but no longer writes: what it
			// read must survive the current form instead.
			cur := segFormat{segmentVersion, h.segFormat.codec}
			again, _, _, err := readSegment(got.encodeAs(cur))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("version %d segment read, then written as version %d, reads back otherwise (%v)", h.segFormat.version, segmentVersion, err)
			}
		} else if out := got.encodeAs(h.segFormat); !bytes.Equal(out, data) {
			t.Fatalf("accepted %d bytes that re-encode to %d other bytes in format %+v", len(data), len(out), h.segFormat)
		}
		if info.Rows != len(got.rows) || info.Rejects != len(got.rejects) || info.Sum != sha256.Sum256(data) {
			t.Fatalf("info %+v disagrees with %d rows, %d rejects", info, len(got.rows), len(got.rejects))
		}
	})
}

// FuzzSegmentBody reaches past the checksums, which FuzzReadSegment can
// only rarely get through: it seals any body and header values into a
// segment of one of segFormats with correct checksums, so the record
// decoders and the consistency checks see every mutation. Same property
// as above.
func FuzzSegmentBody(f *testing.F) {
	for i, sf := range segFormats {
		for _, c := range []segContent{
			goldenSegmentContent(f),
			{rows: []transit.Priced{extremeRow(), minimalRow()}},
			{rejects: fixtureSegRejects(f)},
		} {
			b := c.buildAs(sf.f)
			var days []byte
			for _, d := range b.Days() {
				days = segLE.AppendUint32(days, uint32(d))
			}
			f.Add(uint8(i), uint32(b.Rows()), uint32(b.Rejects()), days, bytes.Clone(b.flatBody()))
		}
	}
	f.Fuzz(func(t *testing.T, format uint8, rows, rejects uint32, dayBytes, raw []byte) {
		sf := segFormats[int(format)%len(segFormats)].f
		days := make([]transit.Day, len(dayBytes)/4)
		for i := range days {
			days[i] = transit.Day(segLE.Uint32(dayBytes[4*i:]))
		}
		data := appendSegment(nil, sf, int(rows), int(rejects), days, raw)
		got, calls, _, err := readSegment(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || calls != 0 {
				t.Fatalf("%d calls, error %v", calls, err)
			}
			return
		}
		if out := got.encodeAs(sf); !bytes.Equal(out, data) {
			t.Fatalf("accepted a segment that re-encodes to other bytes")
		}
	})
}
