package segment

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// segRej is a reject with the settlement day a partition gives it.
type segRej struct {
	r   transit.Reject
	day transit.Day
}

// segContent is what a segment holds, as Read hands it over.
type segContent struct {
	rows    []transit.Priced
	rejects []segRej
}

func (c *segContent) build() *Builder {
	return c.buildAs(segFormat{segmentVersion, segCodecStored})
}

// buildAs returns a builder of c's records that writes format f.
func (c *segContent) buildAs(f segFormat) *Builder {
	b := newBuilder(f)
	b.AddRows(c.rows)
	for i := range c.rejects {
		b.AddReject(&c.rejects[i].r, c.rejects[i].day)
	}
	return b
}

// newBuilder returns an empty builder that writes format f.
func newBuilder(f segFormat) *Builder {
	b := &Builder{Compress: f.codec == segCodecS2}
	if b.format() != f {
		panic(fmt.Sprintf("no builder writes format %+v", f))
	}
	return b
}

func (c *segContent) encode() []byte { return c.build().Encode(nil) }

// encodeAs encodes c in format f.
func (c *segContent) encodeAs(f segFormat) []byte { return c.buildAs(f).Encode(nil) }

// segFormats are the formats a reader reads: what the builder writes,
// stored and compressed.
var segFormats = []struct {
	name string
	f    segFormat
}{
	{"v3-stored", segFormat{segmentVersion, segCodecStored}},
	{"v3-s2", segFormat{segmentVersion, segCodecS2}},
}

func (c *segContent) equal(o *segContent) bool {
	return slices.Equal(c.rows, o.rows) && slices.Equal(c.rejects, o.rejects)
}

// readSegment reads data into a segContent, counting the callbacks even
// when the read fails.
func readSegment(data []byte) (segContent, int, Info, error) {
	var got segContent
	calls := 0
	info, err := Read(data,
		func(p *transit.Priced) error {
			calls++
			got.rows = append(got.rows, *p)
			return nil
		},
		func(r *transit.Reject, day transit.Day, dated bool) error {
			calls++
			if dated != (day != settlement.Undated) {
				return errors.New("dated disagrees with the day")
			}
			got.rejects = append(got.rejects, segRej{*r, day})
			return nil
		})
	return got, calls, info, err
}

// rejectDay places a reject as Collector.Reject does.
func rejectDay(cal *transit.Calendar, r *transit.Reject) transit.Day {
	if !r.HasTime {
		return settlement.Undated
	}
	return cal.DayOf(r.Time)
}

func fixtureSegRejects(t testing.TB) []segRej {
	cal := fixture.Calendar(t)
	var out []segRej
	for _, r := range fixture.Rejects() {
		out = append(out, segRej{r, rejectDay(cal, &r)})
	}
	return out
}

// maxIDRow fills every identifier to its maximum length: a metro exit with
// its entry, a device, and a UTF-8 line name of exactly MaxCode bytes.
func maxIDRow() transit.Priced {
	r := fixture.Row(strings.Repeat("T", transit.MaxTapID), strings.Repeat("9", transit.MaxCardID), transit.ProductSenior,
		fixture.Shanghai, fixture.Ningbo, transit.ModeMetro, transit.ActionExit, "地铁1号线ABC", strings.Repeat("S", transit.MaxCode), fixture.At(21, 7, 9)+999_999_999).
		Fare(700, 35, 100, 65, transit.RuleMetroDistance|transit.RuleProduct|transit.RuleTransfer|transit.RuleDailyCap).
		WithEntry(strings.Repeat("E", transit.MaxCode), fixture.At(20, 0, 0)+1)
	r.Device = fixture.ID[transit.DeviceID](strings.Repeat("D", transit.MaxDeviceID))
	if len(r.Line.Bytes()) != transit.MaxCode {
		panic("maxIDRow: line is not MaxCode bytes")
	}
	return r.Priced
}

// extremeRow holds the extreme value of every numeric field: the format
// must carry them bit for bit, whatever their meaning, within the sign
// rules of amounts (negative amounts only on an adjustment, all of one
// sign): an adjustment with every amount at its minimum.
func extremeRow() transit.Priced {
	r := maxIDRow()
	r.Time, r.Offset = math.MinInt64, -12*3600-1
	r.Issuer, r.City = math.MaxUint32, 0
	r.Day, r.RefDay = math.MaxInt32, math.MaxInt32
	r.Status, r.Reason, r.Rules = transit.StatusAdjustment, transit.NumReasons-1, transit.KnownRules
	r.Gross, r.Discount, r.Charged = math.MinInt64, math.MinInt64, -1
	r.ProductDiscount, r.TransferDiscount, r.CapDiscount = -1, -2, math.MinInt64
	r.EntryTime = math.MaxInt64
	return r
}

