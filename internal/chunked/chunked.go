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

import (
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/tapsettle/tapsettle/internal/pages"
)

// Shift sets the chunk size of a vector cut from slabs: a chunk holds
// 1<<Shift elements. One drawing on pages.Blocks (UseBlocks) holds what a
// block does, a power of two.
const Shift = 10

// Vec is an append-only vector in chunks of 1<<Shift elements (or of a
// block's, see UseBlocks). The zero Vec is empty and ready to use.
type Vec[T any] struct {
	chunks [][]T
	n      int
	shift  uint          // log2 of a chunk's elements, set with the first chunk
	slab   pages.Slab[T] // fresh memory that new chunks are cut from
	blocks *pages.Blocks // or where chunks come from, when set
}

// UseBlocks makes the vector take its chunks from p, and give them back
// to it on Release: a vector of a goroutine that owns p, of elements
// without pointers (pages.View). It must be called before the first Push.
func (c *Vec[T]) UseBlocks(p *pages.Blocks) {
	if len(c.chunks) > 0 {
		panic("chunked: UseBlocks on a vector that has chunks")
	}
	// The largest power of two of elements a block holds, two at least
	// (a shift of 0 is the zero vector's).
	per := pages.BlockSize / unsafe.Sizeof(*new(T))
	if per < 2 {
		panic(fmt.Sprintf("chunked: a %d-byte block holds fewer than two %T", pages.BlockSize, *new(T)))
	}
	c.blocks = p
	c.shift = uint(bits.Len(uint(per))) - 1
}

// Push appends v and returns its index.
func (c *Vec[T]) Push(v *T) int {
	i := c.n
	if i>>c.shift == len(c.chunks) { // always so for the first (shift 0)
		if c.shift == 0 {
			c.shift = Shift
		}
		c.chunks = append(c.chunks, c.chunk())
	}
	c.chunks[i>>c.shift][i&(1<<c.shift-1)] = *v
	c.n++
	return i
}

// chunk returns a new chunk of 1<<c.shift elements.
func (c *Vec[T]) chunk() []T {
	if c.blocks != nil {
		return pages.View[T](c.blocks.Get())[: 1<<c.shift : 1<<c.shift]
	}
	// The slabs start at one chunk and double (pages.Slab), so a small
	// vector holds little populated memory unused.
	return c.slab.Cut(1<<Shift, 1<<Shift)
}

// At returns element i, which must be < Len(). The pointer stays valid
// for the vector's life, across Push and Reset, until Release.
func (c *Vec[T]) At(i int) *T { return &c.chunks[i>>c.shift][i&(1<<c.shift-1)] }

// Len returns the number of elements.
func (c *Vec[T]) Len() int { return c.n }

// Cap returns how many elements the chunks allocated so far hold.
func (c *Vec[T]) Cap() int { return len(c.chunks) << c.shift }

// Release empties the vector and gives its chunks back to its blocks
// (UseBlocks), for other vectors of the same blocks; without blocks they
// are left to the garbage collector. The vector keeps its blocks.
func (c *Vec[T]) Release() {
	if c.blocks != nil {
		for _, ch := range c.chunks {
			c.blocks.Put(pages.BlockOf(ch))
		}
	}
	clear(c.chunks)
	c.chunks, c.n = c.chunks[:0], 0
}

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
