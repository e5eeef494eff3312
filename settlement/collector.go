package settlement

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tapsettle/tapsettle/internal/chunked"
	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// Collector gathers the engine's priced rows and the malformed records of
// a run into settlement days.
//
// Rejects are held in memory up to Options.RejectBuffer bytes, then
// spilled to disk (see reject_spill.go); Close removes what was spilled.
//
// Concurrency: Emit(shard, ...) is called by one goroutine per shard and
// touches only that shard's state; Reject may be called from any
// goroutine. Days and Day must be called after every Emit has returned
// (the caller's WaitGroup or channel close provides the happens-before).
type Collector struct {
	opts   Options
	ix     *cityIndex
	shards []*shardState

	mu       sync.Mutex
	rejects  map[transit.Day]*dayRejects
	rejBytes int        // estimated memory of the buffered rejects (rejectSize)
	spill    *spill.Dir // made at the first spill
	// spillErr is the error of a failed spill. The rejects that arrive
	// after it are counted, not kept, and their days fail Validate.
	spillErr error
	done     map[transit.Day]*Day

	// rows are the days' spilled rows (row_spill.go); rowErr is the
	// error of a failed row spill, which fails every day's Validate
	// (rows may have been lost). rowLimit is a shard's share of
	// Options.RowBuffer; 0 holds every row.
	rows     map[transit.Day]*dayRows
	rowErr   error
	rowLimit int
}

// shardState is written by one shard goroutine only. The padding keeps two
// shards' hot fields off one cache line.
type shardState struct {
	lastDay transit.Day
	last    *part
	parts   map[transit.Day]*part
	// rowBytes estimates the memory of the rows held in parts.
	rowBytes int
	_        [64]byte
}

// part is a shard's share of one day. Its rows are kept in chunks so that
// a day of tens of millions of rows is never copied to grow.
type part struct {
	t    *tally
	rows chunked.Vec[transit.Priced]
}

// NewCollector returns a collector for opts. The options come from the
// program, not from input: invalid options (see Options.Validate) are a
// programming error and make NewCollector panic.
func NewCollector(opts Options) *Collector {
	if err := opts.Validate(); err != nil {
		panic(fmt.Sprintf("settlement.NewCollector: %v", err))
	}
	c := &Collector{
		opts:    opts,
		ix:      newCityIndex(opts.Participants),
		shards:  make([]*shardState, opts.shards()),
		rejects: make(map[transit.Day]*dayRejects),
		done:    make(map[transit.Day]*Day),
		rows:    make(map[transit.Day]*dayRows),
	}
	if opts.RowBuffer > 0 {
		c.rowLimit = max(opts.RowBuffer/opts.shards(), rowSize)
	}
	for i := range c.shards {
		c.shards[i] = &shardState{parts: make(map[transit.Day]*part)}
	}
	return c
}

// Emit records a batch of rows priced by shard. Only that shard's
// goroutine may call it. The rows are copied (the caller reuses the slice
// after Emit returns); nothing is allocated per row in steady state, only
// when a day, a pair or a row chunk is first needed. A row that breaks the
// row invariants is not settled: it is remembered and reported by
// Day.Validate.
func (c *Collector) Emit(shard int, rows []transit.Priced) {
	if shard < 0 || shard >= len(c.shards) {
		panic(fmt.Sprintf("settlement.Collector.Emit: shard %d outside [0, %d)", shard, len(c.shards)))
	}
	s := c.shards[shard]
	keepAll := c.opts.Ledger
	for i := range rows {
		r := &rows[i]
		p := s.last
		if p == nil || r.Day != s.lastDay {
			p = s.part(r.Day, c.ix)
		}
		switch p.t.add(r) {
		case rowBad:
			continue
		case rowInterregional:
			p.rows.Push(r)
		default:
			if !keepAll {
				continue
			}
			p.rows.Push(r)
		}
		if s.rowBytes += rowSize; c.rowLimit > 0 && s.rowBytes > c.rowLimit {
			if err := c.spillRows(s); err != nil {
				c.mu.Lock()
				if c.rowErr == nil {
					c.rowErr = fmt.Errorf("spill rows: %w", err)
				}
				c.rowLimit = 0 // hold the rest: the days fail Validate anyway
				c.mu.Unlock()
			}
			s.last = nil // spillRows may have emptied the parts
		}
	}
}

func (s *shardState) part(d transit.Day, ix *cityIndex) *part {
	p := s.parts[d]
	if p == nil {
		p = &part{t: newTally(ix)}
		s.parts[d] = p
	}
	s.last, s.lastDay = p, d
	return p
}