// extremePositiveRow is extremeRow as a rejected row, its amounts at
// their maximum.
func extremePositiveRow() transit.Priced {
	r := extremeRow()
	r.Status, r.RefDay = transit.StatusRejected, 0
	r.Gross, r.Discount, r.Charged = math.MaxInt64, math.MaxInt64, 1
	r.ProductDiscount, r.TransferDiscount, r.CapDiscount = 1, 2, math.MaxInt64
	return r
}

// minimalRow is the smallest row the engine could write: one-byte
// identifiers, every other field zero.
func minimalRow() transit.Priced {
	var r transit.Priced
	r.ID = fixture.ID[transit.TapID]("t")
	r.Card = fixture.ID[transit.CardID]("c")
	return r
}

// TestSegmentRowSizes holds the compact row to the bounds the reader and
// the builder rely on: segCompactRowMin (the reader's check that a body
// can hold its rows) and segCompactRowMax (the builder's reservation).
func TestSegmentRowSizes(t *testing.T) {
	min := minimalRow()
	if n := len(appendSegmentRow(nil, &min)); n != segCompactRowMin {
		t.Errorf("the smallest row is %d bytes, segCompactRowMin says %d", n, segCompactRowMin)
	}
	big := extremeRow()
	big.Offset, big.City, big.Day, big.Rules = math.MinInt32, math.MaxUint32, math.MinInt32, math.MaxUint32
	big.Gross, big.Discount, big.Charged, big.ProductDiscount, big.TransferDiscount, big.CapDiscount =
		math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64
	big.EntryTime, big.RefDay = math.MinInt64, math.MinInt32
	if n := len(appendSegmentRow(nil, &big)); n != segCompactRowMax {
		t.Errorf("the largest row is %d bytes, segCompactRowMax says %d", n, segCompactRowMax)
	}
}

// everyStatusRows has one row of each status, as the engine writes them.
func everyStatusRows() []transit.Priced {
	bus, metro := transit.ModeBus, transit.ModeMetro
	std := transit.ProductStandard
	rs := []*fixture.R{
		fixture.Row("st-charged", fixture.BJCard, std, fixture.Beijing, fixture.Shanghai, bus, transit.ActionBoard, "SH-71", "B20", fixture.At(9, 0, 0)).
			Fare(200, 0, 0, 0, transit.RuleBusFlat),
		fixture.Row("st-open", fixture.GZCard, std, fixture.Guangzhou, fixture.Shenzhen, metro, transit.ActionEntry, "SZ-M1", "Z01", fixture.At(23, 50, 0)).
			WithStatus(transit.StatusOpen, 0),
		fixture.Row("st-duplicate", fixture.BJCard, std, fixture.Beijing, fixture.Shanghai, bus, transit.ActionBoard, "SH-71", "B20", fixture.At(9, 0, 0)).
			WithStatus(transit.StatusDuplicate, 0),
		fixture.Row("st-rejected", fixture.HMCard, std, fixture.Hami, fixture.Guangzhou, bus, transit.ActionBoard, "GZ-3", "G3", fixture.At(14, 0, 0)).
			WithStatus(transit.StatusRejected, transit.ReasonUnknownIssuer),
		fixture.Row("st-incomplete", fixture.SHCard, transit.ProductStudent, fixture.Shanghai, fixture.Beijing, metro, transit.ActionExit, "BJ-M10", "J33", fixture.At(13, 15, 0)).
			Fare(900, 450, 0, 0, transit.RuleMetroDistance|transit.RuleProduct|transit.RuleUnmatchedExit|transit.RuleDefaultPolicy).
			WithStatus(transit.StatusIncomplete, 0),
	}
	for _, a := range fixture.Adjustments()[:1] {
		rs = append(rs, &fixture.R{Priced: a})
	}
	out := make([]transit.Priced, len(rs))
	for i, r := range rs {
		out[i] = r.Priced
	}
	return out
}

