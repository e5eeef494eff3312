//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package durable

import (
	"errors"
	"os"
	"syscall"
)

// ErrLocked means another open file description holds the lock.
var ErrLocked = errors.New("lock held")

// LocksAcrossProcesses reports whether Lock excludes other processes (it
// does here, with flock), so that a lock found free means its owner is
// gone.
const LocksAcrossProcesses = true

// Lock opens path and takes an exclusive, non-blocking flock on it. The
// lock belongs to the open file description: a second open in the same
// process conflicts like another process would, and the kernel drops the
// lock when the process dies, so a killed owner never blocks its successor.
func Lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
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
			return nil, ErrLocked
		}
		return nil, err
	}
	return f, nil
}

// Unlock releases the lock by closing its file.
func Unlock(f *os.File) error { return f.Close() }
