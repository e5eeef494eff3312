package settlement

import "github.com/tapsettle/tapsettle/transit"

// A row store keeps copies of rows in chunks of at most chunkRows. Growing
// by chunks rather than by doubling one slice means a day of tens of
// millions of rows is never copied to grow, the allocation is amortised
// over thousands of rows (nothing per row in steady state), and no chunk is
// large enough to strain the allocator. 4096 rows of ~230 bytes are about
// 1 MiB.
const (
	chunkShift = 12
	chunkRows  = 1 << chunkShift
	// firstChunk is the capacity of a store's first chunk: a quiet
	// shard-day (a late tap of yesterday) costs little. Later chunks
	// double up to chunkRows.
	firstChunk = 64
)

type rowStore struct {
	chunks [][]transit.Priced
	n      int
}

func (s *rowStore) add(r *transit.Priced) {
	last := len(s.chunks) - 1
	if last < 0 || len(s.chunks[last]) == cap(s.chunks[last]) {
		s.chunks = append(s.chunks, make([]transit.Priced, 0, min(chunkRows, max(firstChunk, s.n))))
		last++
	}
	s.chunks[last] = append(s.chunks[last], *r)
	s.n++
}
