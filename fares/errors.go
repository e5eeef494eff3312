package fares

import (
	"errors"
	"fmt"
)

// Sentinel errors say what is wrong with policy data; an [*Error] says where.
// Every *Error unwraps to exactly one of them, so callers (and tests) can
// classify problems with errors.Is.
var (
	// ErrSyntax: the file is not well-formed: YAML for policy files, CSV
	// for the data files (data/cities.csv, data/metro_cities.csv).
	ErrSyntax = errors.New("syntax error")
	// ErrUnknownKey: a mapping key the schema does not define. Unknown keys
	// are errors, not warnings, so a misspelt "max_uses" cannot silently
	// drop a limit.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey: a key given twice in one mapping.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrType: a value of the wrong YAML kind (a list where a number belongs).
	ErrType = errors.New("wrong type")
	// ErrMissing: a required key is absent.
	ErrMissing = errors.New("missing")
	// ErrRange: a number outside its allowed range, or out of order.
	ErrRange = errors.New("out of range")
	// ErrInvalid: a value that does not parse or breaks a rule of the schema.
	ErrInvalid = errors.New("invalid value")
	// ErrLabel: a source label that is neither "reported..." nor "ours...".
	ErrLabel = errors.New(`source must start with "reported" or "ours"`)
	// ErrUnknownCity: a city code that is not one of the participants.
	ErrUnknownCity = errors.New("unknown city")
	// ErrDuplicate: a second city file, version, line, station, rule or
	// name where one is allowed.
	ErrDuplicate = errors.New("duplicate")
	// ErrDisconnected: a metro network in which some station cannot be
	// reached from another, so no shortest-path fare exists.
	ErrDisconnected = errors.New("network not connected")
)

// Error is one problem in a policy or data file: the file, the 1-based line
// (from the YAML node, 0 when the problem concerns the whole file) and the
// key path, such as "versions[0].metro.ladder.steps[1].per_km".
type Error struct {
	File string
	Line int
	Key  string
	// Err is one of the sentinels above, possibly wrapped with detail.
	Err error
}

// Error formats the problem as "file:line: key: message".
func (e *Error) Error() string {
	switch {
	case e.Key == "" && e.Line == 0:
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	case e.Key == "":
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Key, e.Err)
}

// Unwrap returns the sentinel (with its detail).
func (e *Error) Unwrap() error { return e.Err }

// problems collects the errors of one load, so that Check and Load report
// every problem at once instead of stopping at the first.
type problems struct {
	errs []error
}

func (p *problems) add(file string, line int, key string, sentinel error, format string, args ...any) {
	err := sentinel
	if format != "" {
		err = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
	}
	p.errs = append(p.errs, &Error{File: file, Line: line, Key: key, Err: err})
}

func (p *problems) err() error { return errors.Join(p.errs...) }
