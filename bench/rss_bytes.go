//go:build darwin || ios

package bench

import (
	"os"
	"syscall"
)

// peakRSS returns the peak resident set size, in bytes, of the process st
// describes (its rusage's maxrss, which Darwin gives in bytes).
func peakRSS(st *os.ProcessState) (int64, bool) {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil || ru.Maxrss <= 0 {
		return 0, false
	}
	return int64(ru.Maxrss), true
}
