package ingest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// benchTaps returns n realistic taps: UUID tap ids, 19-digit card numbers,
// a mix of bus boards and metro entries and exits in a few cities.
func benchTaps(tb testing.TB, n int) []transit.Tap {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	cities := []transit.City{330200, 110100, 310100, 440100, 440300, 330100}
	products := []transit.Product{transit.ProductStandard, transit.ProductJoinIn, transit.ProductStudent, transit.ProductSenior}
	taps := make([]transit.Tap, n)
	base := int64(1740787200) * 1e9 // 2025-03-01T00:00:00Z
	for i := range taps {
		t := &taps[i]
		u := rng.Uint64()
		v := rng.Uint64()
		t.ID.Set(fmt.Appendf(nil, "%08x-%04x-4%03x-a%03x-%012x", uint32(u), uint16(u>>32), uint16(u>>48)&0xfff, uint16(v)&0xfff, v>>16))
		t.Card.Set(fmt.Appendf(nil, "31020%014d", rng.Int64N(1e14)))
		t.Product = products[rng.IntN(len(products))]
		t.Issuer = cities[rng.IntN(len(cities))]
		t.City = cities[rng.IntN(len(cities))]
		t.Time = base + rng.Int64N(86400e9)
		if rng.IntN(4) == 0 {
			t.Time = t.Time / 1e9 * 1e9 // some whole seconds, most with fractions
		}
		t.Offset = 8 * 3600
		t.Device.Set(fmt.Appendf(nil, "dev-%05d", rng.IntN(100000)))
		if rng.IntN(10) < 6 {
			t.Mode, t.Action = transit.ModeBus, transit.ActionBoard
			t.Line.Set(fmt.Appendf(nil, "B%d", rng.IntN(900)))
		} else {
			t.Mode, t.Action = transit.ModeMetro, transit.ActionEntry+transit.Action(rng.IntN(2))
			l := rng.IntN(8) + 1
			t.Line.Set(fmt.Appendf(nil, "M%d", l))
			t.Stop.Set(fmt.Appendf(nil, "M%d-%02d", l, rng.IntN(30)))
		}
	}
	return taps
}

// benchData encodes n taps in format with the Writer.
func benchData(tb testing.TB, format Format, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, format)
	taps := benchTaps(tb, n)
	for i := range taps {
		if err := w.Write(&taps[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// benchRead measures Read per record: ns/op is ns per tap, MB/s is
// uncompressed throughput.
func benchRead(b *testing.B, format Format, comp Compression) {
	const n = 1 << 15
	data := benchData(b, format, n)
	in := data
	if comp == CompressionZstd {
		in = zstdBytes(b, data)
	}
	src := bytes.NewReader(in)
	r, err := NewReader("bench", src, Options{OnReject: func(rj transit.Reject) { b.Fatal(rj.Error()) }})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	buf := make([]transit.Tap, 256)
	b.SetBytes(int64(len(data) / n))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k, err := r.Read(buf[:min(len(buf), b.N-done)])
		done += k
		if err == io.EOF {
			src.Reset(in)
			if err := r.Reset("bench", src); err != nil {
				b.Fatal(err)
			}
		} else if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "taps/s")
}

func BenchmarkReadCSV(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchRead(b, FormatCSV, CompressionNone) })
	b.Run("zstd", func(b *testing.B) { benchRead(b, FormatCSV, CompressionZstd) })
}

func BenchmarkReadJSONL(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchRead(b, FormatJSONL, CompressionNone) })
	b.Run("zstd", func(b *testing.B) { benchRead(b, FormatJSONL, CompressionZstd) })
}

// BenchmarkDecodeJSON measures one stream message (JSONDecoder.Decode).
func BenchmarkDecodeJSON(b *testing.B) {
	taps := benchTaps(b, 1024)
	msgs := make([][]byte, len(taps))
	for i := range taps {
		msgs[i] = AppendJSON(nil, &taps[i])
	}
	var d JSONDecoder
	var t transit.Tap
	b.SetBytes(int64(len(msgs[0])))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if fe := d.Decode(msgs[i%len(msgs)], &t); fe != nil {
			b.Fatal(fe)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	taps := benchTaps(b, 1024)
	for _, format := range []Format{FormatCSV, FormatJSONL} {
		b.Run(format.String(), func(b *testing.B) {
			w := NewWriter(io.Discard, format)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := w.Write(&taps[i%len(taps)]); err != nil {
					b.Fatal(err)
				}
			}
			w.Flush()
		})
	}
}

func BenchmarkParseTime(b *testing.B) {
	in := []byte("2025-03-01T08:40:12.123456+08:00")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, e := parseTime(in); e != timeOK {
			b.Fatal(e)
		}
	}
}
