//go:build !unix

package durable

// SyncDir is a no-op where folders cannot be opened for fsync (Windows makes
// renames durable through the file system journal instead).
func SyncDir(string) error { return nil }
