//go:build darwin || ios

package bench

// maxrssUnit is the unit of rusage's maxrss on Darwin: bytes.
const maxrssUnit = 1
