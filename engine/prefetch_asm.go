//go:build amd64 || arm64

package engine

// prefetch asks the CPU to bring the cache line at addr in, without
// waiting for it: unlike a load, it never stalls the instructions after
// it. addr need not be valid memory.
//
//go:noescape
func prefetch(addr uintptr)