func TestSegmentRoundTrip(t *testing.T) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	prev := fixture.Row("prev-day", fixture.BJCard, transit.ProductStandard, fixture.Beijing, fixture.Ningbo, transit.ModeBus, transit.ActionBoard, "NB-N1", "S30", fixture.At(3, 30, 0)).
		Fare(200, 0, 0, 0, transit.RuleBusFlat|transit.RuleLate).OnDay(fixture.Prev).Priced
	tests := []struct {
		name string
		c    segContent
	}{
		{"empty", segContent{}},
		{"fixture day", segContent{fixture.Rows(), fixtureSegRejects(t)}},
		{"every status", segContent{rows: everyStatusRows()}},
		{"metro exit with entry", segContent{rows: fixture.Rows()[1:3]}},
		{"max-length ids", segContent{rows: []transit.Priced{maxIDRow()}}},
		{"extreme values", segContent{rows: []transit.Priced{extremeRow(), extremePositiveRow(), minimalRow()}}},
		{"fixture adjustments", segContent{rows: fixture.Adjustments()}},
		{"two days, then back", segContent{rows: []transit.Priced{fixture.Rows()[0], prev, fixture.Rows()[1]}}},
		{"rejects only, dated and undated", segContent{rejects: []segRej{
			{transit.Reject{Source: "kafka/taps/3", Line: 1, Reason: "unreadable"}, settlement.Undated},
			{transit.Reject{Source: "kafka/taps/3", Line: 2, Field: "time", Reason: "r", Raw: "x", Time: fixture.At(12, 0, 0), HasTime: true}, fixture.Day},
			{transit.Reject{Time: fixture.At(2, 0, 0), HasTime: true}, settlement.Undated}, // a partition without a calendar
		}}},
		{"reject strings", segContent{rejects: []segRej{
			{transit.Reject{Source: "", Line: -1, Raw: string(allBytes)}, fixture.Day},
			{transit.Reject{Source: strings.Repeat("s", 5000), Field: "地铁", Reason: "line\nbreak,\"quote\"", Raw: strings.Repeat("\x00", transit.MaxRejectRaw), Time: math.MinInt64}, fixture.Prev},
		}}},
		{"synthetic rows with rejects", segContent{fixture.Synth(3000, 4), fixtureSegRejects(t)}},
	}
	for _, f := range segFormats {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) { testSegmentRoundTrip(t, f.f, tt.c) })
		}
	}
}

func testSegmentRoundTrip(t *testing.T, f segFormat, c segContent) {
	b := c.buildAs(f)
	data := b.Encode(nil)
	if h, serr := parseSegmentHeader(data); serr != nil || h.segFormat != f {
		t.Fatalf("written as %+v, read as %+v (%v)", f, h.segFormat, serr)
	}

	// The days the test expects, computed without the builder.
	seen := map[transit.Day]bool{}
	for _, r := range c.rows {
		seen[r.Day] = true
	}
	for _, r := range c.rejects {
		seen[r.day] = true
	}
	var wantDays []transit.Day
	for d := range seen {
		wantDays = append(wantDays, d)
	}
	slices.Sort(wantDays)

	if b.Rows() != len(c.rows) || b.Rejects() != len(c.rejects) || !slices.Equal(b.Days(), wantDays) {
		t.Errorf("builder: %d rows, %d rejects, days %v; want %d, %d, %v",
			b.Rows(), b.Rejects(), b.Days(), len(c.rows), len(c.rejects), wantDays)
	}
	got, _, info, err := readSegment(data)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(got.rows) != len(c.rows) {
		t.Fatalf("%d rows, want %d", len(got.rows), len(c.rows))
	}
	for i := range got.rows {
		if got.rows[i] != c.rows[i] {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got.rows[i], c.rows[i])
		}
	}
	if !slices.Equal(got.rejects, c.rejects) {
		t.Fatalf("rejects:\n got %+v\nwant %+v", got.rejects, c.rejects)
	}
	if info.Rows != len(c.rows) || info.Rejects != len(c.rejects) || !slices.Equal(info.Days, wantDays) {
		t.Errorf("info %+v; want %d rows, %d rejects, days %v", info, len(c.rows), len(c.rejects), wantDays)
	}
	if info.Sum != sha256.Sum256(data) {
		t.Error("info.Sum is not the file's SHA-256")
	}
}

func TestSegmentUndatedFirst(t *testing.T) {
	c := segContent{rows: fixture.Rows(), rejects: fixtureSegRejects(t)}
	want := []transit.Day{settlement.Undated, fixture.Prev, fixture.Day}
	if got := c.build().Days(); !slices.Equal(got, want) {
		t.Fatalf("Days = %v, want %v", got, want)
	}
}

