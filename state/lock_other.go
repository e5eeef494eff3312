//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package state

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// errLockHeld means another Store value in this process holds the lock.
var errLockHeld = errors.New("lock held")

// Without flock the fallback excludes other Store values of this process
// only; running two processes on one state directory is then unsafe. This
// is documented on Local and acceptable for development platforms: the
// service runs on Linux.
var (
	heldMu sync.Mutex
	held   = map[string]bool{}
)

func lockFile(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[abs] {
		return nil, errLockHeld
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, err
	}
	held[abs] = true
	return f, nil
}

func unlockFile(f *os.File) error {
	heldMu.Lock()
	delete(held, f.Name())
	heldMu.Unlock()
	return f.Close()
}
