// Package chunked provides Vec, an append-only vector stored in fixed-size
// chunks.
//
// Why chunks rather than one growing slice: an element never moves once
// pushed, so pointers returned by At stay valid while the vector grows,
// and growing never copies what the vector holds. A slice that reaches
// millions of elements (a day's tap_id log in a batch job) would copy them
// all again at every doubling, in non-preemptible copies the garbage
// collector has to wait for.
package chunked

import "github.com/tapsettle/tapsettle/internal/pages"

// Shift sets the chunk size: a chunk holds 1<<Shift elements.
const Shift = 10

// Vec is an append-only vector in chunks of 1<<Shift elements. The zero
// Vec is empty and ready to use.
type Vec[T any] struct {
	chunks [][]T
	n      int
	slab   pages.Slab[T] // fresh memory that new chunks are cut from
}

// Push appends v and returns its index.
func (c *Vec[T]) Push(v *T) int {
	i := c.n
	if i>>Shift == len(c.chunks) {
		// The slabs start at one chunk and double (pages.Slab), so a
		// small vector holds little populated memory unused.
		c.chunks = append(c.chunks, c.slab.Cut(1<<Shift, 1<<Shift))
	}
	c.chunks[i>>Shift][i&(1<<Shift-1)] = *v
	c.n++
	return i
}

// At returns element i, which must be < Len(). The pointer stays valid
// for the vector's life, across Push and Reset.
func (c *Vec[T]) At(i int) *T { return &c.chunks[i>>Shift][i&(1<<Shift-1)] }

// Len returns the number of elements.
func (c *Vec[T]) Len() int { return c.n }

// Cap returns how many elements the chunks allocated so far hold.
func (c *Vec[T]) Cap() int { return len(c.chunks) << Shift }

// Reset empties the vector, keeping its chunks for reuse.
func (c *Vec[T]) Reset() { c.n = 0 }

// Truncate keeps the first n elements, n <= Len(), and their chunks; the
// rest are reused by later Pushes. A caller that filters a vector in place
// (At(j) = *At(i) for j <= i) truncates it to what it kept.
func (c *Vec[T]) Truncate(n int) {
	if n < 0 || n > c.n {
		panic("chunked: Truncate beyond the vector's length")
	}
	c.n = n
}