// TestSegmentEncodeStable: the bytes depend only on the content, not on
// how it was handed over, on reuse of the builder, or on dst.
func TestSegmentEncodeStable(t *testing.T) {
	c := segContent{fixture.Synth(500, 9), fixtureSegRejects(t)}
	want := c.encode()

	var b Builder
	b.AddRows(fixture.Rows()) // something else first, then Reset
	b.AddReject(&c.rejects[0].r, 0)
	b.Reset()
	if b.Rows() != 0 || b.Rejects() != 0 || len(b.Days()) != 0 || b.Size() != 0 {
		t.Fatalf("after Reset: %d rows, %d rejects, days %v, size %d", b.Rows(), b.Rejects(), b.Days(), b.Size())
	}
	// Rows in uneven batches, rejects interleaved with them.
	rows := c.rows
	for i, n := 0, 1; len(rows) > 0; i, n = i+1, n*2 {
		k := min(n, len(rows))
		b.AddRows(rows[:k])
		rows = rows[k:]
		if i < len(c.rejects) {
			b.AddReject(&c.rejects[i].r, c.rejects[i].day)
		}
	}
	for i := len(c.rows); i < len(c.rejects); i++ {
		b.AddReject(&c.rejects[i].r, c.rejects[i].day)
	}
	prefix := []byte("prefix")
	got := b.Encode(slices.Clone(prefix))
	if !bytes.HasPrefix(got, prefix) {
		t.Fatal("Encode overwrote dst")
	}
	if !bytes.Equal(got[len(prefix):], want) {
		t.Fatal("batched, reused builder encodes different bytes")
	}
	if again := b.Encode(nil); !bytes.Equal(again, want) {
		t.Fatal("a second Encode differs: Encode changed the builder")
	}
	var rowBytes []byte
	for i := range c.rows {
		rowBytes = appendSegmentRow(rowBytes, &c.rows[i])
	}
	if b.Size() != len(rowBytes)+len(appendRejects(c.rejects)) {
		t.Errorf("Size = %d", b.Size())
	}
	// Compress may change between segments; it changes only the body's
	// codec.
	b.Compress = true
	packed := b.Encode(nil)
	b.Compress = false
	if h, serr := parseSegmentHeader(packed); serr != nil || h.codec != segCodecS2 || len(packed) >= len(want) {
		t.Fatalf("Compress: codec %d, %d bytes against %d stored (%v)", h.codec, len(packed), len(want), serr)
	}
	if got, _, _, err := readSegment(packed); err != nil || !got.equal(&c) {
		t.Fatalf("the compressed segment reads back other records (%v)", err)
	}
	if again := b.Encode(nil); !bytes.Equal(again, want) {
		t.Fatal("after Compress is cleared, Encode writes other bytes")
	}
}

func appendRejects(rs []segRej) []byte {
	var b []byte
	for i := range rs {
		b = appendSegmentReject(b, &rs[i].r, rs[i].day)
	}
	return b
}

// TestSegmentEncodeNoAllocs: once the buffers are sized, a segment of
// several chunks costs no allocation, by Encode or by WriteTo.
func TestSegmentEncodeNoAllocs(t *testing.T) {
	rows := fixture.Synth(4096, 3)
	rej := fixtureSegRejects(t)
	var dst []byte
	for _, tt := range []struct {
		name  string
		write func(b *Builder)
	}{
		{"Encode", func(b *Builder) { dst = b.Encode(dst[:0]) }},
		{"WriteTo", func(b *Builder) {
			if _, err := b.WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b Builder
			run := func() {
				b.Reset()
				b.AddRows(rows[:512])
				b.AddReject(&rej[0].r, rej[0].day)
				b.AddRows(rows[512:])
				tt.write(&b)
			}
			run() // size the buffers
			if n := testing.AllocsPerRun(20, run); n != 0 {
				t.Fatalf("%v allocations per segment in steady state, want 0", n)
			}
		})
	}
}

// smallSegment has every kind of record: rows of two days, a metro exit
// with its entry, a dated and an undated reject.
func smallSegment(t testing.TB) []byte {
	rows := fixture.Rows()
	c := segContent{rows: []transit.Priced{rows[2], rows[13]}, rejects: fixtureSegRejects(t)[1:]}
	return c.encode()
}

