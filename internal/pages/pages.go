// Package pages allocates large slices with their memory already mapped.
//
// A process touching fresh memory takes a page fault per page. On
// virtual machines that back guest memory lazily (Firecracker, most cloud
// VMs) that fault is expensive, and the batch job, which holds a
// settlement day in memory, would spend much of its CPU time in the
// kernel faulting pages in one by one. Asking the kernel to populate a
// whole region at once (madvise MADV_POPULATE_WRITE, Linux 5.14) costs a
// fraction of that (figures in docs/performance.md).
//
// The largest allocations are also asked to be backed by transparent huge
// pages (madvise MADV_HUGEPAGE on their 2 MiB-aligned interior): under the
// kernel's common "madvise" setting the Go heap gets none unless asked,
// and on those machines a 2 MiB page costs a fraction of its 512 small
// ones to map, and a TLB entry instead of 512. Slab grows its slabs to
// hugeMin so that chunked storage gets them too.
package pages

import "unsafe"

// minPopulate is the smallest allocation worth a system call: below it
// the call costs more than the faults it saves, and small objects share
// spans that are usually mapped already.
const minPopulate = 64 << 10

// hugePage is the transparent huge page size of x86-64 and of arm64 with
// 4 KiB pages; hugeMin is the smallest allocation asked for huge pages,
// so that at least one whole aligned huge page lies inside it.
const (
	hugePage = 2 << 20
	hugeMin  = 2 * hugePage
)

// slabMax is the size, in bytes, that Slab's slabs grow to: twice
// hugeMin, so a slab's huge pages outweigh its unaligned ends, and small
// enough that the unused rest of a vector's last slab stays a few
// megabytes.
const slabMax = 2 * hugeMin

// Make returns make([]T, n) with its pages populated when the slice is
// large. It is make's drop-in for the big, long-lived buffers of the hot
// path; elsewhere plain make is better.
func Make[T any](n int) []T {
	s := make([]T, n)
	if size := uintptr(n) * unsafe.Sizeof(*new(T)); size >= minPopulate {
		populate(unsafe.Pointer(unsafe.SliceData(s)), size)
	}
	return s
}

// Grow returns s with room for at least n more elements, like
// slices.Grow, for buffers that grow to megabytes and are then reused: a
// new array at least doubles the capacity, its pages populated when it is
// large (see Make), and only s's elements are copied into it (slices.Grow
// appends n zeros first, copying megabytes of zeros into memory that is
// zeroed already).
func Grow[T any](s []T, n int) []T {
	if n < 0 {
		panic("pages.Grow: negative count")
	}
	if n <= cap(s)-len(s) {
		return s
	}
	g := Make[T](max(len(s)+n, 2*cap(s)))[:len(s)]
	copy(g, s)
	return g
}

// Append appends v to s like the built-in append, but when s is full it
// grows as Grow does (doubling), not by append's quarter steps for large
// slices: for lists that reach hundreds of thousands of elements, built one
// element at a time and then reused.
func Append[T any](s []T, v ...T) []T { return append(Grow(s, len(v)), v...) }

// Slab cuts fixed-size pieces out of large populated allocations (Make),
// one system call for many pieces: for chunked storage that grows a piece
// at a time. Each slab is at least twice the size of the one before, up
// to slabMax bytes (or the size asked, when larger), so that a store that
// grows large is cut from slabs backed by huge pages while a small one
// holds little unused. The zero Slab is empty.
type Slab[T any] struct {
	rest []T
	last int // elements in the latest slab
}

// Cut returns the next n elements (len and cap n, zeroed), first taking a
// fresh slab when fewer than n remain: of size elements or more (see
// Slab), a multiple of n.
func (s *Slab[T]) Cut(n, size int) []T {
	if n <= 0 {
		panic("pages.Slab.Cut: count not positive")
	}
	if len(s.rest) < n {
		grown := max(2*s.last, size, n)
		if most := max(slabMax/int(max(unsafe.Sizeof(*new(T)), 1)), size, n); grown > most {
			grown = most
		}
		s.last = grown / n * n
		s.rest = Make[T](s.last)
	}
	c := s.rest[:n:n]
	s.rest = s.rest[n:]
	return c
}
