package engine

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// Sink receives priced rows. Emit is called by shard goroutine `shard` only,
// never concurrently for the same shard, so an implementation can keep one
// single-writer part per shard and take no lock. rows is reused after Emit
// returns: copy what you keep.
type Sink interface {
	Emit(shard int, rows []transit.Priced)
}

// Unbounded is the Window that holds every tap until the input ends (or a
// day is closed), so that output is independent of input order. The batch
// job uses it; its taps are then released card by card (package comment).
const Unbounded time.Duration = math.MaxInt64

// Options configures an Engine. The zero value of each field means its
// default; EnsureDefaults resolves them and Validate checks them.
type Options struct {
	// Shards is the number of single-writer workers. Default:
	// runtime.GOMAXPROCS(0).
	Shards int
	// BatchSize is the number of taps per hand-off batch. Larger batches
	// amortise channel operations; smaller ones cut latency. Default: 1024.
	BatchSize int
	// Window is the reorder window: how far behind the newest tap seen a
	// tap may arrive and still be priced in event-time order. Default: 2m,
	// which covers validators that upload in bursts each minute. Use
	// Unbounded for batch jobs.
	Window time.Duration
	// Calendar maps tap instants to settlement days. Required.
	Calendar *transit.Calendar
	// DedupDays is the dedup window: a card's tap_id seen on a tap fewer
	// than DedupDays settlement days from another's, in any city, makes
	// the later one a duplicate (see dedup.go). Each shard keeps that many
	// days of tap_ids. Default: 7 (a week of validators that sync late).
	DedupDays int
	// KeepCharges says the run's charges may change after it: its state
	// goes on in a later run (WriteState) or it is a stream's partition.
	// The engine then keeps what a change needs: the rows that moved
	// money in the dedup window's days, for corrections (Engine.Correct,
	// Partition.Correct), and the incomplete metro charges, for late taps
	// that complete them (adjust.go); they are checkpointed and written to
	// the state with the rest. It costs memory and a little time per row
	// emitted. A batch run that writes no state leaves it off: with an
	// Unbounded window no tap of its input can be late.
	KeepCharges bool

	// timeOrder makes an Unbounded window release in transit.Compare
	// order, as a bounded one does, instead of card by card: both orders
	// price alike, which tests check by comparing them on one input.
	timeOrder bool
}

// Defaults.
const (
	DefaultBatchSize = 1024
	DefaultWindow    = 2 * time.Minute
	DefaultDedupDays = 7
)

// MaxDedupDays bounds the dedup window: each retained day costs a shard its
// day's tap_ids in memory.
const MaxDedupDays = 90

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Shards == 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.DedupDays == 0 {
		o.DedupDays = DefaultDedupDays
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	switch {
	case o.Shards < 1 || o.Shards > 1024:
		return fmt.Errorf("engine: shards = %d, want 1..1024", o.Shards)
	case o.BatchSize < 1 || o.BatchSize > 1<<20:
		return fmt.Errorf("engine: batch size = %d, want 1..1048576", o.BatchSize)
	case o.Window < 0:
		return fmt.Errorf("engine: window = %v, want >= 0", o.Window)
	case o.Calendar == nil:
		return errors.New("engine: calendar is required")
	case o.DedupDays < 1 || o.DedupDays > MaxDedupDays:
		return fmt.Errorf("engine: dedup days = %d, want 1..%d", o.DedupDays, MaxDedupDays)
	}
	return nil
}

// Engine prices taps. Submit, Flush, CloseDay and Close must be called from
// one goroutine (the router); SetBook and Stats from any.
type Engine struct {
	opts   Options
	book   atomic.Pointer[fares.Book]
	sink   Sink
	shards []*shard
	cur    []*batch // the batch each shard is filling
	free   chan *batch
	wg     sync.WaitGroup

	clock  clock // the router's watermark
	closed bool
}

// batch is the unit of hand-off from the router to a shard.
type batch struct {
	taps []transit.Tap
	// late lists the taps of this batch that were late when submitted,
	// with the watermark at that moment (see the package comment).
	late []lateMark
	// watermark is the router's watermark when the batch was sent: every
	// tap submitted later is either late or not older than this.
	watermark int64
	// ctl, when set, is a control message instead of taps.
	ctl *control
}

type lateMark struct {
	index     int32
	watermark int64
}

type control struct {
	closeDay transit.Day // close days <= closeDay; closeAll if math.MaxInt32
	done     chan struct{}
	// corr, when set, asks the shard to apply these corrections instead,
	// writing outcome i to out[idx[i]] (each shard its own elements).
	corr *corrections
}

type corrections struct {
	cs  []transit.Correction
	idx []int
	out []CorrectionOutcome
	err error // the shard's
}

// New starts an engine over book, sending rows to sink.
func New(book *fares.Book, sink Sink, opts Options) (*Engine, error) {
	if err := prepare(book, sink, &opts); err != nil {
		return nil, err
	}
	e := &Engine{
		opts:   opts,
		sink:   sink,
		shards: make([]*shard, opts.Shards),
		cur:    make([]*batch, opts.Shards),
		// Room for every batch that can exist at once (queued, being
		// priced, being filled: inQueue+2 per shard), so that a returned
		// batch is never dropped and then made anew: steady state
		// allocates no batches.
		free:  make(chan *batch, (inQueue+2)*opts.Shards),
		clock: newClock(opts.Window),
	}
	e.book.Store(book)
	for i := range e.shards {
		e.shards[i] = newShard(i, e)
		e.cur[i] = e.newBatch()
	}
	e.wg.Add(len(e.shards))
	for _, s := range e.shards {
		go s.run()
	}
	return e, nil
}