func wantSegmentError(t *testing.T, what string, data []byte) *Error {
	t.Helper()
	_, calls, _, err := readSegment(data)
	var se *Error
	switch {
	case err == nil:
		t.Fatalf("%s: accepted", what)
	case !errors.As(err, &se):
		t.Fatalf("%s: error is not a *Error: %v", what, err)
	case !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion):
		t.Fatalf("%s: error wraps neither ErrCorrupt nor ErrVersion: %v", what, err)
	case calls != 0:
		t.Fatalf("%s: %d records handed over before the error %v", what, calls, err)
	}
	return se
}

func TestSegmentFlippedBytes(t *testing.T) {
	data := smallSegment(t)
	for off := range data {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := slices.Clone(data)
			bad[off] ^= mask
			se := wantSegmentError(t, "flipped byte", bad)
			if se.Body || se.Offset < 0 || se.Offset > int64(len(data)) {
				t.Fatalf("flip at %d: error at %d (body %v): %v", off, se.Offset, se.Body, se)
			}
		}
	}
}

func TestSegmentTruncatedOrExtended(t *testing.T) {
	data := smallSegment(t)
	for n := range data {
		wantSegmentError(t, "truncated", data[:n])
	}
	for _, tail := range []string{"\x00", "TSSEGEND", string(data)} {
		wantSegmentError(t, "extended", append(slices.Clone(data), tail...))
	}
}

// resealSegment recomputes both checksums of a segment whose bytes a test
// changed on purpose, so that the reader's other checks are reached.
func resealSegment(b []byte) []byte {
	hdrLen := segFixedHeader + 4*int(segLE.Uint32(b[segOffDayCount:])) + 4
	segLE.PutUint32(b[hdrLen-4:], crc32.Checksum(b[:hdrLen-4], segCRCTable))
	body := b[hdrLen : len(b)-segTrailerSize]
	segLE.PutUint32(b[len(b)-segTrailerSize:], crc32.Checksum(body, segCRCTable))
	return b
}

func TestSegmentVersion(t *testing.T) {
	data := smallSegment(t)
	for _, v := range []uint16{0, 1, segmentVersion + 1, 0xffff} {
		bad := slices.Clone(data)
		segLE.PutUint16(bad[segOffVersion:], v)
		resealSegment(bad)
		_, _, _, err := readSegment(bad)
		if !errors.Is(err, ErrVersion) || errors.Is(err, ErrCorrupt) {
			t.Errorf("version %d: %v, want ErrVersion", v, err)
		}
	}
}

// appendSegmentRowV2 appends r's row record as version 2 wrote it: the
// version-3 record without its ref_day, which must be 0 (one byte).
func appendSegmentRowV2(b []byte, r *transit.Priced) []byte {
	if r.RefDay != 0 {
		panic("appendSegmentRowV2: version 2 has no ref_day")
	}
	b = appendSegmentRow(b, r)
	return b[:len(b)-1]
}

// v2Segment builds a version-2 segment of rows and rejects by hand, as the
// build before this one wrote it.
func v2Segment(f segFormat, rows []transit.Priced, rejects []segRej) []byte {
	var raw []byte
	var days []transit.Day
	for i := range rows {
		raw = appendSegmentRowV2(raw, &rows[i])
		days = addSegmentDay(days, rows[i].Day)
	}
	for i := range rejects {
		days = addSegmentDay(days, rejects[i].day)
	}
	raw = append(raw, appendRejects(rejects)...)
	return appendSegment(nil, f, len(rows), len(rejects), days, raw)
}

// TestSegmentV2 reads version-2 segments, as a running stream's committed
// segments of an open day are read after an upgrade: their rows come back
// with ref_day 0, and an adjustment, which version 2 could not hold, is
// refused.
func TestSegmentV2(t *testing.T) {
	c := segContent{fixture.Rows(), fixtureSegRejects(t)}
	for _, codec := range []uint16{segCodecStored, segCodecS2} {
		data := v2Segment(segFormat{segmentVersionV2, codec}, c.rows, c.rejects)
		got, _, info, err := readSegment(data)
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		if !got.equal(&c) || info.Rows != len(c.rows) {
			t.Errorf("codec %d: decodes to %+v\nwant %+v", codec, got, c)
		}
		// The smallest rows: the body check uses version 2's row minimum.
		mins := []transit.Priced{minimalRow(), minimalRow()}
		if _, _, _, err := readSegment(v2Segment(segFormat{segmentVersionV2, codec}, mins, nil)); err != nil {
			t.Errorf("codec %d, minimal rows: %v", codec, err)
		}
	}
	adj := fixture.Adjustments()[:1]
	adj[0].RefDay = 0 // as version 2 would write it, had it the status
	data := v2Segment(segFormat{segmentVersionV2, segCodecStored}, adj, nil)
	if _, _, _, err := readSegment(data); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "status out of range") {
		t.Errorf("a version-2 adjustment: %v, want status out of range", err)
	}
}

