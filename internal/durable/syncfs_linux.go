//go:build linux

package durable

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SyncFSReportsErrors says whether one syncfs(2) can replace an fsync per
// file. Since Linux 5.8, syncfs returns the write-back errors of the file
// system that happened after the descriptor it is given was opened;
// before, it returned 0 whatever write-back did, which proves nothing.
var SyncFSReportsErrors = kernelAtLeast(5, 8)

// SyncFS flushes the file systems holding the folders dirs (data, then
// metadata and the journal, then the device cache) with one syncfs(2) per
// file system, and returns the write-back errors of each since its folder
// was opened. Open the folders before writing the files they must cover.
// On a file system shared with other busy writers this also waits for
// their dirty data: one flush of everything instead of thousands of
// small ones, which is the better trade for a day of hundreds of files.
func SyncFS(dirs ...*os.File) error {
	done := make(map[uint64]bool, len(dirs))
	for _, d := range dirs {
		rc, err := d.SyscallConn()
		if err != nil {
			return fmt.Errorf("sync the file system of %s: %w", d.Name(), err)
		}
		var st unix.Stat_t
		var serr error
		cerr := rc.Control(func(fd uintptr) {
			if serr = unix.Fstat(int(fd), &st); serr != nil || done[uint64(st.Dev)] {
				return
			}
			serr = unix.Syncfs(int(fd))
		})
		if err := errors.Join(cerr, serr); err != nil {
			return fmt.Errorf("sync the file system of %s: %w", d.Name(), err)
		}
		done[uint64(st.Dev)] = true // Dev is 32 bits on some ports
	}
	return nil
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor; false when it cannot tell.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	maj, min, ok := parseRelease(unix.ByteSliceToString(u.Release[:]))
	return ok && (maj > major || maj == major && min >= minor)
}

// parseRelease reads the major and minor version at the start of a kernel
// release string such as "6.8.0-45-generic" or "5.10".
func parseRelease(s string) (major, minor int, ok bool) {
	num := func() (int, bool) {
		n, digits := 0, 0
		for ; digits < len(s) && s[digits] >= '0' && s[digits] <= '9'; digits++ {
			if n > 1<<20 {
				return 0, false
			}
			n = n*10 + int(s[digits]-'0')
		}
		s = s[digits:]
		return n, digits > 0
	}
	if major, ok = num(); !ok || len(s) == 0 || s[0] != '.' {
		return 0, 0, false
	}
	s = s[1:]
	if minor, ok = num(); !ok {
		return 0, 0, false
	}
	return major, minor, true
}
