package settlement

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"unsafe"

	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// A hostile or broken input can be nothing but malformed records: a
// million 1,000-byte lines, or twenty million lines of one byte. A
// Collector therefore holds at most Options.RejectBuffer bytes of rejects;
// beyond it, it sorts what it holds, day by day, into a run in a spill
// folder (see package internal/spill), and the day's rejects file is the
// k-way merge of its runs. The merge yields the order sortRejects gives
// (CompareRejects, a total order), so the file is the same whether the
// rejects were spilled or not.

// DefaultRejectBuffer is the default of Options.RejectBuffer: enough for
// some 30,000 rejects of 1 KiB (Raw's bound) or 200,000 short ones per
// run, so a million malformed records make a few dozen runs.
const DefaultRejectBuffer = 32 << 20

// rejectFanIn bounds the runs merged at once, and so the readers open at
// once (each holds two 64 KiB S2 blocks): when a day's newest runs are
// rejectFanIn runs of one level, they are merged into one run of the next
// level, so a day has at most (rejectFanIn-1) runs per level.
const rejectFanIn = 64

// rejectOverhead is what a buffered reject costs besides its strings: the
// struct, twice, since append grows the buffer by doubling.
const rejectOverhead = 2 * int(unsafe.Sizeof(transit.Reject{}))

// rejectSize estimates the memory a buffered reject holds. Source, Field
// and Reason are often shared between rejects; counting them anyway errs
// on the side of spilling early.
func rejectSize(r *transit.Reject) int {
	return rejectOverhead + len(r.Source) + len(r.Field) + len(r.Reason) + len(r.Raw)
}

// dayRejects is what a Collector holds of one day's rejects.
type dayRejects struct {
	buf  []transit.Reject // not sorted
	runs []rejectRun      // sorted runs on disk, oldest first; levels never increase along it
	n    int64            // rejects in runs
	lost int64            // counted but not kept: a spill failed (see Collector.spillErr)
}

// rejectRun is one sorted run of a day's rejects: a section of a spill
// file.
type rejectRun struct {
	sec   spill.Section
	file  *runFile
	level int
}

// runFile counts the runs a Collector still holds in one spill file, so
// that a file whose runs were all merged into others is removed at once.
// Runs handed to a Day are no longer counted: their files stay until the
// Collector is closed.
type runFile struct {
	path string
	refs int
}

// release drops one reference, removing the file with the last.
func (f *runFile) release() {
	if f.refs--; f.refs == 0 {
		os.Remove(f.path)
	}
}

// rejectSet is a day's rejects once some were spilled: sorted runs on disk
// and sorted slices in memory, merged when read.
type rejectSet struct {
	mem  [][]transit.Reject
	runs []rejectRun
	n    int64
}

