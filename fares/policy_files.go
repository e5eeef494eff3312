package fares

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// policyDir resolves a policy directory once, for policyFile to decide
// which symbolic links stay inside it.
type policyDir struct {
	dir  string // as given, for file names in messages
	real string // with every symbolic link resolved
}

func openPolicyDir(dir string) (*policyDir, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("fare policy directory: %w", err)
	}
	return &policyDir{dir: dir, real: real}, nil
}

// read returns the content of the directory entry e, a policy file. A
// symbolic link is followed only to a regular file inside the directory
// (a Kubernetes ConfigMap volume links each key to ..data/KEY): a link
// that leads elsewhere, to /etc/shadow or an environment file say, is not
// read at all, so that no problem report can show its content. It
// returns (nil, problem, nil) for an entry refused that way, or an I/O
// error.
func (d *policyDir) read(e fs.DirEntry) (data []byte, problem *Error, err error) {
	name := filepath.Join(d.dir, e.Name())
	if e.Type()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(name)
		if err != nil {
			return nil, &Error{File: name, Err: fmt.Errorf("%w: a symbolic link that cannot be followed: %v", ErrInvalid, err)}, nil
		}
		rel, err := filepath.Rel(d.real, target)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			return nil, &Error{File: name, Err: fmt.Errorf("%w: a symbolic link to %s, outside the policy directory: not read (links are followed only within it)", ErrInvalid, target)}, nil
		}
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, nil, fmt.Errorf("fare policy directory: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: name, Err: fmt.Errorf("%w: not a regular file (%v)", ErrInvalid, fi.Mode().Type())}, nil
	}
	data, err = os.ReadFile(name)
	if err != nil {
		return nil, nil, fmt.Errorf("fare policy directory: %w", err)
	}
	return data, nil, nil
}

// maxShownKey bounds a mapping key that a problem report shows.
const maxShownKey = 40

// shownKey is how a problem report names a mapping key of a policy file:
// the key itself when it looks like one (letters, digits, '_', '-', at
// most 40 of them), otherwise only its length. A "policy file" may be
// something else (a password file, an environment file), whose lines YAML
// reads as keys; the report must not show them.
func shownKey(k string) string {
	if k != "" && utf8.RuneCountInString(k) <= maxShownKey && strings.IndexFunc(k, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-')
	}) < 0 {
		return k
	}
	return fmt.Sprintf("<a key of %d bytes that is not a name>", len(k))
}