// TestSegmentForged feeds segments whose checksums are right but whose
// content is not what a builder writes: the reader's own checks must
// refuse each, naming the place.
func TestSegmentForged(t *testing.T) {
	good := fixture.Rows()[:3]
	rawOf := func(rows []transit.Priced, rejects []segRej) []byte {
		var raw []byte
		for i := range rows {
			raw = appendSegmentRow(raw, &rows[i])
		}
		return append(raw, appendRejects(rejects)...)
	}
	// paddedDay is good's rows with row 1's day written as a varint one
	// byte longer than it need be.
	paddedDay := func() []byte {
		raw := rawOf(good[:1], nil)
		r := &good[1]
		tap := r.Tap.AppendCompact(nil)
		day := binary.AppendVarint(nil, int64(r.Day))
		rest := appendSegmentRow(nil, r)[len(tap)+len(day):]
		raw = append(raw, tap...)
		raw = append(raw, day[:len(day)-1]...)
		raw = append(raw, day[len(day)-1]|0x80, 0)
		raw = append(raw, rest...)
		return append(raw, rawOf(good[2:], nil)...)
	}
	withRow := func(f func(r *transit.Priced)) []transit.Priced {
		rows := slices.Clone(good)
		f(&rows[1])
		return rows
	}
	undated := []segRej{{transit.Reject{Source: "s", Reason: "r"}, settlement.Undated}}
	long := []segRej{{transit.Reject{Source: "a longer source", Raw: "xyz"}, settlement.Undated}}
	longRaw := rawOf(nil, long)
	segLE.PutUint32(longRaw[len(longRaw)-3-4:], 4) // Raw claims 4 bytes, 3 follow
	patch := func(off int, f func(b []byte)) func([]byte) []byte {
		return func(b []byte) []byte { f(b[off:]); return resealSegment(b) }
	}
	stored := segFormat{segmentVersion, segCodecStored}
	s2Format := segFormat{segmentVersion, segCodecS2}
	tests := []struct {
		name       string
		rows, rejs int
		days       []transit.Day
		raw        []byte
		patch      func([]byte) []byte
		want       string
		f          segFormat
	}{
		{"a day missing from the header", 3, 0, nil, rawOf(good, nil), nil, "header lists days", stored},
		{"a day too many", 3, 0, []transit.Day{fixture.Prev, fixture.Day}, rawOf(good, nil), nil, "header lists days", stored},
		{"days out of order", 3, 1, []transit.Day{fixture.Day, settlement.Undated}, rawOf(good, undated), nil, "ascending", stored},
		{"more days than records", 1, 0, []transit.Day{1, 2}, rawOf(good[:1], nil), nil, "days for", stored},
		{"status out of range", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Status = transit.NumStatuses }), nil), nil, "row 1: status", stored},
		{"negative amount on a charged row", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Gross, r.Charged = -1, -1 }), nil), nil, "row 1: a negative amount", stored},
		{"ref_day on a charged row", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.RefDay = fixture.Prev }), nil), nil, "row 1: a ref_day", stored},
		{"adjustment without ref_day", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Status = transit.StatusAdjustment }), nil), nil, "row 1: an adjustment's ref_day", stored},
		{"adjustment ref_day after its day", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Status, r.RefDay = transit.StatusAdjustment, fixture.Day+1 }), nil), nil, "row 1: an adjustment's ref_day", stored},
		{"adjustment of mixed signs", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) {
			r.Status, r.RefDay, r.Gross, r.Discount, r.Charged = transit.StatusAdjustment, fixture.Prev, -400, 0, -400
			r.ProductDiscount = 20
		}), nil), nil, "row 1: an adjustment's amounts mix signs", stored},
		{"reason out of range", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Reason = transit.NumReasons }), nil), nil, "row 1: reason", stored},
		{"unknown rule", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Rules = transit.KnownRules + 1 }), nil), nil, "row 1: unknown rule", stored},
		{"mode out of range", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Mode = 9 }), nil), nil, "row 1: tap", stored},
		{"entry stop not a code", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { copy(r.EntryStop[:], "a,b") }), nil), nil, "row 1: entry stop is not a valid code", stored},
		{"padded varint", 3, 0, []transit.Day{fixture.Day}, paddedDay(), nil, "row 1: day", stored},
		{"a row past the rows", 4, 0, []transit.Day{fixture.Day}, rawOf(good, nil), nil, "row 3: tap", stored},
		{"rows past the body", 100, 0, []transit.Day{fixture.Day}, rawOf(good, nil), nil, "cannot hold", stored},
		{"bytes after the last reject", 3, 0, []transit.Day{fixture.Day}, append(rawOf(good, nil), 0), nil, "after the last reject", stored},
		{"reject string past the body", 0, 1, []transit.Day{settlement.Undated}, longRaw, nil, "reject 0: reject string runs past the body", stored},
		{"rejects past the body", 0, 2, []transit.Day{settlement.Undated}, append(rawOf(nil, undated), make([]byte, segRejMinSize-3)...), nil, "cannot hold", stored},
		{"reject truncated", 0, 2, []transit.Day{settlement.Undated}, append(rawOf(nil, long), make([]byte, segRejMinSize-1)...), nil, "reject 1: reject record truncated", stored},
		{"unknown codec", 3, 0, []transit.Day{fixture.Day}, rawOf(good, nil), patch(segOffCodec, func(b []byte) { b[0] = 2 }), "unknown body codec 2", stored},
		{"raw length", 3, 0, []transit.Day{fixture.Day}, rawOf(good, nil), patch(segOffRawLen, func(b []byte) { b[0]++ }), "stored body of", stored},
		{"raw length over the maximum", 3, 0, []transit.Day{fixture.Day}, rawOf(good, nil), patch(segOffRawLen, func(b []byte) { segLE.PutUint32(b, MaxSize+1) }), "at most", stored},
		// A compressed body.
		{"compressed raw length", 3, 0, []transit.Day{fixture.Day}, rawOf(good, nil), patch(segOffRawLen, func(b []byte) { b[0]++ }), "S2", s2Format},
		{"compressed status out of range", 3, 0, []transit.Day{fixture.Day}, rawOf(withRow(func(r *transit.Priced) { r.Status = transit.NumStatuses }), nil), nil, "row 1: status", s2Format},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := appendSegment(nil, tt.f, tt.rows, tt.rejs, tt.days, tt.raw)
			if tt.patch != nil {
				data = tt.patch(data)
			}
			se := wantSegmentError(t, tt.name, data)
			if !errors.Is(se, ErrCorrupt) || !strings.Contains(se.Error(), tt.want) {
				t.Fatalf("error %q, want ErrCorrupt containing %q", se, tt.want)
			}
		})
	}
}