// walk calls fn with every reject of the set in CompareRejects order. The
// reject is valid until fn returns.
func (s *rejectSet) walk(fn func(*transit.Reject) error) error {
	secs := make([]spill.Section, len(s.runs))
	for i, r := range s.runs {
		secs[i] = r.sec
	}
	m, err := spill.NewMerge(CompareRejects, decodeRejectRecord, s.mem, secs)
	if err != nil {
		return err
	}
	defer m.Close()
	for {
		r, ok, err := m.Next()
		if err != nil || !ok {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

// A spilled reject is its fields in order: Source, Field, Reason and Raw
// as a uvarint length and the bytes, Line and Time as varints, HasTime as
// one byte. Every field is kept, Time too, so a merge orders the records
// exactly as sortRejects would.
func appendRejectRecord(b []byte, r *transit.Reject) []byte {
	b = appendString(b, r.Source)
	b = binary.AppendVarint(b, r.Line)
	b = appendString(b, r.Field)
	b = appendString(b, r.Reason)
	b = appendString(b, r.Raw)
	if r.HasTime {
		b = append(b, 1)
		return binary.AppendVarint(b, r.Time)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errRejectRecord = errors.New("malformed spilled reject")

// decodeRejectRecord decodes rec into r. Source, Field and Reason are
// usually those of the previous record read into r (one input, one
// fault): when the bytes are equal, r's strings are kept rather than
// allocated again.
func decodeRejectRecord(rec []byte, r *transit.Reject) error {
	var ok bool
	if rec, ok = decodeString(rec, &r.Source, true); !ok {
		return errRejectRecord
	}
	line, n := binary.Varint(rec)
	if n <= 0 {
		return errRejectRecord
	}
	r.Line, rec = line, rec[n:]
	for _, s := range []*string{&r.Field, &r.Reason} {
		if rec, ok = decodeString(rec, s, true); !ok {
			return errRejectRecord
		}
	}
	if rec, ok = decodeString(rec, &r.Raw, false); !ok || len(rec) == 0 {
		return errRejectRecord
	}
	r.HasTime, r.Time = false, 0
	switch rec[0] {
	case 0:
		rec = rec[1:]
	case 1:
		t, n := binary.Varint(rec[1:])
		if n <= 0 {
			return errRejectRecord
		}
		r.HasTime, r.Time, rec = true, t, rec[1+n:]
	default:
		return errRejectRecord
	}
	if len(rec) != 0 {
		return errRejectRecord
	}
	return nil
}

func decodeString(rec []byte, s *string, reuse bool) ([]byte, bool) {
	n, k := binary.Uvarint(rec)
	if k <= 0 || n > uint64(len(rec)-k) {
		return rec, false
	}
	b := rec[k : k+int(n)]
	if !reuse || *s != string(b) { // the comparison does not allocate
		*s = string(b)
	}
	return rec[k+int(n):], true
}

// spillLocked writes every buffered reject to disk: one new spill file,
// in it one sorted run per day. c.mu is held.
func (c *Collector) spillLocked() error {
	if c.spill == nil {
		d, err := spill.Open(c.opts.SpillDir)
		if err != nil {
			return err
		}
		c.spill = d
	}
	f, err := c.spill.Create()
	if err != nil {
		return err
	}
	// The writer holds a reference of its own until the file is
	// closed: a merge below may release every run written so far.
	file := &runFile{path: f.Name(), refs: 1}
	defer func() {
		f.Close()
		file.release()
	}()
	days := make([]transit.Day, 0, len(c.rejects))
	for d, dr := range c.rejects {
		if len(dr.buf) > 0 {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	var rec []byte
	for _, d := range days {
		dr := c.rejects[d]
		sortRejects(dr.buf)
		for i := range dr.buf {
			rec = appendRejectRecord(rec[:0], &dr.buf[i])
			if err := f.Append(rec); err != nil {
				return err
			}
		}
		sec, err := f.EndSection()
		if err != nil {
			return err
		}
		file.refs++
		dr.runs = append(dr.runs, rejectRun{sec: sec, file: file})
		dr.n += int64(len(dr.buf))
		// The buffer is kept for the next rejects (growing it again
		// would clear as much memory again): its strings go, its room
		// stays, within what RejectBuffer counted.
		clear(dr.buf)
		dr.buf = dr.buf[:0]
	}
	c.rejBytes = 0
	for _, d := range days {
		dr := c.rejects[d]
		for len(dr.runs) >= rejectFanIn {
			tail := dr.runs[len(dr.runs)-rejectFanIn:]
			if tail[0].level != tail[len(tail)-1].level {
				break
			}
			run, err := c.mergeRunsLocked(tail, tail[0].level+1)
			if err != nil {
				return err
			}
			dr.runs = append(dr.runs[:len(dr.runs)-rejectFanIn], run)
		}
	}
	return nil
}

// mergeRunsLocked merges runs into one new run of the given level and
// releases them. c.mu is held.
func (c *Collector) mergeRunsLocked(runs []rejectRun, level int) (rejectRun, error) {
	f, err := c.spill.Create()
	if err != nil {
		return rejectRun{}, err
	}
	defer f.Close()
	set := rejectSet{runs: runs}
	var rec []byte
	if err := set.walk(func(r *transit.Reject) error {
		rec = appendRejectRecord(rec[:0], r)
		return f.Append(rec)
	}); err != nil {
		os.Remove(f.Name())
		return rejectRun{}, err
	}
	sec, err := f.EndSection()
	if err != nil {
		os.Remove(f.Name())
		return rejectRun{}, err
	}
	for _, r := range runs {
		r.file.release()
	}
	return rejectRun{sec: sec, file: &runFile{path: f.Name(), refs: 1}, level: level}, nil
}

// takeRejectsLocked removes day d's rejects from the collector: sorted
// in memory when none were spilled, as a rejectSet otherwise, with the
// error that lost some. c.mu is held.
func (c *Collector) takeRejectsLocked(d transit.Day) (mem []transit.Reject, set *rejectSet, n int64, err error) {
	dr := c.rejects[d]
	delete(c.rejects, d)
	if dr == nil {
		return nil, nil, 0, nil
	}
	for i := range dr.buf {
		c.rejBytes -= rejectSize(&dr.buf[i])
	}
	sortRejects(dr.buf)
	n = int64(len(dr.buf)) + dr.n + dr.lost
	if dr.lost > 0 {
		err = fmt.Errorf("%d rejects not kept: %w", dr.lost, c.spillErr)
	}
	if len(dr.runs) == 0 {
		return dr.buf, nil, n, err
	}
	// The buffer is one more source: keep the runs to rejectFanIn-1.
	if extra := len(dr.runs) - (rejectFanIn - 1); extra > 0 {
		tail := dr.runs[len(dr.runs)-extra-1:]
		run, merr := c.mergeRunsLocked(tail, tail[0].level+1)
		if merr != nil {
			return nil, nil, n, errors.Join(err, merr)
		}
		dr.runs = append(dr.runs[:len(dr.runs)-extra-1], run)
	}
	set = &rejectSet{runs: dr.runs, n: dr.n + int64(len(dr.buf))}
	if len(dr.buf) > 0 {
		set.mem = [][]transit.Reject{dr.buf}
	}
	return nil, set, n, err
}

// Close removes the collector's spill folder, if it made one. A Day whose
// rejects were spilled (RejectCount exceeds len(Rejects)) cannot be
// walked or written after its Collector is closed.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.spill.Close()
	c.spill = nil
	return err
}

// RejectCount returns the number of malformed records the day keeps:
// len(Rejects), or more when its collector spilled them to disk.
func (d *Day) RejectCount() int64 {
	if d.spilled != nil {
		return d.spilled.n
	}
	return int64(len(d.Rejects))
}

// WalkRejects calls fn with each malformed record of the day in
// CompareRejects order: those of Rejects, or, when the collector spilled
// them, those read back from its spill folder (until the Collector is
// closed). The reject is valid until fn returns; an error from fn stops
// the walk and is returned.
func (d *Day) WalkRejects(fn func(*transit.Reject) error) error {
	if d.spilled != nil {
		return d.spilled.walk(fn)
	}
	for i := range d.Rejects {
		if err := fn(&d.Rejects[i]); err != nil {
			return err
		}
	}
	return nil
}
