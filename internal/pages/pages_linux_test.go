package pages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
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

// TestMakeHugePages checks that a slice from Make of hugeMin or more is
// backed by transparent huge pages where the kernel offers them on
// request, and that one below hugeMin is not asked for them.
func TestMakeHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(mode, []byte("[never]")) {
		t.Skipf("transparent huge pages are off or absent here (%q, %v): Make cannot get them", mode, err)
	}
	big := Make[byte](4 * hugeMin)
	if unsupported.Load() {
		t.Skip("this kernel has no madvise(MADV_POPULATE_WRITE) (Linux 5.14): Make is plain make here")
	}
	if got := hugeBytes(t, big); got < 2*hugePage {
		t.Errorf("a %d MiB slice from Make lies in mappings with %d KiB of huge pages, want at least %d", len(big)>>20, got>>10, 2*hugePage>>10)
	}
	if bytes.Contains(mode, []byte("[always]")) {
		return // every mapping may have them
	}
	small := Make[byte](hugeMin - pageSize)
	if got := hugeBytes(t, small); got != 0 {
		t.Errorf("a slice below hugeMin from Make lies in mappings with %d KiB of huge pages, want none", got>>10)
	}
}

// hugeBytes returns the anonymous huge page bytes of the mappings of
// /proc/self/smaps that overlap s.
func hugeBytes(t *testing.T, s []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	lo := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(s))))
	hi := lo + uint64(len(s))
	total, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var start, end uint64
		if n, _ := fmt.Sscanf(line, "%x-%x ", &start, &end); n == 2 {
			in = start < hi && lo < end
			continue
		}
		var kb int
		if in {
			if n, _ := fmt.Sscanf(line, "AnonHugePages: %d kB", &kb); n == 1 {
				total += kb << 10
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}
