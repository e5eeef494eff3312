package engine

import "github.com/tapsettle/tapsettle/internal/pages"

// chunkShift sets the chunk size of chunked: 1024 elements.
const chunkShift = 10

// chunked is an append-only vector stored in fixed-size chunks. Unlike a
// slice it never copies what it holds to grow, which matters for the
// per-day logs that reach millions of entries in a batch job: a growing
// slice copies them again at every doubling, in non-preemptible copies
// the garbage collector has to wait for. reset keeps the chunks for reuse.
type chunked[T any] struct {
	chunks [][]T
	n      int
	slab   pages.Slab[T] // fresh memory that new chunks are cut from
}

// push appends v and returns its index.
func (c *chunked[T]) push(v *T) int {
	i := c.n
	if i>>chunkShift == len(c.chunks) {
		// Slabs grow with the vector (1, 2, ... slabChunks chunks), so a
		// small one never holds much populated memory unused.
		c.chunks = append(c.chunks, c.slab.Cut(1<<chunkShift, min(max(len(c.chunks), 1), slabChunks)<<chunkShift))
	}
	c.chunks[i>>chunkShift][i&(1<<chunkShift-1)] = *v
	c.n++
	return i
}

// at returns element i, which must be < len().
func (c *chunked[T]) at(i int) *T { return &c.chunks[i>>chunkShift][i&(1<<chunkShift-1)] }

func (c *chunked[T]) len() int { return c.n }

func (c *chunked[T]) reset() { c.n = 0 }
