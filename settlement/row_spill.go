package settlement

import (
	"cmp"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"unsafe"

	"github.com/tapsettle/tapsettle/internal/chunked"
	"github.com/tapsettle/tapsettle/internal/prefetch"
	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// A batch run of tens of millions of taps keeps a row per tap for the
// ledger, and the interregional rows for the clearing files, more than
// its memory budget holds. With Options.RowBuffer a Collector holds at
// most that many bytes of rows: beyond it, a shard that passes its share
// sorts its rows, day by day, into runs in the spill folder (as the
// rejects, see reject_spill.go), and a day's files are written from the
// k-way merge of its runs: the ledger from runs in ComparePriced order,
// the clearing files from runs of the interregional clearing rows in
// pair order (issuer, acquirer, class, mode, then ComparePriced: the
// order of the batches), one issuer's file at a time, streamed. Both orders are total, so the files are the same bytes as from
// rows held in memory. The rows of a spilled day are checked as they are
// written (rowCheck), since Validate cannot read them.

// rowFanIn bounds the runs merged at once, as rejectFanIn does.
const rowFanIn = 64

// rowSize is what a held row costs: the row in its chunk.
const rowSize = int(unsafe.Sizeof(transit.Priced{}))

// rowPrefetch is how many rows ahead spillStores prefetches the rows it
// reads in sorted order.
const rowPrefetch = 8

// rowOrder is the order of a run of rows.
type rowOrder uint8

const (
	ledgerOrder rowOrder = iota // ComparePriced: the ledger's
	pairOrder                   // issuer, acquirer, class, mode, ComparePriced: the clearing files' batches
)

func (o rowOrder) compare(a, b *transit.Priced) int {
	if o == pairOrder {
		if c := cmp.Compare(a.Issuer, b.Issuer); c != 0 {
			return c
		}
		if c := cmp.Compare(a.City, b.City); c != 0 {
			return c
		}
		if c := cmp.Compare(classOf(a.Status), classOf(b.Status)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Mode, b.Mode); c != 0 {
			return c
		}
	}
	return ComparePriced(a, b)
}

// rowRun is one sorted run of a day's rows: a section of a spill file.
type rowRun struct {
	sec   spill.Section
	file  *runFile
	level int
}

// dayRows is what a Collector has spilled of one day's rows: runs in
// ledger order (with Options.Ledger) and in pair order (the interregional
// clearing rows). c.mu guards it.
type dayRows struct {
	runs [2][]rowRun // by rowOrder
	n    [2]int64
}

// rowSet is a day's spilled rows of one order: sorted runs on disk.
type rowSet struct {
	order rowOrder
	runs  []rowRun
	n     int64
}

// merge opens a merge of the set's runs, in the set's order.
func (s *rowSet) merge() (*spill.Merge[transit.Priced], error) {
	secs := make([]spill.Section, len(s.runs))
	for i, r := range s.runs {
		secs[i] = r.sec
	}
	return spill.NewMerge(s.order.compare, decodeRow, nil, secs)
}

// A spilled row is its tap in compact form (transit.Tap.AppendCompact),
// then Day and RefDay as varints, Status and Reason as a byte each, Rules
// as a uvarint, the six amounts as varints, EntryStop as a length byte
// and its bytes, and EntryTime as a varint: every field, so that a row
// read back is the row written.
func appendRow(b []byte, r *transit.Priced) []byte {
	b = r.Tap.AppendCompact(b)
	b = binary.AppendVarint(b, int64(r.Day))
	b = binary.AppendVarint(b, int64(r.RefDay))
	b = append(b, byte(r.Status), byte(r.Reason))
	b = binary.AppendUvarint(b, uint64(r.Rules))
	for _, f := range [...]transit.Fen{r.Gross, r.Discount, r.Charged, r.ProductDiscount, r.TransferDiscount, r.CapDiscount} {
		b = binary.AppendVarint(b, int64(f))
	}
	stop := r.EntryStop.Bytes()
	b = append(b, byte(len(stop)))
	b = append(b, stop...)
	return binary.AppendVarint(b, r.EntryTime)
}

var errRowRecord = errors.New("malformed spilled row")

// decodeRow decodes rec, written by appendRow, into r.
func decodeRow(rec []byte, r *transit.Priced) error {
	var p transit.Priced
	rest, err := p.Tap.DecodeCompact(rec)
	if err != nil {
		return err
	}
	rd := rowReader{b: rest}
	day, ref := rd.varint(), rd.varint()
	status, reason := rd.byte(), rd.byte()
	rules := rd.uvarint()
	var amounts [6]int64
	for i := range amounts {
		amounts[i] = rd.varint()
	}
	stop := rd.bytes(len(p.EntryStop))
	p.EntryTime = rd.varint()
	if rd.bad || len(rd.b) != 0 || day != int64(int32(day)) || ref != int64(int32(ref)) || rules > 1<<32-1 {
		return errRowRecord
	}
	p.Day, p.RefDay = transit.Day(day), transit.Day(ref)
	p.Status, p.Reason, p.Rules = transit.Status(status), transit.Reason(reason), transit.Rules(rules)
	p.Gross, p.Discount, p.Charged = transit.Fen(amounts[0]), transit.Fen(amounts[1]), transit.Fen(amounts[2])
	p.ProductDiscount, p.TransferDiscount, p.CapDiscount = transit.Fen(amounts[3]), transit.Fen(amounts[4]), transit.Fen(amounts[5])
	copy(p.EntryStop[:], stop)
	*r = p
	return nil
}

// rowReader reads the fields of a spilled row; bad records that one was
// missing, after which it reads zeros.
type rowReader struct {
	b   []byte
	bad bool
}

func (r *rowReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rowReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rowReader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// bytes reads a length byte and that many bytes, at most max.
func (r *rowReader) bytes(max int) []byte {
	n := int(r.byte())
	if n > max || n > len(r.b) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// spillRows writes every row shard s holds to disk: one new spill file,
// in it, for each day, a sorted run in ledger order (with Ledger) and one
// of the interregional clearing rows in pair order. It is called by the
// shard's goroutine (Emit); runs are added to the days under c.mu.
func (c *Collector) spillRows(s *shardState) error {
	days := make([]transit.Day, 0, len(s.parts))
	for d, p := range s.parts {
		if p.rows.Len() > 0 {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	s.rowBytes = 0
	if len(days) == 0 {
		return nil
	}
	stores := make([]*chunked.Vec[transit.Priced], len(days))
	for i, d := range days {
		stores[i] = &s.parts[d].rows
	}
	return c.spillStores(days, stores)
}

// spillStores writes store i, rows of day days[i], as sorted runs (see
// spillRows) and empties it.
func (c *Collector) spillStores(days []transit.Day, stores []*chunked.Vec[transit.Priced]) error {
	dir, err := c.spillDir()
	if err != nil {
		return err
	}
	f, err := dir.Create()
	if err != nil {
		return err
	}
	// The writer holds a reference of its own until the file is closed:
	// a merge below may release every run written so far.
	file := &runFile{path: f.Name(), refs: 1}
	defer func() {
		f.Close()
		c.mu.Lock()
		file.release()
		c.mu.Unlock()
	}()
	type written struct {
		d    transit.Day
		runs [2]rowRun
		n    [2]int64
		ok   [2]bool
	}
	var out []written
	var rec []byte
	for i, st := range stores {
		w := written{d: days[i]}
		keys := make([]sortKey, 0, st.Len())
		for o := range rowOrder(2) {
			if o == ledgerOrder && !c.opts.Ledger {
				continue
			}
			keys = runKeys(keys[:0], st, o)
			if len(keys) == 0 {
				continue
			}
			for j, k := range keys {
				// The rows are read in sorted order, scattered over the
				// store: ask for those a few keys ahead, so that their
				// cache misses overlap.
				if j+rowPrefetch < len(keys) {
					prefetch.Bytes(uintptr(unsafe.Pointer(st.At(int(keys[j+rowPrefetch].ref)))), uintptr(rowSize))
				}
				rec = appendRow(rec[:0], st.At(int(k.ref)))
				if err := f.Append(rec); err != nil {
					return err
				}
			}
			sec, err := f.EndSection()
			if err != nil {
				return err
			}
			w.runs[o], w.n[o], w.ok[o] = rowRun{sec: sec, file: file}, int64(len(keys)), true
		}
		*st = chunked.Vec[transit.Priced]{} // its memory goes
		out = append(out, w)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range out {
		dr := c.rows[w.d]
		if dr == nil {
			dr = &dayRows{}
			c.rows[w.d] = dr
		}
		for o := range rowOrder(2) {
			if !w.ok[o] {
				continue
			}
			file.refs++
			dr.runs[o] = append(dr.runs[o], w.runs[o])
			dr.n[o] += w.n[o]
			for len(dr.runs[o]) >= rowFanIn {
				tail := dr.runs[o][len(dr.runs[o])-rowFanIn:]
				if tail[0].level != tail[len(tail)-1].level {
					break
				}
				run, err := c.mergeRowRuns(o, tail, tail[0].level+1, dir)
				if err != nil {
					return err
				}
				dr.runs[o] = append(dr.runs[o][:len(dr.runs[o])-rowFanIn], run)
			}
		}
	}
	return nil
}

// runKeys appends to keys the rows of st that a run of order o holds
// (every row in ledger order, the interregional clearing rows in pair
// order), sorted in that order, and returns them. The keys carry each
// row's time and the start of its tap_id, which ComparePriced compares
// first: in ledger order a sort touches the rows only for the same tap
// at the same instant, rather than reading two rows scattered over the
// store at every comparison (see docs/performance.md).
func runKeys(keys []sortKey, st *chunked.Vec[transit.Priced], o rowOrder) []sortKey {
	for j := range st.Len() {
		if r := st.At(j); o == ledgerOrder || isClearing(r) && r.Interregional() {
			keys = append(keys, keyOf(r, uint64(j)))
		}
	}
	row := func(k sortKey) *transit.Priced { return st.At(int(k.ref)) }
	if o == ledgerOrder {
		slices.SortFunc(keys, func(a, b sortKey) int {
			if c := compareKeys(&a, &b); c != 0 {
				return c
			}
			return ComparePriced(row(a), row(b))
		})
	} else {
		slices.SortFunc(keys, func(a, b sortKey) int { return o.compare(row(a), row(b)) })
	}
	return keys
}

// spillDir returns the collector's spill folder, made at the first call.
func (c *Collector) spillDir() (*spill.Dir, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.spill == nil {
		d, err := spill.Open(c.opts.SpillDir)
		if err != nil {
			return nil, err
		}
		c.spill = d
	}
	return c.spill, nil
}

// mergeRowRuns merges runs of one order into one new run of the given
// level and releases them. c.mu is held.
func (c *Collector) mergeRowRuns(o rowOrder, runs []rowRun, level int, dir *spill.Dir) (rowRun, error) {
	f, err := dir.Create()
	if err != nil {
		return rowRun{}, err
	}
	defer f.Close()
	set := rowSet{order: o, runs: runs}
	m, err := set.merge()
	if err != nil {
		os.Remove(f.Name())
		return rowRun{}, err
	}
	defer m.Close()
	var rec []byte
	for {
		r, ok, err := m.Next()
		if err != nil {
			os.Remove(f.Name())
			return rowRun{}, err
		}
		if !ok {
			break
		}
		rec = appendRow(rec[:0], r)
		if err := f.Append(rec); err != nil {
			os.Remove(f.Name())
			return rowRun{}, err
		}
	}
	sec, err := f.EndSection()
	if err != nil {
		os.Remove(f.Name())
		return rowRun{}, err
	}
	for _, r := range runs {
		r.file.release()
	}
	return rowRun{sec: sec, file: &runFile{path: f.Name(), refs: 1}, level: level}, nil
}

// takeRowsLocked removes day d's spilled rows from the collector, with at
// most rowFanIn runs of each order, or returns nil when none were
// spilled. c.mu is held.
func (c *Collector) takeRowsLocked(d transit.Day) (sets [2]*rowSet, err error) {
	dr := c.rows[d]
	delete(c.rows, d)
	if dr == nil {
		return sets, nil
	}
	for o := range rowOrder(2) {
		runs := dr.runs[o]
		if extra := len(runs) - rowFanIn; extra > 0 {
			tail := runs[len(runs)-extra-1:]
			run, merr := c.mergeRowRuns(o, tail, tail[0].level+1, c.spill)
			if merr != nil {
				return sets, merr
			}
			runs = append(runs[:len(runs)-extra-1], run)
		}
		sets[o] = &rowSet{order: o, runs: runs, n: dr.n[o]}
	}
	return sets, nil
}

// RowCount returns the number of rows the day holds: len(Rows), or more
// when its collector spilled them to disk (Rows is then empty, and its
// files are written from the spill folder until the Collector is closed).
func (d *Day) RowCount() int64 {
	if s := d.spilledRows[ledgerOrder]; d.Ledger && s != nil {
		return s.n
	}
	if s := d.spilledRows[pairOrder]; !d.Ledger && s != nil {
		return s.n
	}
	return int64(len(d.Rows))
}

// rowsSpilled reports whether d's rows are in its collector's spill
// folder rather than in Rows.
func (d *Day) rowsSpilled() bool { return d.spilledRows[pairOrder] != nil }
