//go:build !amd64 && !arm64

package engine

// prefetch does nothing where no prefetch instruction is wired up.
func prefetch(uintptr) {}
