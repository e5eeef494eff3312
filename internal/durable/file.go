// Package durable writes files so that they survive a crash: atomically
// (a temporary file beside the target, made durable, renamed over it) and
// with the fsyncs of files and folders that make the result durable.
// Package settlement writes a day's files with it, package state its logs
// and package stream its segments, parts and cycles.
package durable

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the names of files being written; settlement.WriteDay
// removes leftovers of interrupted runs, and settlement.Verify refuses them.
const TempPrefix = ".tmp-"

// Writer writes files atomically: each is staged under a temporary name
// in its target's folder, made durable, then renamed over the target, so a
// reader sees the old file or the new one, never a part, and after a crash
// a file under its final name is complete. The folders are synced by
// SyncDir once their renames are done.
//
// A staged file is made durable in one of two ways. With SyncEach, Stage
// fsyncs it before closing it (settlement.WriteDay's workers do this for
// many files at once). Otherwise the caller makes every staged file
// durable with one SyncFS before renaming any: one flush of the file
// system costs about what a single fsync does.
type Writer struct {
	// Sync makes files and folders durable; off, nothing is synced
	// (tests, and callers that opt out).
	Sync bool
	// SyncEach fsyncs every staged file; off where the caller uses SyncFS.
	SyncEach bool
	// Mode is the permission of the files written.
	Mode os.FileMode
}

// Staged is a complete file under its temporary name.
type Staged struct {
	tmp, path string
}

// Stage writes what fill writes to a new temporary file beside path and
// closes it, returning its size and SHA-256. On error the temporary file is
// removed.
func (o Writer) Stage(path string, fill func(w io.Writer) error) (s Staged, size int64, sum [32]byte, err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, TempPrefix+base+"-*")
	if err != nil {
		return s, 0, sum, fmt.Errorf("create %s: %w", path, err)
	}
	s = Staged{tmp: f.Name(), path: path}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(s.tmp)
			s = Staged{}
		}
	}()
	h := sha256.New()
	cw := &CountWriter{W: io.MultiWriter(f, h)}
	if err = fill(cw); err != nil {
		return s, 0, sum, fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(o.Mode); err != nil {
		return s, 0, sum, fmt.Errorf("set the mode of %s: %w", path, err)
	}
	if o.Sync && o.SyncEach {
		if err = f.Sync(); err != nil {
			return s, 0, sum, fmt.Errorf("sync %s: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return s, 0, sum, fmt.Errorf("close %s: %w", path, err)
	}
	h.Sum(sum[:0])
	return s, cw.N, sum, nil
}

// Commit renames the staged file into place. Call it only once the file
// is durable.
func (s Staged) Commit() error {
	if err := os.Rename(s.tmp, s.path); err != nil {
		return fmt.Errorf("rename %s into place: %w", s.path, err)
	}
	return nil
}

// Discard removes the temporary file of a staged file never committed.
func (s Staged) Discard() {
	if s.tmp != "" {
		os.Remove(s.tmp)
	}
}

// Write creates path alone: staged, fsynced (whatever SyncEach says) and
// renamed into place. It is durable once its folder is synced.
func (o Writer) Write(path string, fill func(w io.Writer) error) (size int64, sum [32]byte, err error) {
	o.SyncEach = true
	s, size, sum, err := o.Stage(path, fill)
	if err != nil {
		return 0, sum, err
	}
	if err := s.Commit(); err != nil {
		s.Discard()
		return 0, sum, err
	}
	return size, sum, nil
}

// MkdirAll creates dir and its missing parents and syncs the parent of
// each folder it creates: a new folder's entry is data of its parent, and
// without the sync a crash could lose the folder with the files that were
// made durable in it.
func (o Writer) MkdirAll(dir string, perm os.FileMode) error {
	missing, err := missingDirs(dir)
	if err != nil {
		return err
	}
	// Even when nothing is missing: MkdirAll is what says that a path
	// in the way is a file, not a folder.
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for _, d := range missing {
		if err := o.SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// missingDirs returns dir and those of its parents that do not exist,
// deepest first.
func missingDirs(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			return missing, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			return missing, nil
		}
	}
}

// SyncDir makes the renames and removals in dir durable, unless o.Sync is
// off.
func (o Writer) SyncDir(dir string) error {
	if !o.Sync {
		return nil
	}
	return SyncDir(dir)
}

// CountWriter writes to W and counts the bytes written in N: the size of
// a file written through a compressor, or an offset into it.
type CountWriter struct {
	W io.Writer
	N int64
}

// Write writes p to W and adds what it wrote to N.
func (c *CountWriter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}

// WriteFile writes data to path atomically (a temporary file beside it,
// fsynced, renamed into place, the folder synced), creating the folder
// durably if needed (see Writer.MkdirAll), and returns the file's SHA-256.
// With sync false it skips the syncs (tests only).
func WriteFile(path string, data []byte, sync bool) ([32]byte, error) {
	return writeFileFunc(path, sync, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileFrom is WriteFile for a file that src writes, such as a segment
// a segment.Builder writes from its buffers without assembling it first.
func WriteFileFrom(path string, src io.WriterTo, sync bool) ([32]byte, error) {
	return writeFileFunc(path, sync, func(w io.Writer) error {
		_, err := src.WriteTo(w)
		return err
	})
}

func writeFileFunc(path string, sync bool, fill func(io.Writer) error) ([32]byte, error) {
	o := Writer{Sync: sync, Mode: 0o640}
	if err := o.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return [32]byte{}, err
	}
	_, sum, err := o.Write(path, fill)
	if err != nil {
		return sum, err
	}
	return sum, o.SyncDir(filepath.Dir(path))
}
