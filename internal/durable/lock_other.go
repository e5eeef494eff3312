//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package durable

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// ErrLocked means another lock of this process holds the file.
var ErrLocked = errors.New("lock held")

// LocksAcrossProcesses reports whether Lock excludes other processes: not
// here, so a lock found free says nothing of another process.
const LocksAcrossProcesses = false

// Without flock the fallback excludes other locks of this process only;
// two processes on one folder are then unsafe. This is documented where
// it is used and acceptable for development platforms: tapsettle runs on
// Linux.
var (
	heldMu sync.Mutex
	held   = map[string]bool{}
)

// Lock takes an exclusive lock of path within this process (see above).
func Lock(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[abs] {
		return nil, ErrLocked
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	held[abs] = true
	return f, nil
}

// Unlock releases a lock taken by Lock.
func Unlock(f *os.File) error {
	heldMu.Lock()
	delete(held, f.Name())
	heldMu.Unlock()
	return f.Close()
}
