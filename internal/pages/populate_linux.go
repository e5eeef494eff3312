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

// populate maps the whole pages inside [p, p+size) for writing, asking
// for huge pages first when size is at least hugeMin. Memory already
// mapped (a heap span being reused) costs only the calls.
func populate(p unsafe.Pointer, size uintptr) {
	if unsupported.Load() {
		return
	}
	b := span(p, size, uintptr(pageSize))
	if len(b) == 0 {
		return
	}
	if h := span(p, size, hugePage); size >= hugeMin && len(h) > 0 {
		// Before populating, so the kernel maps huge pages from the
		// start. Refused where THP is off or absent: small pages then.
		_ = unix.Madvise(h, unix.MADV_HUGEPAGE)
	}
	if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err == unix.EINVAL || err == unix.ENOSYS {
		unsupported.Store(true)
	}
}

// span returns the whole units of align (a power of two) inside
// [p, p+size), empty when there are none.
func span(p unsafe.Pointer, size, align uintptr) []byte {
	start := (uintptr(p) + align - 1) &^ (align - 1)
	end := (uintptr(p) + size) &^ (align - 1)
	if end <= start {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start)
}