// TestSegmentRejectFlags reaches the flags byte inside a compressed body.
func TestSegmentRejectFlags(t *testing.T) {
	raw := appendSegmentReject(nil, &transit.Reject{Source: "s"}, settlement.Undated)
	raw[segRejFlags] = 2
	data := appendSegment(nil, segFormat{segmentVersion, segCodecS2}, 0, 1, []transit.Day{settlement.Undated}, raw)
	se := wantSegmentError(t, "reject flags", data)
	if !se.Body || se.Offset != segRejFlags || !strings.Contains(se.Reason, "flags") {
		t.Fatalf("error %v (body %v, offset %d), want the flags byte in the body", se, se.Body, se.Offset)
	}
}

func TestSegmentCallbackError(t *testing.T) {
	data := (&segContent{fixture.Rows(), fixtureSegRejects(t)}).encode()
	stop := errors.New("stop")
	for _, at := range []string{"row", "reject"} {
		calls := 0
		_, err := Read(data,
			func(*transit.Priced) error {
				if calls++; at == "row" && calls == 3 {
					return stop
				}
				return nil
			},
			func(*transit.Reject, transit.Day, bool) error {
				if calls++; at == "reject" {
					return stop
				}
				return nil
			})
		if !errors.Is(err, stop) || errors.Is(err, ErrCorrupt) {
			t.Errorf("%s callback error: got %v", at, err)
		}
		if want := map[string]int{"row": 3, "reject": len(fixture.Rows()) + 1}[at]; calls != want {
			t.Errorf("%s: %d calls after the error, want %d", at, calls, want)
		}
	}
	// Nil callbacks skip their records.
	info, err := Read(data, nil, nil)
	if err != nil || info.Rows != len(fixture.Rows()) {
		t.Fatalf("nil callbacks: %+v, %v", info, err)
	}
}

func TestSegmentErrorText(t *testing.T) {
	f := func(e *Error, want string) {
		t.Helper()
		if got := e.Error(); got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	}
	f(segmentCorrupt(12, "bad %s", "thing"), "segment byte 12: bad thing")
	f(segmentBodyCorrupt(450, "row %d: status out of range", 2), "segment body byte 450: row 2: status out of range")
}

