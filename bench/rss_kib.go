//go:build linux || freebsd || netbsd || openbsd || dragonfly

package bench

import (
	"os"
	"syscall"
)

// peakRSS returns the peak resident set size, in bytes, of the process st
// describes (its rusage's maxrss, which these kernels give in KiB).
func peakRSS(st *os.ProcessState) (int64, bool) {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil || ru.Maxrss <= 0 {
		return 0, false
	}
	return int64(ru.Maxrss) * 1024, true
}
