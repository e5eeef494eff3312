package settlement

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// tempPrefix starts the names of files being written; WriteDay removes
// leftovers of interrupted runs, and Verify refuses them.
const tempPrefix = ".tmp-"

// fileOut writes files atomically: a temporary file in the target's
// folder, fsync, rename over the target. A reader sees the old file or the
// new one, never a part. The folder itself is synced by syncDir once its
// renames are done.
type fileOut struct {
	sync bool
	mode os.FileMode
}

// write creates path with what fill writes and returns its size and
// SHA-256.
func (o fileOut) write(path string, fill func(w io.Writer) error) (size int64, sum [32]byte, err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, tempPrefix+base+"-*")
	if err != nil {
		return 0, sum, fmt.Errorf("cannot create %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err = fill(cw); err != nil {
		return 0, sum, fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err = f.Chmod(o.mode); err != nil {
		return 0, sum, fmt.Errorf("cannot set the mode of %s: %w", path, err)
	}
	if o.sync {
		if err = f.Sync(); err != nil {
			return 0, sum, fmt.Errorf("cannot sync %s: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return 0, sum, fmt.Errorf("cannot close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return 0, sum, fmt.Errorf("cannot rename %s into place: %w", path, err)
	}
	h.Sum(sum[:0])
	return cw.n, sum, nil
}

// syncDir makes the renames in dir durable.
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