// SetBook swaps the fare book atomically. Shards pick it up at their next
// batch; taps in flight are priced by whichever book their batch loaded.
func (e *Engine) SetBook(b *fares.Book) {
	if b != nil {
		e.book.Store(b)
	}
}

// Book returns the current fare book.
func (e *Engine) Book() *fares.Book { return e.book.Load() }

// Shards returns the number of shards.
func (e *Engine) Shards() int { return len(e.shards) }

func (e *Engine) newBatch() *batch {
	select {
	case b := <-e.free:
		b.taps = b.taps[:0]
		b.late = b.late[:0]
		b.ctl = nil
		return b
	default:
		return &batch{taps: make([]transit.Tap, 0, e.opts.BatchSize)}
	}
}

// Submit routes taps to their shards. It copies them, so the caller may
// reuse taps as soon as Submit returns.
func (e *Engine) Submit(taps []transit.Tap) {
	n := uint64(len(e.shards))
	for i := range taps {
		t := &taps[i]
		hi, _ := mulHi(cardHash(&t.Card), n)
		b := e.cur[hi]
		if late, w := e.clock.see(t.Time); late {
			b.late = append(b.late, lateMark{index: int32(len(b.taps)), watermark: w})
		}
		b.taps = append(b.taps, *t)
		if len(b.taps) == cap(b.taps) {
			e.send(int(hi))
		}
	}
}

func (e *Engine) send(i int) {
	b := e.cur[i]
	b.watermark = e.clock.watermark
	e.shards[i].in <- b
	e.cur[i] = e.newBatch()
}

// Flush hands every partly filled batch to its shard, so that taps
// submitted so far are not held back by batching.
func (e *Engine) Flush() {
	for i, b := range e.cur {
		if len(b.taps) > 0 {
			e.send(i)
		}
	}
}

// CloseDay prices every held tap of settlement days up to and including d
// and closes their still-open journeys as incomplete. It returns when every
// shard has emitted those rows to the sink.
func (e *Engine) CloseDay(d transit.Day) {
	e.Flush()
	e.control(d)
}

func (e *Engine) control(d transit.Day) {
	done := make(chan struct{}, len(e.shards))
	for _, s := range e.shards {
		s.in <- &batch{ctl: &control{closeDay: d, done: done}}
	}
	for range e.shards {
		<-done
	}
}

// Correct applies corrections in the first open day (the day after the
// closed day of the state the engine read) after every tap submitted so
// far, and returns what became of each, in order. A batch run calls it
// after CloseDay of its last day, so that the taps it read are priced: a
// correction of one of them is refused as not settled rather than not
// found. Applied corrections book
// their rows to the sink like taps. Corrections of one card are applied in
// the order given. It needs Options.KeepCharges.
func (e *Engine) Correct(cs []transit.Correction) ([]CorrectionOutcome, error) {
	if !e.opts.KeepCharges {
		return nil, ErrNoCharges
	}
	e.Flush()
	per := make([][]int, len(e.shards))
	for i := range cs {
		s, _ := mulHi(cardHash(&cs[i].Card), uint64(len(e.shards)))
		per[s] = append(per[s], i)
	}
	out := make([]CorrectionOutcome, len(cs))
	corrs := make([]corrections, len(e.shards))
	done := make(chan struct{}, len(e.shards))
	for i, s := range e.shards {
		corrs[i] = corrections{cs: cs, idx: per[i], out: out}
		s.in <- &batch{ctl: &control{done: done, corr: &corrs[i]}}
	}
	for range e.shards {
		<-done
	}
	var errs []error
	for i := range corrs {
		errs = append(errs, corrs[i].err)
	}
	return out, errors.Join(errs...)
}

// Close prices everything held, closes every day, stops the shards and
// waits for them. The engine cannot be used afterwards.
func (e *Engine) Close() {
	if e.closed {
		return
	}
	e.Flush()
	e.control(math.MaxInt32)
	e.Stop()
}

// Stats sums the shards' counters. Shards publish them once per batch, so
// Stats is cheap and never contends with pricing.
func (e *Engine) Stats() Stats {
	var st Stats
	for _, s := range e.shards {
		st.Add(s.published.load())
	}
	return st
}

// prepare completes opts and checks what New and NewPartition are given.
func prepare(book *fares.Book, sink Sink, opts *Options) error {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	if book == nil {
		return errors.New("engine: nil fare book")
	}
	if sink == nil {
		return errors.New("engine: nil sink")
	}
	return nil
}

// clock is the event-time watermark of one sequence of taps (the Engine's
// router, or a Partition): the newest tap time seen, less the window. A
// tap older than the watermark when it arrives is late. The Engine and
// Partition share it so that they agree on lateness exactly.
type clock struct {
	window    int64 // Unbounded (math.MaxInt64): nothing is ever late
	maxTime   int64 // newest tap time seen
	watermark int64 // maxTime - window
}

func newClock(window time.Duration) clock {
	return clock{window: int64(window), maxTime: math.MinInt64, watermark: math.MinInt64}
}

// see records a tap time and reports whether the tap is late, with the
// watermark it is late against.
func (k *clock) see(t int64) (late bool, watermark int64) {
	late, watermark = t < k.watermark, k.watermark
	if t > k.maxTime {
		k.maxTime = t
		if k.window != int64(Unbounded) {
			if w := t - k.window; w > k.watermark {
				k.watermark = w
			}
		}
	}
	return late, watermark
}
