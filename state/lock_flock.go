//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

import (
	"errors"
	"os"
	"syscall"
)

// errLockHeld means another open file description holds the lock.
var errLockHeld = errors.New("lock held")

// lockFile opens path and takes an exclusive, non-blocking flock on it. The
// lock belongs to the open file description: a second open in the same
// process conflicts like another process would, and the kernel drops the
// lock when the process dies, so a killed owner never blocks its successor.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLockHeld
		}
		return nil, err
	}
	return f, nil
}

// unlockFile releases the lock by closing its file.
func unlockFile(f *os.File) error { return f.Close() }
