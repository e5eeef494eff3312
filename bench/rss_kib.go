//go:build linux || freebsd || netbsd || openbsd || dragonfly

package bench

// maxrssUnit is the unit of rusage's maxrss on these kernels: KiB.
const maxrssUnit = 1024
