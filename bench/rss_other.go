//go:build !(linux || freebsd || netbsd || openbsd || dragonfly || darwin || ios)

package bench

import "os"

// peakRSS reports no peak resident set size: this platform's process
// state carries none that this package knows the unit of.
func peakRSS(*os.ProcessState) (int64, bool) { return 0, false }
