package settlement

import (
	"fmt"
	"io"
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

// writeLedger writes the header and rows as a sequence of zstd frames
// (a valid zstd stream), compressing up to workers chunks at once.
func writeLedger(w io.Writer, rows []transit.Priced, workers int) error {
	return writeChunked(w, len(rows), ledgerChunkRows, workers, func(b []byte, lo, hi int) []byte {
		if lo == 0 {
			b = append(b, LedgerHeader...)
			b = append(b, '\n')
		}
		var day [10]byte
		var dayText []byte
		var dayOf transit.Day
		for i := lo; i < hi; i++ {
			r := &rows[i]
			if dayText == nil || r.Day != dayOf {
				dayOf, dayText = r.Day, appendDay(day[:0], r.Day)
			}
			b = appendLedgerRow(b, r, dayText)
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

// writeChunked formats items [0, n) in chunks of size, compresses each
// chunk as a frame on up to workers goroutines, and writes the frames in
// order. At least one frame is written, so an empty input still yields
// whatever format(nil, 0, 0) returns (the ledger's header).
func writeChunked(w io.Writer, n, size, workers int, format func(b []byte, lo, hi int) []byte) error {
	workers = max(1, workers)
	var pool sync.Pool // of *[]byte, buffers handed back by the writer loop
	buf := func() []byte {
		if p, ok := pool.Get().(*[]byte); ok {
			return (*p)[:0]
		}
		return nil
	}
	work := make(chan *chunkJob)
	order := make(chan *chunkJob, 2*workers) // bounds the chunks in flight
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range work {
				j.text = format(buf(), j.lo, j.hi)
				j.out = compress(buf(), j.text)
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
		pool.Put(&j.text)
		pool.Put(&j.out)
	}
	wg.Wait()
	if err != nil {
		return fmt.Errorf("write compressed chunks: %w", err)
	}
	return nil
}