// Reject records a malformed input record in the settlement day of its
// time, or in [Undated] when it has none (or the collector no calendar).
// Safe for concurrent use.
func (c *Collector) Reject(r transit.Reject) {
	d := Undated
	if r.HasTime && c.opts.Calendar != nil {
		d = c.opts.Calendar.DayOf(r.Time)
	}
	c.RejectIn(d, r)
}

// RejectIn records a malformed input record in settlement day d, whatever
// its time says: a stream settles a record that arrived after its day
// closed in the next open day, and a record without a time in the day
// being closed when it is quarantined. Safe for concurrent use. When the
// rejects held exceed Options.RejectBuffer, this call spills them to disk
// (other callers wait); a spill that fails makes the days concerned fail
// Validate, naming the error.
func (c *Collector) RejectIn(d transit.Day, r transit.Reject) {
	if len(r.Raw) > transit.MaxRejectRaw {
		r.Raw = r.Raw[:transit.MaxRejectRaw]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dr := c.rejects[d]
	if dr == nil {
		dr = &dayRejects{}
		c.rejects[d] = dr
	}
	if c.spillErr != nil {
		dr.lost++
		return
	}
	dr.buf = append(dr.buf, r)
	c.rejBytes += rejectSize(&r)
	if c.rejBytes > c.opts.rejectBuffer() {
		if err := c.spillLocked(); err != nil {
			c.spillErr = fmt.Errorf("spill rejects: %w", err)
		}
	}
}

// Days returns the days that received rows or rejects, sorted ([Undated]
// first when present).
func (c *Collector) Days() []transit.Day {
	seen := make(map[transit.Day]bool)
	for _, s := range c.shards {
		for d := range s.parts {
			seen[d] = true
		}
	}
	c.mu.Lock()
	for d := range c.rejects {
		seen[d] = true
	}
	for d := range c.done {
		seen[d] = true
	}
	c.mu.Unlock()
	days := make([]transit.Day, 0, len(seen))
	for d := range seen {
		days = append(days, d)
	}
	slices.Sort(days)
	return days
}

// Day merges the shards' parts of day d into one Day, deterministic
// whatever the shard count or emission order. The shards' copies of the
// rows are handed over to the result, so a day is held in memory once; the
// collector keeps the result, and a later call returns it again, merged
// with whatever arrived for d since. A day never seen yields an empty Day.
// The returned Day must not be modified.
func (c *Collector) Day(d transit.Day) *Day {
	t := newTally(c.ix)
	var stores []*chunked.Vec[transit.Priced]
	for _, s := range c.shards {
		p := s.parts[d]
		if p == nil {
			continue
		}
		t.merge(p.t)
		stores = append(stores, &p.rows)
		delete(s.parts, d)
		if s.last == p {
			s.last = nil
		}
	}
	c.mu.Lock()
	rejects, spilled, nRejects, rejErr := c.takeRejectsLocked(d)
	prev := c.done[d]
	rowsSpilled, rowErr := c.rows[d] != nil, c.rowErr
	c.mu.Unlock()
	if prev != nil && len(stores) == 0 && nRejects == 0 && !rowsSpilled {
		return prev
	}

	day := &Day{Day: d, Ledger: c.opts.Ledger, Participants: c.opts.Participants}
	t.counts[transit.StatusRejected] += nRejects
	t.fill(day)
	if rowsSpilled {
		// Some of the day's rows are on disk: the rest go there too, so
		// that the day is written from its runs alone. Each shard's part
		// is sorted and written on its own goroutine, as the shards spill
		// while they price: here nothing else runs beside them.
		errs := make([]error, len(stores))
		parallelEach(len(stores), func(i int) {
			errs[i] = c.spillStores([]transit.Day{d}, stores[i:i+1])
		})
		err := errors.Join(errs...)
		c.mu.Lock()
		day.spilledRows, rowErr = c.takeRowsLocked(d)
		c.mu.Unlock()
		day.Rows = []transit.Priced{}
		day.rowErr = errors.Join(rowErr, err)
		if prev != nil {
			day.rowErr = errors.Join(day.rowErr, errors.New("a day whose rows were spilled was collected twice"))
		}
	} else {
		day.Rows = sortedRows(stores)
		day.rowErr = rowErr
	}
	day.Rejects = rejects
	if day.Rejects == nil {
		day.Rejects = []transit.Reject{}
	}
	day.spilled, day.rejErr = spilled, rejErr
	if prev != nil && !rowsSpilled {
		day = mergeDays([]*Day{prev, day})
	}
	c.mu.Lock()
	c.done[d] = day
	c.mu.Unlock()
	return day
}
