package settlement

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/tapsettle/tapsettle/transit"
)

// ledgerChunkRows is the number of rows per zstd frame of the ledger.
// Frames are compressed independently, so workers can compress chunks in
// parallel; the split depends only on the row count, so the bytes are the
// same whatever the number of workers. 32768 rows are ~8 MiB of text: big
// enough that a frame boundary costs nothing measurable in ratio, small
// enough that a few chunks in flight keep memory modest.
const ledgerChunkRows = 32768

// ledgerRowBytes is room enough for a typical ledger row (~200 bytes:
// ids, codes, two RFC 3339 times, amounts, rule names). A chunk's buffer
// is grown to it once, rather than doubled a dozen times while the rows
// are appended; a longer row still fits, at the cost of one growth.
const ledgerRowBytes = 256

// writeLedger writes the header and rows as a sequence of zstd frames
// (a valid zstd stream), compressing up to workers chunks at once.
func writeLedger(w io.Writer, rows []transit.Priced, workers int) error {
	return writeChunked(w, len(rows), ledgerChunkRows, workers, func(b []byte, lo, hi int) []byte {
		b = slices.Grow(b, (hi-lo)*ledgerRowBytes+len(LedgerHeader)+1)
		if lo == 0 {
			b = append(b, LedgerHeader...)
			b = append(b, '\n')
		}
		var f ledgerFormat
		for i := lo; i < hi; i++ {
			b = f.append(b, &rows[i])
		}
		return b
	})
}

// chunkJob is one chunk on its way through writeChunked.
type chunkJob struct {
	lo, hi int
	text   []byte
	out    []byte
	done   chan struct{}
}

// chunkBufs holds the text and frame buffers of writeChunked across
// calls: a 300,000-row ledger passes ~60 MiB of text through a handful of
// multi-MiB buffers, which would otherwise be allocated, grown and zeroed
// anew for every day written. A worker takes a chunk's two buffers; the
// writer loop puts them back once the frame is written, and nothing keeps
// a reference after that.
var chunkBufs bufPool

// writeChunked formats items [0, n) in chunks of size, compresses each
// chunk as a frame on up to workers goroutines, and writes the frames in
// order. At least one frame is written, so an empty input still yields
// whatever format(nil, 0, 0) returns (the ledger's header).
func writeChunked(w io.Writer, n, size, workers int, format func(b []byte, lo, hi int) []byte) error {
	workers = max(1, workers)
	work := make(chan *chunkJob)
	order := make(chan *chunkJob, 2*workers) // bounds the chunks in flight
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range work {
				j.text = format(chunkBufs.get(), j.lo, j.hi)
				j.out = compress(chunkBufs.get(), j.text)
				close(j.done)
			}
		})
	}
	go func() {
		defer close(order)
		defer close(work)
		for lo := 0; lo == 0 || lo < n; lo += size {
			j := &chunkJob{lo: lo, hi: min(n, lo+size), done: make(chan struct{})}
			select {
			case order <- j:
			case <-stop:
				return
			}
			work <- j
		}
	}()
	var err error
	for j := range order {
		<-j.done
		if err == nil {
			if _, werr := w.Write(j.out); werr != nil {
				err = werr
				close(stop)
			}
		}
		chunkBufs.put(j.text)
		chunkBufs.put(j.out)
	}
	wg.Wait()
	if err != nil {
		return fmt.Errorf("write compressed chunks: %w", err)
	}
	return nil
}
