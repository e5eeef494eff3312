package settlement

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// tempPrefix starts the names of files being written; WriteDay removes
// leftovers of interrupted runs, and Verify refuses them.
const tempPrefix = ".tmp-"

// fileOut writes files atomically: each is staged under a temporary name
// in its target's folder, made durable, then renamed over the target, so a
// reader sees the old file or the new one, never a part, and after a crash
// a file under its final name is complete. The folders are synced by
// syncDir once their renames are done.
//
// A staged file is made durable in one of two ways. With syncEach, stage
// fsyncs it before closing it (WriteDay's workers do this for many files
// at once). Otherwise the caller makes every staged file durable with one
// syncFS before renaming any: a day has up to ~340 files, and one flush of the
// file system costs about what a single fsync does.
type fileOut struct {
	// sync makes files and folders durable; off for WriteOptions.SkipSync.
	sync bool
	// syncEach fsyncs every staged file; off where the caller uses syncFS.
	syncEach bool
	mode     os.FileMode
}

// staged is a complete file under its temporary name.
type staged struct {
	tmp, path string
}

// stage writes what fill writes to a new temporary file beside path and
// closes it, returning its size and SHA-256. On error the temporary file is
// removed.
func (o fileOut) stage(path string, fill func(w io.Writer) error) (s staged, size int64, sum [32]byte, err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, tempPrefix+base+"-*")
	if err != nil {
		return s, 0, sum, fmt.Errorf("cannot create %s: %w", path, err)
	}
	s = staged{tmp: f.Name(), path: path}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(s.tmp)
			s = staged{}
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err = fill(cw); err != nil {
		return s, 0, sum, fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err = f.Chmod(o.mode); err != nil {
		return s, 0, sum, fmt.Errorf("cannot set the mode of %s: %w", path, err)
	}
	if o.sync && o.syncEach {
		if err = f.Sync(); err != nil {
			return s, 0, sum, fmt.Errorf("cannot sync %s: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return s, 0, sum, fmt.Errorf("cannot close %s: %w", path, err)
	}
	h.Sum(sum[:0])
	return s, cw.n, sum, nil
}

// commit renames the staged file into place. Call it only once the file
// is durable.
func (s staged) commit() error {
	if err := os.Rename(s.tmp, s.path); err != nil {
		return fmt.Errorf("cannot rename %s into place: %w", s.path, err)
	}
	return nil
}

// discard removes the temporary file of a staged file never committed.
func (s staged) discard() {
	if s.tmp != "" {
		os.Remove(s.tmp)
	}
}

// write creates path alone: staged, fsynced (whatever syncEach says) and
// renamed into place. It is durable once its folder is synced.
func (o fileOut) write(path string, fill func(w io.Writer) error) (size int64, sum [32]byte, err error) {
	o.syncEach = true
	s, size, sum, err := o.stage(path, fill)
	if err != nil {
		return 0, sum, err
	}
	if err := s.commit(); err != nil {
		s.discard()
		return 0, sum, err
	}
	return size, sum, nil
}

// mkdirAll creates dir and its missing parents and syncs the parent of
// each folder it creates: a new folder's entry is data of its parent, and
// without the sync a crash could lose the folder with the files that were
// made durable in it.
func (o fileOut) mkdirAll(dir string, perm os.FileMode) error {
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
		if err := o.syncDir(filepath.Dir(d)); err != nil {
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

// syncDir makes the renames and removals in dir durable.
func (o fileOut) syncDir(dir string) error {
	if !o.sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync %s: %w", dir, err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteFile writes data to path atomically (a temporary file beside it,
// fsynced, renamed into place, the folder synced), creating the folder
// durably if needed (see mkdirAll), and returns the file's SHA-256. With
// sync false it skips the syncs (tests only). The stream writes its
// segments and parts with it.
func WriteFile(path string, data []byte, sync bool) ([32]byte, error) {
	return writeFileFunc(path, sync, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileFrom is WriteFile for a file that src writes, such as a segment
// a SegmentBuilder writes from its buffers without assembling it first.
func WriteFileFrom(path string, src io.WriterTo, sync bool) ([32]byte, error) {
	return writeFileFunc(path, sync, func(w io.Writer) error {
		_, err := src.WriteTo(w)
		return err
	})
}

func writeFileFunc(path string, sync bool, fill func(io.Writer) error) ([32]byte, error) {
	o := fileOut{sync: sync, mode: 0o640}
	if err := o.mkdirAll(filepath.Dir(path), 0o755); err != nil {
		return [32]byte{}, err
	}
	_, sum, err := o.write(path, fill)
	if err != nil {
		return sum, err
	}
	return sum, o.syncDir(filepath.Dir(path))
}
