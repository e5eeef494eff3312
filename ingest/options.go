package ingest

import (
	"fmt"

	"github.com/tapsettle/tapsettle/transit"
)

// DefaultMaxLine is the default bound on a line's length. A tap record is
// about 150 bytes; 64 KiB leaves room for wide extra columns while keeping
// one corrupt, newline-free stretch of a file from being buffered whole.
const DefaultMaxLine = 64 << 10

// maxMaxLine caps Options.MaxLine: the read buffer is sized to hold a whole
// line.
const maxMaxLine = 64 << 20

// Options configures a Reader. The zero value reads with the defaults.
type Options struct {
	// Format forces the record format. Default: FormatAuto, which looks at
	// the first byte that is not blank (after an optional UTF-8 byte order
	// mark): '{' means JSON lines, anything else CSV with a header row.
	Format Format
	// OnReject receives every malformed record, synchronously from Read,
	// in input order. The Reject's strings are its own and may be kept.
	// Default: nil, which counts rejects in Stats and drops them; callers
	// that settle money should quarantine them instead.
	OnReject func(transit.Reject)
	// MaxLine is the longest line, in bytes without its terminator, that
	// is decoded; a longer one is rejected whole and reading goes on with
	// the next line. Default: DefaultMaxLine (64 KiB). At most 64 MiB.
	MaxLine int
}

// EnsureDefaults replaces zero values with the defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxLine == 0 {
		o.MaxLine = DefaultMaxLine
	}
}

// Validate reports an option out of range, naming it.
func (o *Options) Validate() error {
	if o.Format > FormatJSONL {
		return fmt.Errorf("ingest: Options.Format: unknown format %d", o.Format)
	}
	if o.MaxLine < 0 || o.MaxLine > maxMaxLine {
		return fmt.Errorf("ingest: Options.MaxLine: %d out of range [1, %d]", o.MaxLine, maxMaxLine)
	}
	return nil
}

// Stats counts what a Reader has read. Records == Taps + Rejected always
// holds: every record ends up as exactly one of the two.
type Stats struct {
	// Lines is the number of physical lines read, header and blank lines
	// included.
	Lines int64
	// Records is the number of data records: lines that are not blank,
	// less the CSV header.
	Records int64
	// Taps is the number of records decoded into taps.
	Taps int64
	// Rejected is the number of records reported to OnReject.
	Rejected int64
	// Bytes is the number of uncompressed bytes read, terminators, header
	// and byte order mark included.
	Bytes int64
}
