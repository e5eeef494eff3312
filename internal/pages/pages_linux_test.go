package pages

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestMakePopulates checks that a large slice from Make is resident before
// it is touched, and a small one is left to fault in as usual.
func TestMakePopulates(t *testing.T) {
	big := Make[[64]byte](1 << 15) // 2 MiB
	if unsupported.Load() {
		t.Skip("this kernel has no madvise(MADV_POPULATE_WRITE) (Linux 5.14): Make is plain make here")
	}
	if got := resident(t, big); got < 0.95 {
		t.Errorf("a 2 MiB slice from Make has %.0f%% of its pages resident, want nearly all", got*100)
	}
	for i := range big {
		if big[i] != [64]byte{} {
			t.Fatalf("element %d is not zero", i)
		}
	}
	big[len(big)-1][63] = 1 // writable
}

// resident returns the share of s's whole pages that are resident.
func resident[T any](t *testing.T, s []T) float64 {
	t.Helper()
	page := uintptr(pageSize)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	size := uintptr(len(s)) * unsafe.Sizeof(*new(T))
	start := (p + page - 1) &^ (page - 1)
	end := (p + size) &^ (page - 1)
	vec := make([]byte, (end-start)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec))
}
