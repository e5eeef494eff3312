package engine

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// Partition prices the taps of one stream partition: the single-writer
// pricing core of an Engine shard, driven synchronously by the goroutine
// that consumes the partition, with its own watermark.
//
// Everything a Partition decides is a function of the sequence of taps
// submitted to it (and the day closes interleaved with them), not of how
// the sequence was cut into Submit calls or when checkpoints were taken.
// That is what makes a stream restartable with exactly the same output: a
// partition restored from a checkpoint and fed the rest of the sequence
// emits exactly the rows an uninterrupted run emits.
//
// Lateness is decided per partition as the Engine decides it globally: a
// tap older than the newest tap submitted so far minus the window is late.
// A tap of a day already closed by CloseDay is settled as a late
// adjustment in the next open day (its row's Day is that day, flagged
// [transit.RuleLate]).
//
// Submit, CloseDay, Checkpoint and Restore must be called from one
// goroutine; SetBook and Stats from any.
type Partition struct {
	pricer
	book atomic.Pointer[fares.Book]

	clock clock

	ckpt checkpointState
}

// NewPartition returns the pricing unit of partition id, emitting rows to
// sink with shard index id. opts.Shards is ignored.
func NewPartition(book *fares.Book, sink Sink, id int, opts Options) (*Partition, error) {
	opts.Shards = 1
	if err := prepare(book, sink, &opts); err != nil {
		return nil, err
	}
	p := &Partition{clock: newClock(opts.Window)}
	p.pricer.init(id, sink, &opts)
	p.pricer.track = true
	p.book.Store(book)
	return p, nil
}

// SetBook swaps the fare book; the next Submit or CloseDay uses it.
func (p *Partition) SetBook(b *fares.Book) {
	if b != nil {
		p.book.Store(b)
	}
}

// Submit prices what taps make due and emits the rows to the sink before
// it returns. Taps are copied; the caller may reuse the slice.
func (p *Partition) Submit(taps []transit.Tap) {
	pr := &p.pricer
	pr.book = p.book.Load()
	for i := range taps {
		t := &taps[i]
		late, w := p.clock.see(t.Time)
		pr.admit(t, late, w)
	}
	pr.advance(p.clock.watermark)
	pr.finishBatch()
}

// CloseDay prices every held tap of settlement days up to and including d,
// closes their open journeys as incomplete and emits the rows. Taps of
// those days submitted later are settled in day d+1 as late adjustments.
// Closing a day already closed does nothing.
func (p *Partition) CloseDay(d transit.Day) {
	pr := &p.pricer
	if pr.closed != 0 && d <= pr.closed {
		return
	}
	pr.book = p.book.Load()
	pr.closeDays(d)
	pr.flushOut() // these rows belong to the days being closed
	pr.closed = d
	pr.finishBatch()
}

// Correct applies correction c in the first open day (the day after the
// last closed one), emitting the row it books before it returns, and says
// what became of it (see the package's corrections). It needs
// Options.KeepCharges.
func (p *Partition) Correct(c *transit.Correction) (CorrectionOutcome, error) {
	pr := &p.pricer
	if !pr.keepRows {
		return CorrectionOutcome{}, ErrNoCharges
	}
	pr.book = p.book.Load()
	o, err := pr.correct(c)
	pr.finishBatch()
	return o, err
}

// Closed returns the last day closed, and false when none was.
func (p *Partition) Closed() (transit.Day, bool) {
	return p.closed, p.closed != 0
}

// Watermark returns the partition's event-time watermark: taps older than
// it are late. It is the newest tap time submitted minus the window
// (math.MinInt64 before the first tap).
func (p *Partition) Watermark() int64 { return p.clock.watermark }

// MaxTime returns the newest tap time submitted, as a time.
func (p *Partition) MaxTime() (time.Time, bool) {
	if p.clock.maxTime == math.MinInt64 {
		return time.Time{}, false
	}
	return time.Unix(0, p.clock.maxTime), true
}

// Stats returns the partition's counters as of its last Submit or
// CloseDay.
func (p *Partition) Stats() Stats { return p.published.load() }
