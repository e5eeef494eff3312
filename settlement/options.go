package settlement

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/tapsettle/tapsettle/internal/buildinfo"
	"github.com/tapsettle/tapsettle/transit"
)

// Undated is the pseudo-day of malformed records whose time could not be
// parsed. It sorts before every real day and is written to root/undated/.
const Undated transit.Day = math.MinInt32

// UndatedName is the folder and manifest name of [Undated].
const UndatedName = "undated"

// DirName returns the folder name of a settlement day: "YYYY-MM-DD", or
// "undated" for [Undated].
func DirName(d transit.Day) string {
	if d == Undated {
		return UndatedName
	}
	return d.String()
}

// ParseDirName is the inverse of [DirName].
func ParseDirName(s string) (transit.Day, error) {
	if s == UndatedName {
		return Undated, nil
	}
	d, ok := parseDay([]byte(s))
	if !ok {
		return 0, fmt.Errorf("day folder %q: want YYYY-MM-DD or %q", s, UndatedName)
	}
	return d, nil
}

// Options configures a [Collector].
type Options struct {
	// Participants are the clearing members, sorted by code without
	// duplicates. Every member gets a net position each day, zero included.
	Participants []transit.Participant
	// Shards is the number of engine shards that call Emit, numbered
	// 0..Shards-1. Default: 1.
	Shards int
	// Calendar places malformed records in their settlement day by
	// Reject.Time. Nil sends every reject to [Undated].
	Calendar *transit.Calendar
	// Ledger keeps every row for the ledger file. Otherwise only the
	// interregional clearing rows (those the clearing files list) are kept,
	// and the other rows are only counted and summed.
	Ledger bool
	// RejectBuffer bounds, in bytes, the malformed records held in memory
	// (estimated: the record and its strings). Beyond it they are sorted
	// into runs in a spill folder under SpillDir and merged when the day's
	// rejects file is written, so a file of nothing but malformed lines
	// settles in bounded memory; the output is the same either way.
	// Default: DefaultRejectBuffer.
	RejectBuffer int
	// RowBuffer bounds, in bytes, the rows held in memory for the files
	// (every row with Ledger, else the interregional clearing rows), a
	// shard's share each: a shard beyond its share sorts its rows into
	// runs in the spill folder, merged when the day's files are written
	// (row_spill.go); the files are the same either way. 0 holds every
	// row.
	RowBuffer int
	// SpillDir is the folder in which the collector makes its spill folder
	// (see package internal/spill: removed by Collector.Close, and by the
	// next run after a crash). Default: os.TempDir(); where that is a
	// memory file system (tmpfs), name a folder on disk.
	SpillDir string
}

// ErrOptions is wrapped by the errors of Options.Validate and
// WriteOptions.Validate.
var ErrOptions = errors.New("invalid settlement options")

// Validate reports the first problem with o, naming the field.
func (o *Options) Validate() error {
	if o.Shards < 0 {
		return fmt.Errorf("settlement: Shards %d is negative: %w", o.Shards, ErrOptions)
	}
	if o.RowBuffer < 0 {
		return fmt.Errorf("settlement: RowBuffer %d is negative: %w", o.RowBuffer, ErrOptions)
	}
	if o.RejectBuffer < 0 {
		return fmt.Errorf("settlement: RejectBuffer %d is negative: %w", o.RejectBuffer, ErrOptions)
	}
	for i, p := range o.Participants {
		if !p.Code.Valid() {
			return fmt.Errorf("settlement: Participants[%d]: %v: %w: %w", i, p.Code, transit.ErrCityCode, ErrOptions)
		}
		if i > 0 && o.Participants[i-1].Code >= p.Code {
			return fmt.Errorf("settlement: Participants[%d]: %v is not after %v: want sorted unique codes: %w", i, p.Code, o.Participants[i-1].Code, ErrOptions)
		}
	}
	return nil
}

func (o *Options) shards() int {
	if o.Shards == 0 {
		return 1
	}
	return o.Shards
}

func (o *Options) rejectBuffer() int {
	if o.RejectBuffer == 0 {
		return DefaultRejectBuffer
	}
	return o.RejectBuffer
}

