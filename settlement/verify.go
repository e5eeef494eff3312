package settlement

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Sentinels classifying a *VerifyError; test with errors.Is.
var (
	// ErrChecksum: a file's size or SHA-256 differs from the manifest, or
	// the manifest's self-hash from its content.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrFormat: a file cannot be decompressed or parsed, or is not in the
	// exact form the writer produces.
	ErrFormat = errors.New("malformed file")
	// ErrMismatch: a count, sum or hash disagrees with its recomputation
	// or with another file.
	ErrMismatch = errors.New("totals disagree")
	// ErrMissing: a file the manifest lists is absent, or a file is
	// present that it does not list.
	ErrMissing = errors.New("missing or unlisted file")
)

// VerifyError names the first file and record that Verify found wrong.
type VerifyError struct {
	// File is the path of the file, as reached from Verify's argument.
	File string
	// Record is the 1-based line of the record that disagrees (the line
	// where it starts), or 0 when the problem is not one record's.
	Record int
	// Reason says what disagrees.
	Reason string
	// Err is one of ErrChecksum, ErrFormat, ErrMismatch, ErrMissing.
	Err error
}

// Error formats the error as "file:record: kind: reason".
func (e *VerifyError) Error() string {
	if e.Record > 0 {
		return fmt.Sprintf("%s:%d: %v: %s", e.File, e.Record, e.Err, e.Reason)
	}
	return fmt.Sprintf("%s: %v: %s", e.File, e.Err, e.Reason)
}

// Unwrap returns the sentinel classifying the error.
func (e *VerifyError) Unwrap() error { return e.Err }

// Verify checks a day folder written by WriteDay, or every day folder
// (YYYY-MM-DD or "undated") in a root, in name order. It recomputes the
// manifest's self-hash and every file's size and SHA-256; decompresses and
// parses every file in its exact written form; recomputes each clearing
// file's controls and entry hashes; checks the summary's bilateral totals
// against the clearing files, its net positions against the bilateral
// totals and their sum against zero, Records against the status counts,
// every figure against MaxFigure, and its malformed count against the
// rejects file's records, exactly; the producer and policy fingerprint of
// every clearing file against the summary's; and, when the ledger is
// present, every count and total against the
// ledger rows and every clearing batch against the ledger's rows of that
// pair and mode. It returns nil, a *VerifyError naming the first file and
// record that disagree, or an error reading the folder.
func Verify(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
		return verifyDay(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("verify %s: %w", dir, err)
	}
	days := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := ParseDirName(e.Name()); err != nil {
			continue
		}
		days++
		if err := verifyDay(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	if days == 0 {
		return &VerifyError{File: dir, Reason: "neither a day folder (no " + ManifestName + ") nor a root holding day folders", Err: ErrMissing}
	}
	return nil
}

// fileErr builds a *VerifyError, turning a *RecordError into its line.
func fileErr(file string, kind error, err error) *VerifyError {
	var re *RecordError
	if errors.As(err, &re) {
		if errors.Is(re, ErrMismatch) {
			kind = ErrMismatch
		}
		return &VerifyError{File: file, Record: int(re.Line), Reason: (&RecordError{Field: re.Field, Reason: re.Reason}).Error(), Err: kind}
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve
	}
	if errors.Is(err, fs.ErrNotExist) {
		kind = ErrMissing
	}
	return &VerifyError{File: file, Reason: err.Error(), Err: kind}
}
