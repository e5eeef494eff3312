//go:build !amd64 && !arm64

package prefetch

// Line does nothing where no prefetch instruction is wired up.
func Line(uintptr) {}
