//go:build !linux

package durable

import (
	"errors"
	"os"
)

// SyncFSReportsErrors is false where there is no syncfs(2): every file is
// then fsynced on its own (concurrently, by settlement.WriteDay's workers).
const SyncFSReportsErrors = false

// SyncFS is never called where SyncFSReportsErrors is false.
func SyncFS(...*os.File) error {
	return errors.New("syncfs is not available on this system")
}
