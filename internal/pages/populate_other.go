//go:build !linux

package pages

import "unsafe"

// populate does nothing where madvise(MADV_POPULATE_WRITE) does not exist.
func populate(unsafe.Pointer, uintptr) {}
