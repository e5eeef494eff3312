package ingest

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/transit"
)

// result is everything a Reader produced from one input.
type result struct {
	taps    []transit.Tap
	rejects []transit.Reject
	stats   Stats
	format  Format
	comp    Compression
	err     error // from NewReader or the last Read (nil at a clean io.EOF)
}

// readAll decodes data completely with a new Reader, reading in batches
// of batch taps.
func readAll(tb testing.TB, name string, data []byte, opts Options, batch int) result {
	tb.Helper()
	return readWith(tb, nil, name, data, opts, batch)
}

// readWith is readAll on r, reset to data, when r is not nil: the fuzz
// targets reuse one Reader, as production code reading many files does,
// so an execution does not allocate megabytes of buffers.
func readWith(tb testing.TB, r *Reader, name string, data []byte, opts Options, batch int) result {
	tb.Helper()
	var res result
	opts.OnReject = func(rj transit.Reject) { res.rejects = append(res.rejects, rj) }
	var err error
	if r == nil {
		r, err = NewReader(name, bytes.NewReader(data), opts)
		if err != nil {
			res.err = err
			return res
		}
		defer r.Close()
	} else {
		opts.EnsureDefaults()
		r.opts = opts
		if err := r.Reset(name, bytes.NewReader(data)); err != nil {
			res.err = err
			return res
		}
	}
	res.format, res.comp = r.Format(), r.Compression()
	res.taps, res.err = readBatches(tb, r.Read, batch)
	res.stats = r.Stats()
	checkCounts(tb, res)
	return res
}

// readBatches calls read with a buffer of batch items until io.EOF or an
// error, holding each call to the Read contract, and returns what it read
// and the error (nil at io.EOF).
func readBatches[T any](tb testing.TB, read func([]T) (int, error), batch int) ([]T, error) {
	tb.Helper()
	var all []T
	buf := make([]T, batch)
	for {
		n, err := read(buf)
		if n < 0 || n > len(buf) {
			tb.Fatalf("Read returned n=%d for a buffer of %d", n, len(buf))
		}
		if n > 0 && err != nil {
			tb.Fatalf("Read returned n=%d with error %v", n, err)
		}
		all = append(all, buf[:n]...)
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
		if n == 0 {
			tb.Fatal("Read returned 0, nil")
		}
	}
}

// checkCounts checks the invariants every read must keep.
func checkCounts(tb testing.TB, res result) {
	tb.Helper()
	st := res.stats
	if st.Records != st.Taps+st.Rejected {
		tb.Fatalf("Records %d != Taps %d + Rejected %d", st.Records, st.Taps, st.Rejected)
	}
	if int(st.Taps) != len(res.taps) {
		tb.Fatalf("Stats.Taps = %d, but %d taps were returned", st.Taps, len(res.taps))
	}
	if res.rejects != nil && int(st.Rejected) != len(res.rejects) {
		tb.Fatalf("Stats.Rejected = %d, but OnReject saw %d", st.Rejected, len(res.rejects))
	}
	for _, rj := range res.rejects {
		if rj.Line < 1 || rj.Line > st.Lines {
			tb.Fatalf("reject line %d outside 1..%d", rj.Line, st.Lines)
		}
		if len(rj.Raw) > transit.MaxRejectRaw {
			tb.Fatalf("reject Raw has %d bytes", len(rj.Raw))
		}
	}
}

func zstdBytes(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBytes compresses with the standard library, so the reader is tested
// against an independent encoder.
func gzipBytes(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	gw.Write(data)
	if err := gw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// mkTap builds a tap from schema-style strings, failing the test on any
// invalid value; it uses transit directly, not the code under test.
func mkTap(tb testing.TB, id, card string, p transit.Product, issuer, city transit.City, m transit.Mode,
	line, stop string, a transit.Action, when string, device string) transit.Tap {
	tb.Helper()
	var t transit.Tap
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(t.ID.Set([]byte(id)))
	must(t.Card.Set([]byte(card)))
	must(t.Line.Set([]byte(line)))
	must(t.Stop.Set([]byte(stop)))
	must(t.Device.Set([]byte(device)))
	tm, err := time.Parse(time.RFC3339Nano, when)
	must(err)
	_, off := tm.Zone()
	t.Time, t.Offset = tm.UnixNano(), int32(off)
	t.Product, t.Issuer, t.City, t.Mode, t.Action = p, issuer, city, m, a
	return t
}

const (
	nb = transit.City(330200)
	bj = transit.City(110100)
	gz = transit.City(440100)
	sh = transit.City(310100)
	sz = transit.City(440300)
)
