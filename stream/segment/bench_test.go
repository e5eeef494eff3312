package segment

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/transit"
)

// segBenchRows are synthRows with a device on every row and, when uuid is
// set, random UUIDs as tap identifiers (the worst case for compression;
// the generator's identifiers are sequential).
func segBenchRows(n int, uuid bool) []transit.Priced {
	rows := fixture.Synth(n, 11)
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range rows {
		rows[i].Device = fixture.ID[transit.DeviceID](fmt.Sprintf("V-%05d", rng.IntN(3000)))
		if uuid {
			rows[i].ID = fixture.ID[transit.TapID](fmt.Sprintf("%08x-%04x-%04x-%04x-%012x",
				rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&(1<<48-1)))
		}
	}
	return rows
}

type segBenchCase struct {
	name string
	rows []transit.Priced
}

func segBenchCases() []segBenchCase {
	var cs []segBenchCase
	for _, uuid := range []bool{false, true} {
		for _, n := range []int{1024, 16384} {
			ids := "seq"
			if uuid {
				ids = "uuid"
			}
			cs = append(cs, segBenchCase{fmt.Sprintf("ids=%s/rows=%d", ids, n), segBenchRows(n, uuid)})
		}
	}
	return cs
}

func reportPerRow(b *testing.B, rows int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
}

// BenchmarkSegmentEncode measures a checkpoint in each format: AddRows,
// Encode into the previous segment's buffer, Reset. MB/s counts the row
// records before any compression; raw/row is their size and B/row the
// file's size per row.
func BenchmarkSegmentEncode(b *testing.B) {
	for _, f := range segFormats {
		for _, c := range segBenchCases() {
			b.Run(f.name+"/"+c.name, func(b *testing.B) {
				sb := newBuilder(f.f)
				sb.AddRows(c.rows)
				dst := sb.Encode(nil) // size the buffers: the steady state is measured
				b.SetBytes(int64(sb.Size()))
				b.ReportAllocs()
				for b.Loop() {
					sb.Reset()
					sb.AddRows(c.rows)
					dst = sb.Encode(dst[:0])
				}
				reportPerRow(b, len(c.rows))
				b.ReportMetric(float64(sb.Size())/float64(len(c.rows)), "raw/row")
				b.ReportMetric(float64(len(dst))/float64(len(c.rows)), "B/row")
			})
		}
	}
}

// BenchmarkSegmentFirst measures a partition's first segment, the one
// that sizes the builder's buffers: a new builder, 200,000 rows (a
// checkpoint at the default cadence) in the engine's batches of 1024, then
// WriteTo, as the stream writes it. B/op is the memory the first segment
// takes.
func BenchmarkSegmentFirst(b *testing.B) {
	rows := segBenchRows(200_000, false)
	b.ReportAllocs()
	for b.Loop() {
		var sb Builder
		for i := 0; i < len(rows); i += 1024 {
			sb.AddRows(rows[i:min(i+1024, len(rows))])
		}
		if _, err := sb.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRow(b, len(rows))
}

// BenchmarkSegmentAddRows measures the part of encoding that runs as rows
// are priced: laying them out in the builder's buffer.
func BenchmarkSegmentAddRows(b *testing.B) {
	rows := segBenchRows(1024, false)
	for _, f := range segFormats[1:] { // v2-stored lays rows out as v2-s2 does
		b.Run(f.name, func(b *testing.B) {
			sb := newBuilder(f.f)
			sb.AddRows(rows)
			b.SetBytes(int64(sb.Size()))
			b.ReportAllocs()
			for b.Loop() {
				sb.Reset()
				sb.AddRows(rows)
			}
			reportPerRow(b, len(rows))
		})
	}
}

// BenchmarkSegmentDecode measures Read in each format with a
// callback that takes each row. MB/s counts row records after any
// decompression. The allocations are per segment (the body and the
// rejects), not per row.
func BenchmarkSegmentDecode(b *testing.B) {
	for _, f := range segFormats {
		for _, c := range segBenchCases() {
			b.Run(f.name+"/"+c.name, func(b *testing.B) {
				sb := newBuilder(f.f)
				sb.AddRows(c.rows)
				data := sb.Encode(nil)
				var sum transit.Fen
				b.SetBytes(int64(sb.Size()))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Read(data, func(p *transit.Priced) error { sum += p.Charged; return nil }, nil); err != nil {
						b.Fatal(err)
					}
				}
				reportPerRow(b, len(c.rows))
			})
		}
	}
}

// BenchmarkSegmentCodec compresses the same segment body (version 2 rows)
// with the candidates of klauspost/compress, the measurement behind the
// choice of S2 for compressed segments (docs/segment-format.md).
func BenchmarkSegmentCodec(b *testing.B) {
	zfast, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	codecs := []struct {
		name string
		enc  func(dst, src []byte) []byte
	}{
		{"s2", func(dst, src []byte) []byte { return s2.Encode(dst[:cap(dst)], src) }},
		{"s2-better", func(dst, src []byte) []byte { return s2.EncodeBetter(dst[:cap(dst)], src) }},
		{"zstd-fastest", func(dst, src []byte) []byte { return zfast.EncodeAll(src, dst[:0]) }},
	}
	for _, c := range segBenchCases() {
		var sb Builder
		sb.AddRows(c.rows)
		raw := sb.flatBody()
		for _, codec := range codecs {
			b.Run(c.name+"/"+codec.name, func(b *testing.B) {
				dst := make([]byte, 0, s2.MaxEncodedLen(len(raw)))
				var out []byte
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					out = codec.enc(dst, raw)
				}
				reportPerRow(b, len(c.rows))
				b.ReportMetric(float64(len(out))/float64(len(c.rows)), "B/row")
			})
		}
	}
}
