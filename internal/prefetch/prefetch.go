// Package prefetch asks the CPU for memory ahead of its use. The engine's
// hot path is a few random reads per tap (a card's state, its open
// journey, a fare matrix cell) in tables larger than the caches; naming
// them a few taps, or a few steps, before they are read overlaps their
// misses with other work instead of stalling on each in turn.
package prefetch

// lineSize is the cache line size of the machines we run on (amd64 and
// arm64 servers); a wrong guess costs a redundant or a missing hint,
// nothing else.
const lineSize = 64

// Bytes prefetches every cache line of the n bytes at addr.
func Bytes(addr, n uintptr) {
	first, lines := span(addr, n)
	for i := range lines {
		Line(first + uintptr(i)*lineSize)
	}
}

// span returns the first cache line of the n bytes at addr and how many
// lines they touch.
func span(addr, n uintptr) (first uintptr, lines int) {
	if n == 0 {
		return addr &^ (lineSize - 1), 0
	}
	first = addr &^ (lineSize - 1)
	last := (addr + n - 1) &^ (lineSize - 1)
	return first, int((last-first)/lineSize) + 1
}
