//go:build amd64 || arm64

package prefetch

// Line asks the CPU to bring the cache line at addr in, without waiting
// for it: unlike a load, it never stalls the instructions after it. addr
// need not be valid memory.
//
//go:noescape
func Line(addr uintptr)
