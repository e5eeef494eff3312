package pages

import (
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// unsupported is set once the kernel refuses MADV_POPULATE_WRITE (before
// Linux 5.14): the pages then fault in on first use, as without this
// package.
var unsupported atomic.Bool

// pageSize is the kernel's page size: 4 KiB on x86-64, 4, 16 or 64 KiB on
// arm64. madvise needs a page-aligned start.
var pageSize = os.Getpagesize()

// populate maps the whole pages inside [p, p+size) for writing. Memory
// already mapped (a heap span being reused) costs only the call.
func populate(p unsafe.Pointer, size uintptr) {
	if unsupported.Load() {
		return
	}
	page := uintptr(pageSize)
	start := (uintptr(p) + page - 1) &^ (page - 1)
	end := (uintptr(p) + size) &^ (page - 1)
	if end <= start {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start)
	if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err == unix.EINVAL || err == unix.ENOSYS {
		unsupported.Store(true)
	}
}
