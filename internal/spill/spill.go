// Package spill keeps what a run cannot hold in memory on disk, for the
// time of the run: a private folder of run files, each a sequence of
// sections of records, compressed (S2) and checksummed (S2's CRC-32C of
// every block, and a record count that ends each section, so a truncated
// or damaged file is an error, never fewer records).
//
// A folder is removed when its owner closes it. One left by a run that
// died (killed, out of memory, the machine lost) is removed by the next
// Open in the same parent folder: each folder holds a lock file that its
// owner keeps locked (flock) while it lives, so a folder whose lock is free
// belongs to no one.
package spill

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tapsettle/tapsettle/internal/durable"
)

// Prefix starts the name of every spill folder; Open removes folders so
// named whose owner is gone.
const Prefix = "tapsettle-spill-"

// stagingPrefix names a folder while it is being set up: it is renamed to
// its Prefix name only once its lock is held, so a cleaner never sees a
// live folder without its lock.
const stagingPrefix = ".tapsettle-spill-new-"

// stagingGrace is how old an unlocked staging folder must be before Clean
// removes it: a new folder is unlocked for the moment between its creation
// and its lock.
const stagingGrace = time.Minute

const lockName = "lock"

// Dir is a spill folder owned by this process.
type Dir struct {
	path string
	lock *os.File
}

// Open removes the spill folders in parent that no live process owns (see
// Clean), then creates and locks a new one. parent "" is os.TempDir(). The
// caller must Close the folder.
func Open(parent string) (*Dir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return nil, fmt.Errorf("spill: create %s: %w", parent, err)
	}
	// Best effort: a leftover that cannot be removed (permissions) is no
	// reason to fail this run, which does not need the space back.
	_, _ = Clean(parent)
	staging, err := os.MkdirTemp(parent, stagingPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	lock, err := durable.Lock(filepath.Join(staging, lockName))
	if err != nil {
		os.RemoveAll(staging)
		return nil, fmt.Errorf("spill: lock %s: %w", staging, err)
	}
	path := filepath.Join(parent, Prefix+strings.TrimPrefix(filepath.Base(staging), stagingPrefix))
	if err := os.Rename(staging, path); err != nil {
		durable.Unlock(lock)
		os.RemoveAll(staging)
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &Dir{path: path, lock: lock}, nil
}

// Path returns the folder's path.
func (d *Dir) Path() string { return d.path }

// Close removes the folder and everything in it, then releases its lock.
// Readers of its files must be closed first.
func (d *Dir) Close() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.path)
	durable.Unlock(d.lock)
	d.lock = nil
	if err != nil {
		return fmt.Errorf("spill: remove %s: %w", d.path, err)
	}
	return nil
}

// Clean removes the spill folders in parent whose owner is gone, and
// returns how many it removed. Where locks do not exclude other processes
// (see durable.LocksAcrossProcesses) it removes nothing: a free lock would
// not mean a dead owner there.
func Clean(parent string) (int, error) {
	if !durable.LocksAcrossProcesses {
		return 0, nil
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0, fmt.Errorf("spill: list %s: %w", parent, err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		switch {
		case strings.HasPrefix(name, Prefix):
		case strings.HasPrefix(name, stagingPrefix):
			info, err := e.Info()
			if err != nil || time.Since(info.ModTime()) < stagingGrace {
				continue
			}
		default:
			continue
		}
		ok, err := removeIfFree(filepath.Join(parent, name))
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// removeIfFree removes the folder dir if it can take its lock: its owner
// is gone. The lock is held during the removal, so that two cleaners
// never remove one folder at once.
func removeIfFree(dir string) (bool, error) {
	lock, err := durable.Lock(filepath.Join(dir, lockName))
	switch {
	case errors.Is(err, durable.ErrLocked), errors.Is(err, fs.ErrNotExist):
		return false, nil // alive, or removed by another cleaner
	case err != nil:
		return false, fmt.Errorf("spill: lock %s: %w", dir, err)
	}
	defer durable.Unlock(lock)
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("spill: remove %s: %w", dir, err)
	}
	return true, nil
}