// WriteOptions configures [WriteDay].
type WriteOptions struct {
	// Ledger writes ledger.csv.zst; the Day must then hold every row (it was
	// collected with Options.Ledger).
	Ledger bool
	// PolicyFingerprint identifies the fare policy that priced the day; it
	// is recorded in the summary and in every clearing file header. At most
	// 128 bytes of printable ASCII without spaces or '|'.
	PolicyFingerprint string
	// Policies lists the fare books that priced the day when there were
	// several, as PolicySet returns them, for the summary; PolicyFingerprint
	// must then be PolicySet's fingerprint of them. Empty for a day priced
	// by one book.
	Policies []PolicyUse
	// Producer names the build that writes the files, recorded in the
	// summary and in every clearing file header (see
	// buildinfo.Info.Producer for its form). Default: the running
	// build's, so one build always writes the same bytes.
	Producer string
	// Concurrency bounds the files written at once and the workers that
	// compress the ledger. Writing a file is compressing it and a few
	// system calls, and where there is no syncfs (see WriteDay) also
	// waiting for its fsync, so it pays to exceed the core count.
	// Default: max(4, 2*GOMAXPROCS).
	Concurrency int
	// SkipSync skips every fsync and syncfs. Only for tests, benchmarks
	// and scratch output: after a crash the files may be truncated (Verify
	// then fails, so nothing wrong is ever accepted).
	SkipSync bool
	// FileMode is the permission of written files. Clearing files and the
	// ledger hold card numbers, so the default keeps them from other users.
	// Default: 0640.
	FileMode uint32

	// failAt, set by tests only, is called at each writeStep of writeDay:
	// an error from it stops the write there, as a crash would.
	failAt func(writeStep) error
}

// fault calls o.failAt, if set, at step.
func (o *WriteOptions) fault(step writeStep) error {
	if o.failAt == nil {
		return nil
	}
	return o.failAt(step)
}

// maxFingerprint bounds PolicyFingerprint: a hash in hex (64) with a name
// and a version fits comfortably.
const maxFingerprint = 128

// Validate reports the first problem with o, naming the field.
func (o *WriteOptions) Validate() error {
	if len(o.PolicyFingerprint) > maxFingerprint {
		return fmt.Errorf("settlement: PolicyFingerprint is %d bytes, at most %d: %w", len(o.PolicyFingerprint), maxFingerprint, ErrOptions)
	}
	if !validFingerprint(o.PolicyFingerprint) {
		return fmt.Errorf("settlement: PolicyFingerprint %q: printable ASCII without spaces, '|', '\"' or '\\': %w", o.PolicyFingerprint, ErrOptions)
	}
	if len(o.Policies) > 0 {
		if fp, set := PolicySet(o.Policies); !slices.Equal(set, o.Policies) || fp != o.PolicyFingerprint {
			return fmt.Errorf("settlement: Policies of %d books with PolicyFingerprint %q: want two books or more, as PolicySet returns them, and its fingerprint: %w", len(o.Policies), o.PolicyFingerprint, ErrOptions)
		}
	}
	if o.Producer != "" && !buildinfo.ValidProducer(o.Producer) {
		return fmt.Errorf("settlement: Producer %q: 1 to 128 bytes of printable ASCII without spaces, '|', '\"' or '\\': %w", o.Producer, ErrOptions)
	}
	if o.Concurrency < 0 {
		return fmt.Errorf("settlement: Concurrency %d is negative: %w", o.Concurrency, ErrOptions)
	}
	if o.FileMode&^0o777 != 0 {
		return fmt.Errorf("settlement: FileMode %#o: permission bits only: %w", o.FileMode, ErrOptions)
	}
	return nil
}

func (o *WriteOptions) concurrency() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return max(4, 2*runtime.GOMAXPROCS(0))
}

// producer is the Producer the files record.
func (o *WriteOptions) producer() string {
	if o.Producer == "" {
		return buildinfo.Read().Producer()
	}
	return o.Producer
}

func (o *WriteOptions) fileMode() uint32 {
	if o.FileMode == 0 {
		return 0o640
	}
	return o.FileMode
}
