//go:build !linux

package settlement

import (
	"errors"
	"os"
)

// syncfsReportsErrors is false where there is no syncfs(2): every file is
// then fsynced on its own (concurrently, by WriteDay's workers).
const syncfsReportsErrors = false

// syncFS is never called where syncfsReportsErrors is false.
func syncFS(...*os.File) error {
	return errors.New("syncfs is not available on this system")
}
