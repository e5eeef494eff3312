//go:build unix

package durable

import "os"

// SyncDir fsyncs a folder so that a rename, creation or removal inside it
// survives a crash. Its errors are those of os.Open and os.File.Sync,
// which name the folder.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