// TestSegmentReaderReuse reads segments of decreasing and increasing size
// with one Reader: each read gives exactly what Read gives,
// whatever the buffers hold from the segment before; a corrupt segment in
// between changes nothing after it.
func TestSegmentReaderReuse(t *testing.T) {
	rows := fixture.Rows()
	rejects := fixtureSegRejects(t)
	segs := [][]byte{
		(&segContent{rows: rows, rejects: rejects}).encode(),
		(&segContent{rows: rows[:1]}).encode(),
		(&segContent{rejects: rejects[:1]}).encode(),
		[]byte("not a segment"),
		(&segContent{rows: rows, rejects: rejects}).encode(),
	}
	var sr Reader
	for i, data := range segs {
		want, _, wantInfo, wantErr := readSegment(data)
		var got segContent
		info, err := sr.Read(data,
			func(p *transit.Priced) error { got.rows = append(got.rows, *p); return nil },
			func(r *transit.Reject, day transit.Day, _ bool) error {
				got.rejects = append(got.rejects, segRej{*r, day})
				return nil
			})
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("segment %d: error %v, Read's %v", i, err, wantErr)
		}
		if err != nil {
			continue
		}
		wantInfo.Sum = [32]byte{}
		if !got.equal(&want) || info.Rows != wantInfo.Rows || info.Rejects != wantInfo.Rejects || !slices.Equal(info.Days, wantInfo.Days) {
			t.Fatalf("segment %d: reused reader read %d rows, %d rejects (%+v); Read %d, %d (%+v)",
				i, len(got.rows), len(got.rejects), info, len(want.rows), len(want.rejects), wantInfo)
		}
	}
}

// TestSegmentChunks: a segment larger than several of the builder's chunks
// encodes, by Encode and by WriteTo, to exactly the file appendSegment
// makes of the same records laid end to end, in every format; so does a
// smaller one built next in the same builder, and the file reads back.
func TestSegmentChunks(t *testing.T) {
	big := segContent{fixture.Synth(20000, 11), fixtureSegRejects(t)} // ~1.7 MB: five chunks
	small := segContent{rows: fixture.Synth(300, 12)}
	for _, f := range segFormats {
		t.Run(f.name, func(t *testing.T) {
			b := newBuilder(f.f)
			for _, c := range []segContent{big, small, big} {
				b.Reset()
				for rows := c.rows; len(rows) > 0; {
					k := min(777, len(rows))
					b.AddRows(rows[:k])
					rows = rows[k:]
				}
				for i := range c.rejects {
					b.AddReject(&c.rejects[i].r, c.rejects[i].day)
				}
				var raw []byte
				for i := range c.rows {
					raw = appendSegmentRow(raw, &c.rows[i])
				}
				raw = append(raw, appendRejects(c.rejects)...)
				want := appendSegment(nil, f.f, len(c.rows), len(c.rejects), b.Days(), raw)
				if b.Size() != len(raw) {
					t.Errorf("%d rows: Size = %d, the records are %d bytes", len(c.rows), b.Size(), len(raw))
				}
				if got := b.Encode(nil); !bytes.Equal(got, want) {
					t.Fatalf("%d rows: Encode differs from the records laid end to end", len(c.rows))
				}
				var buf bytes.Buffer
				n, err := b.WriteTo(&buf)
				if err != nil || n != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
					t.Fatalf("%d rows: WriteTo wrote %d bytes (%v), not Encode's %d", len(c.rows), n, err, len(want))
				}
				if got, _, _, err := readSegment(want); err != nil || !got.equal(&c) {
					t.Fatalf("%d rows: the segment reads back other records (%v)", len(c.rows), err)
				}
			}
		})
	}
}

// TestSegmentWriteToError: a failing writer's error comes back, after no
// more bytes than it took.
func TestSegmentWriteToError(t *testing.T) {
	c := segContent{fixture.Synth(5000, 13), nil}
	b := c.build()
	w := &failAfter{n: 100000}
	n, err := b.WriteTo(w)
	if !errors.Is(err, errFull) || n != 100000 {
		t.Fatalf("WriteTo = %d, %v; want 100000, %v", n, err, errFull)
	}
}

var errFull = errors.New("disk full")

// failAfter takes n bytes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errFull
	}
	f.n -= len(p)
	return len(p), nil
}
