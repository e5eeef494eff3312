//go:build !unix

package state

// syncDir is a no-op where folders cannot be opened for fsync (Windows makes
// renames durable through the file system journal instead).
func syncDir(string) error { return nil }
