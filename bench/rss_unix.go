//go:build darwin || ios || linux || freebsd || netbsd || openbsd || dragonfly

package bench

import (
	"os"
	"syscall"
)

// peakRSS returns the peak resident set size, in bytes, of the process st
// describes (its rusage's maxrss, in the platform's maxrssUnit).
func peakRSS(st *os.ProcessState) (int64, bool) {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil || ru.Maxrss <= 0 {
		return 0, false
	}
	return int64(ru.Maxrss) * maxrssUnit, true
}
