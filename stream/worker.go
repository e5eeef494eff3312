package stream

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/internal/buildinfo"
	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/stream/segment"
	"github.com/tapsettle/tapsettle/transit"
)

const (
	segList     = "segs/"
	undatedList = "segs/undated"
)

// worker prices one partition: the single writer of its engine.Partition,
// its segment builder and its checkpoints.
type worker struct {
	s      *Service
	p      int
	source string // "topic/partition", the rejects' source
	part   *engine.Partition
	counts *metrics.Counts
	// book is the fare book part prices with: the service's when the
	// partition last adopted it (adoptBook).
	book *fares.Book

	seg      segment.Builder
	segs     map[transit.Day][]segRef // committed segment lists, by day (Undated: not yet placed)
	days     map[transit.Day]bool     // days with rows or rejects not yet written as parts
	lastDay  transit.Day
	pending  []transit.Day // closed days whose parts are to be written
	drops    []string      // lists to drop at the next checkpoint
	foldInto transit.Day   // when set, the next checkpoint moves undated refs into this day

	// lost is set when a checkpoint could not be committed: the engine
	// and the segment builder have handed that checkpoint's changes over,
	// so the worker can never checkpoint again; the partition's next
	// owner restores the last committed one.
	lost bool
	// staged is set while w.cp is staged but not committed: a commit
	// interrupted by the end of consumption (errInterrupted). The next
	// checkpoint commits that same checkpoint rather than staging
	// another: the engine handed its changes over to it.
	staged bool

	seq       uint64 // last committed checkpoint
	next      int64  // next offset to consume
	sinceTaps int
	lastCkpt  time.Time
	// due ends when the checkpoint interval that began at lastCkpt is up:
	// what fetch waits on while work is pending, made once per interval
	// rather than once per fetch.
	due       context.Context
	cancelDue context.CancelFunc

	taps     []transit.Tap
	dec      feed.Decoder
	cur      *feed.Message // the message being decoded
	onReject feed.RejectFunc
	cp       state.Checkpoint
	meta     []byte
	arena    arena
}

// Emit is the partition's engine.Sink: rows go into the next segment.
func (w *worker) Emit(_ int, rows []transit.Priced) {
	w.seg.AddRows(rows)
	for i := range rows {
		r := &rows[i]
		if r.Day != w.lastDay {
			w.lastDay = r.Day
			w.days[r.Day] = true
		}
		if w.counts != nil {
			w.counts.Row(r.City, r.Mode, r.Status)
		}
	}
}

// Card, Drop and Append make the worker the engine's CheckpointWriter:
// they copy into the checkpoint being built.
func (w *worker) Card(k, v []byte) {
	// A checkpoint carries up to a partition's every card (150,000 and
	// more): see pages.Append.
	w.cp.Cards = pages.Append(w.cp.Cards, state.KV{Key: w.keep(k), Value: w.keep(v)})
}
func (w *worker) Drop(list string) { w.cp.Drops = append(w.cp.Drops, list) }
func (w *worker) Append(list string, blob []byte) {
	w.cp.Appends = append(w.cp.Appends, state.Append{List: list, Blob: w.keep(blob)})
}

// keep copies b into the checkpoint's arena, which lives until the next
// checkpoint starts.
func (w *worker) keep(b []byte) []byte { return w.arena.keep(b) }

// arena holds a checkpoint's copies of the engine's records in chunks that
// are reused from one checkpoint to the next: a checkpoint carries
// megabytes of card records, and fresh memory for each would be garbage
// the next moment.
type arena struct {
	chunks [][]byte
	cur    int // the chunk being filled
}

// keep copies b into the arena; the copy stays valid until reset.
func (a *arena) keep(b []byte) []byte {
	for a.cur < len(a.chunks) && cap(a.chunks[a.cur])-len(a.chunks[a.cur]) < len(b) {
		a.cur++
	}
	if a.cur == len(a.chunks) {
		a.chunks = append(a.chunks, pages.Make[byte](max(1<<20, len(b)))[:0])
	}
	c := a.chunks[a.cur]
	n := len(c)
	c = append(c, b...)
	a.chunks[a.cur] = c
	return c[n:len(c):len(c)]
}

// reset empties the arena, keeping its chunks.
func (a *arena) reset() {
	for i := range a.chunks {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.cur = 0
}

// claim runs one partition for one generation of the group.
func (s *Service) claim(ctx context.Context, c *feed.Claim) error {
	s.joined.Store(true)
	w, err := s.newWorker(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		s.fatal(err)
		return err
	}
	defer s.unpublish(w.p)
	defer w.endDue()
	defer s.own(ctx, c)()
	r, err := c.Open(w.next)
	if err != nil {
		return fmt.Errorf("stream: partition %d: %w", w.p, err)
	}
	defer r.Close()
	buf := make([]feed.Message, 256)
	for {
		if s.cfg.BeforeFetch != nil {
			s.cfg.BeforeFetch(w.p, w.next)
		}
		n, err := w.fetch(ctx, r, buf)
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				// Idle with work not yet checkpointed: checkpoint it now
				// rather than when the next message comes, so that the
				// offset, the lag and the intraday cycles catch up.
				if err := w.checkpoint(ctx, c); err != nil {
					return w.stop(ctx, c, err)
				}
				continue
			}
			if ctx.Err() != nil {
				// Rebalance or shutdown: leave a checkpoint behind, so the
				// next owner starts where this one stopped.
				return w.shutdown(c)
			}
			return fmt.Errorf("stream: partition %d: fetch: %w", w.p, err)
		}
		start := time.Now()
		if err := w.adoptBook(ctx, c); err != nil {
			return w.stop(ctx, c, err)
		}
		for i := range buf[:n] {
			if err := w.message(ctx, c, &buf[i]); err != nil {
				return w.stop(ctx, c, err)
			}
			// Rejects do not count as taps: a flood of malformed
			// messages checkpoints on the segment's size, which
			// bounds the memory it holds (and keeps the segment
			// under segment.MaxSize).
			if w.seg.Size() >= s.cfg.CheckpointBytes {
				w.submit()
				if err := w.checkpoint(ctx, c); err != nil {
					return w.stop(ctx, c, err)
				}
			}
		}
		w.submit()
		if err := w.autoClose(ctx, c); err != nil {
			return w.stop(ctx, c, err)
		}
		if ctx.Err() != nil {
			// Stopped while the batch was in hand: the final checkpoint
			// covers it.
			return w.shutdown(c)
		}
		if w.sinceTaps >= s.cfg.CheckpointTaps || time.Since(w.lastCkpt) >= s.cfg.CheckpointInterval {
			if err := w.checkpoint(ctx, c); err != nil {
				return w.stop(ctx, c, err)
			}
		}
		if m := s.cfg.Metrics; m != nil {
			w.counts.Publish()
			m.ObserveBatch(time.Since(start))
			last := &buf[n-1]
			w.counts.SetLag(max(0, last.HighWaterMark-last.Offset-1))
			st := w.part.Stats()
			w.counts.SetOpen(st.Open, st.Held)
		}
	}
}

// fetch waits for messages, but while work is not yet checkpointed only
// until the checkpoint interval is up: then it returns
// context.DeadlineExceeded.
func (w *worker) fetch(ctx context.Context, r *feed.PartitionReader, buf []feed.Message) (int, error) {
	if w.sinceTaps == 0 && w.seg.Rows()+w.seg.Rejects() == 0 {
		return r.Fetch(ctx, buf)
	}
	if w.due == nil {
		w.due, w.cancelDue = context.WithDeadline(ctx, w.lastCkpt.Add(w.s.cfg.CheckpointInterval))
	}
	return r.Fetch(w.due, buf)
}

// endDue drops the interval's deadline context: a checkpoint started the
// next interval, or the worker is done.
func (w *worker) endDue() {
	if w.cancelDue != nil {
		w.cancelDue()
		w.due, w.cancelDue = nil, nil
	}
}

// errInterrupted is returned by commit when its context ends before the
// store answered: not a store failure. The checkpoint stays staged
// (worker.staged) for shutdown to commit.
var errInterrupted = errors.New("stream: checkpoint not committed before its context ended")

// stop ends the claim after an error of the consumption loop: a commit
// that the end of consumption (shutdown or rebalance) interrupted is
// finished by shutdown, with the final checkpoint; anything else goes to
// fail.
func (w *worker) stop(ctx context.Context, c *feed.Claim, err error) error {
	if errors.Is(err, errInterrupted) && w.staged && !w.lost {
		return w.shutdown(c)
	}
	return w.fail(ctx, err)
}

// fail turns a checkpoint error into the claim's result: a context that
// ended is a shutdown during an outage (the last committed checkpoint
// stands), a fenced partition belongs to another instance now; both end
// the claim quietly, without a final checkpoint. Anything else is fatal.
func (w *worker) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, state.ErrFenced) {
		w.s.log.Warn("partition released without a final checkpoint", "partition", w.p, "err", err)
		return nil
	}
	w.s.fatal(err)
	return err
}

// shutdownTimeout bounds the final checkpoint of a partition at shutdown
// or rebalance, so that a stop during a store outage still ends.
const shutdownTimeout = 30 * time.Second

// shutdown leaves a final checkpoint behind when consumption ends
// (shutdown or rebalance), with a context of its own since the
// consumption's has ended: first the checkpoint whose commit that end
// interrupted, if any, then one of what remains. The next owner starts
// where this one stopped.
func (w *worker) shutdown(c *feed.Claim) error {
	if w.lost {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if w.staged {
		if err := w.checkpoint(ctx, c); err != nil {
			return w.fail(ctx, err)
		}
	}
	w.submit()
	if err := w.checkpoint(ctx, c); err != nil {
		return w.fail(ctx, err)
	}
	if err := w.s.cfg.Store.Release(w.p); err != nil {
		w.s.log.Warn("release", "partition", w.p, "err", err)
	}
	w.s.log.Info("partition released", "partition", w.p, "checkpoint", w.seq, "offset", w.next)
	return nil
}

func (s *Service) newWorker(ctx context.Context, c *feed.Claim) (*worker, error) {
	w := &worker{
		s:        s,
		p:        c.Partition,
		source:   s.cfg.Topic + "/" + strconv.Itoa(c.Partition),
		segs:     map[transit.Day][]segRef{},
		days:     map[transit.Day]bool{},
		next:     -1,
		lastCkpt: time.Now(),
	}
	w.onReject = w.rejectLine
	w.seg.Compress = s.cfg.CompressSegments
	if s.cfg.Metrics != nil {
		w.counts = s.cfg.Metrics.NewCounts(w.p)
	}
	w.book = s.book.Load()
	part, err := engine.NewPartition(w.book, w, w.p, s.cfg.Engine)
	if err != nil {
		return nil, err
	}
	w.part = part
	var snap *state.Snapshot
	for attempt := 0; ; attempt++ {
		snap, err = s.cfg.Store.Load(ctx, w.p)
		if err == nil {
			break
		}
		if !errors.Is(err, state.ErrUnavailable) {
			return nil, fmt.Errorf("stream: partition %d: load state: %w", w.p, err)
		}
		s.log.Warn("state store unavailable; retrying", "partition", w.p, "err", err)
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return nil, err
		}
	}
	if snap.Seq == 0 {
		if c.Committed > 0 {
			s.log.Warn("no checkpoint for the partition although the group committed an offset: starting from the earliest offset, the state is the authority",
				"partition", w.p, "committed", c.Committed)
		}
		w.sweep(0, false)
		return w, nil
	}
	pending, em, err := decodeMeta(snap.Meta)
	if err != nil {
		return nil, fmt.Errorf("stream: partition %d: %w", w.p, err)
	}
	if err := part.Restore(em, snap.Cards, snap.Lists); err != nil {
		return nil, fmt.Errorf("stream: partition %d: %w", w.p, err)
	}
	for name, blobs := range snap.Lists {
		if !strings.HasPrefix(name, segList) {
			continue
		}
		d := settlement.Undated
		if name != undatedList {
			n, err := strconv.ParseInt(name[len(segList):], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("stream: partition %d: list %q does not name a day: %w", w.p, name, err)
			}
			d = transit.Day(n)
		}
		refs, err := parseSegRefs(blobs)
		if err != nil {
			return nil, fmt.Errorf("stream: partition %d: list %q: %w", w.p, name, err)
		}
		for i := range refs {
			if refs[i].Policy == "" {
				// Committed by a build that did not name the book: it
				// priced with the book its process started with, which
				// its part would have named, as this one names its own.
				refs[i].Policy = w.book.Fingerprint()
			}
		}
		w.segs[d] = refs
		if d != settlement.Undated {
			w.days[d] = true
		}
	}
	w.seq, w.next, w.pending = snap.Seq, snap.Offset, pending
	s.log.Info("partition restored", "partition", w.p, "checkpoint", w.seq, "offset", w.next)
	if last := w.lastPolicy(); last != "" && last != w.book.Fingerprint() {
		// The replay from the checkpoint prices with this process's
		// book: say so, since the rows before it name another.
		s.log.Info("the partition's last committed segment was priced by another fare book: the taps from its checkpoint on are priced by the running one",
			"partition", w.p, "checkpoint", w.seq, "segment_policy", last, "policy", w.book.Fingerprint())
	}
	// A crash may have come between a day's closing checkpoint and its
	// part: write the parts again (same bytes).
	if err := w.writeParts(); err != nil {
		return nil, err
	}
	// Load fenced every earlier owner: what the restored checkpoint does
	// not reference in the partition's folder is debris (sweep.go).
	w.sweep(0, false)
	return w, nil
}

// lastPolicy returns the book that priced the newest segment the
// partition's open days list ("" when they list none).
func (w *worker) lastPolicy() string {
	var last segRef
	for _, refs := range w.segs {
		for _, r := range refs {
			if r.Name > last.Name { // SEQ first in the name: the newest checkpoint's
				last = r
			}
		}
	}
	return last.Policy
}

// adoptBook makes the partition price with the service's fare book when
// it changed (a policy reload): between two batches, so that one book
// prices every tap of a batch, and after a checkpoint of the work priced
// with the previous book, if any, so that one book priced every row of a
// segment (its reference names it) and a replay from the last checkpoint
// re-prices only taps that the new book priced. Taps held in the reorder
// window are priced when they are released: by the new book.
func (w *worker) adoptBook(ctx context.Context, c *feed.Claim) error {
	b := w.s.book.Load()
	if b == w.book {
		return nil
	}
	if w.sinceTaps > 0 || w.seg.Rows()+w.seg.Rejects() > 0 {
		if err := w.checkpoint(ctx, c); err != nil {
			return err
		}
	}
	prev := w.book
	w.book = b
	w.part.SetBook(b)
	w.s.log.Info("partition prices with a new fare book", "partition", w.p, "offset", w.next, "checkpoint", w.seq,
		"policy", b.Fingerprint(), "previous", prev.Fingerprint())
	return nil
}

// message decodes one message into the pending taps, quarantining what
// cannot be read, or acts on a control message.
func (w *worker) message(ctx context.Context, c *feed.Claim, m *feed.Message) error {
	w.next = m.Offset + 1 // the message is consumed whatever it holds
	if w.counts != nil {
		w.counts.Messages(1, len(m.Value))
	}
	if m.Control == feed.ControlCorrection {
		return w.corrections(m)
	}
	if m.Control != "" {
		if m.Control != feed.ControlCloseDay {
			w.reject(m, 0, "", "unknown control message "+strconv.Quote(m.Control))
			return nil
		}
		d, err := feed.ParseCloseDay(m)
		if err != nil {
			w.reject(m, 0, "", err.Error())
			return nil
		}
		w.submit()
		return w.closeThrough(ctx, c, d)
	}
	w.cur = m
	w.taps = w.dec.DecodeMessage(w.taps, m, w.onReject)
	return nil
}

// corrections applies the corrections of message m, one JSON object per
// line, after the taps before it; the partition books the applied ones in
// its first open day, and the refused or malformed ones are quarantined
// with the reason. The card's taps and corrections share the partition,
// so they are applied in the order they were published.
func (w *worker) corrections(m *feed.Message) error {
	w.submit()
	if n := feed.LineCount(m.Value); n > feed.MaxMessageLines {
		w.reject(m, 1, "", fmt.Sprintf("message of %d lines, at most %d: not decoded", n, feed.MaxMessageLines))
		return nil
	}
	var rec ingest.CorrectionRecord
	for line, rest := 0, m.Value; len(rest) > 0; {
		var l []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			l, rest = rest, nil
		}
		line++
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if fe := ingest.DecodeCorrectionJSON(l, &rec); fe != nil {
			w.rejectRaw(m, line, fe.Field, fe.Reason, lineRaw(m.Value, l))
			continue
		}
		o, err := w.part.Correct(&rec.Correction)
		if err != nil {
			return fmt.Errorf("partition %d: correction at offset %d: %w", w.p, m.Offset, err)
		}
		if w.counts != nil {
			w.counts.Correction(o.Status)
		}
		if o.Status != transit.StatusAdjustment {
			field, why := o.Refusal(&rec.Correction, w.s.cfg.Engine.DedupDays)
			w.rejectRaw(m, line, field, why, lineRaw(m.Value, l))
			w.s.log.Warn("correction refused", "partition", w.p, "correction_id", rec.Correction.ID.String(), "card", rec.Correction.Card.String(), "tap_id", rec.Correction.Tap.String(), "reason", why)
		}
	}
	return nil
}

// rejectLine is the decoder's RejectFunc for the message in hand.
func (w *worker) rejectLine(line int, raw []byte, ferr *ingest.FieldError) {
	w.rejectRaw(w.cur, line, ferr.Field, ferr.Reason, lineRaw(w.cur.Value, raw))
}

// lineRaw is the raw record of a bad line of message value: the value, as
// it arrived, when the line is all it holds; the line itself when the value
// holds more. Quarantining the value with each bad line of a batch would
// copy up to MaxRejectRaw bytes per line: a message of short garbage lines
// would take hundreds of times its size in rejects.
func lineRaw(value, line []byte) []byte {
	v := bytes.TrimSuffix(value, []byte{'\n'})
	v = bytes.TrimSuffix(v, []byte{'\r'})
	if len(line) < len(v) {
		return line
	}
	return value
}

// reject quarantines a malformed message with its partition and offset,
// the message value as its raw record.
func (w *worker) reject(m *feed.Message, line int, field, reason string) {
	w.rejectRaw(m, line, field, reason, m.Value)
}

// rejectRaw quarantines a malformed message (or one line of it, raw) with
// its partition and offset. Its day is the partition's current cycle.
func (w *worker) rejectRaw(m *feed.Message, line int, field, reason string, raw []byte) {
	if line > 1 {
		reason = fmt.Sprintf("%s (line %d of the message)", reason, line)
	}
	if len(raw) > transit.MaxRejectRaw {
		raw = raw[:transit.MaxRejectRaw]
	}
	r := transit.Reject{Source: w.source, Line: m.Offset, Field: field, Reason: reason, Raw: string(raw)}
	d, dated := w.cycleDay()
	w.seg.AddReject(&r, d)
	if dated {
		w.days[d] = true
	}
	if w.counts != nil {
		w.counts.Reject(field)
	}
}

// cycleDay is the day a reject without a time is settled in: the day of
// the newest tap seen, or the day after the last closed one.
func (w *worker) cycleDay() (transit.Day, bool) {
	closed, ok := w.part.Closed()
	var d transit.Day
	if t, has := w.part.MaxTime(); has {
		d = w.s.cfg.Calendar.DayOf(t.UnixNano())
	}
	if ok && d <= closed {
		d = closed + 1
	}
	if d == 0 {
		return settlement.Undated, false
	}
	return d, true
}

func (w *worker) submit() {
	if len(w.taps) == 0 {
		return
	}
	w.part.Submit(w.taps)
	w.sinceTaps += len(w.taps)
	w.taps = w.taps[:0]
}

// autoClose closes, by event time, the days whose cut-off the watermark
// passed by CloseAfter.
func (w *worker) autoClose(ctx context.Context, c *feed.Claim) error {
	if w.s.cfg.CloseAfter <= 0 {
		return nil
	}
	wm := w.part.Watermark()
	if wm == math.MinInt64 {
		return nil
	}
	target := w.s.cfg.Calendar.DayOf(wm-int64(w.s.cfg.CloseAfter)) - 1
	closed, ok := w.part.Closed()
	if ok && target <= closed {
		return nil
	}
	if !ok {
		// Nothing closed yet: close only if data of such a day exists.
		any := false
		for d := range w.days {
			any = any || d <= target
		}
		if !any {
			return nil
		}
	}
	return w.closeThrough(ctx, c, target)
}

// closeThrough closes every day up to d, checkpoints, and writes the
// closed days' parts.
func (w *worker) closeThrough(ctx context.Context, c *feed.Claim, d transit.Day) error {
	closed, ok := w.part.Closed()
	if ok && d <= closed {
		return nil
	}
	first := d
	if ok {
		first = closed + 1
	} else {
		for day := range w.days {
			first = min(first, day)
		}
	}
	w.part.CloseDay(d)
	if d-first > 400 {
		// A long gap (a partition idle for a year?): parts for the days
		// with data and for d; the others hold nothing.
		for day := range w.days {
			if day <= d {
				w.pending = append(w.pending, day)
			}
		}
		w.pending = append(w.pending, d)
	} else {
		for day := first; day <= d; day++ {
			w.pending = append(w.pending, day)
		}
	}
	slices.Sort(w.pending)
	w.pending = slices.Compact(w.pending)
	w.foldInto = d
	return w.checkpoint(ctx, c)
}

// checkpoint writes the segment of rows priced since the last checkpoint,
// commits it with the state and the offset, then advances the group's
// offset and writes the parts of days just closed.
func (w *worker) checkpoint(ctx context.Context, c *feed.Claim) error {
	if w.lost {
		return errors.New("stream: a checkpoint of this partition failed; it must be restored from the store")
	}
	start := time.Now()
	if !w.staged {
		w.cp = state.Checkpoint{Seq: w.seq + 1, Offset: w.next, Cards: w.cp.Cards[:0], Drops: w.cp.Drops[:0], Appends: w.cp.Appends[:0]}
		w.arena.reset()
		if w.next < 0 {
			// Nothing consumed yet: nothing to commit.
			return nil
		}
		if err := w.stage(); err != nil {
			return err
		}
		w.staged = true
	}
	if err := w.commit(ctx, start); err != nil {
		return err
	}
	w.staged = false
	return w.committed(c)
}

// stage builds the checkpoint w.cp: the engine's changes and the
// service's meta, the segment of rows and rejects since the last
// checkpoint (written and synced first) in its days' lists, and the
// undated references folded into a day being closed.
func (w *worker) stage() error {
	s := w.s
	// The engine's changes first: it may drop lists of evicted days.
	w.meta = encodeMeta(w.meta[:0], w.pending, func(b []byte) []byte {
		return w.part.Checkpoint(w, w.wantFull(), b)
	})
	w.cp.Meta = w.meta
	w.cp.Drops = append(w.cp.Drops, w.drops...)
	if w.seg.Rows()+w.seg.Rejects() > 0 {
		name := segmentName(w.p, w.cp.Seq, s.owner)
		sum, err := durable.WriteFileFrom(s.segmentPath(name), &w.seg, !s.cfg.SkipSync)
		if err != nil {
			w.lost = true
			return fmt.Errorf("stream: partition %d: segment: %w", w.p, err)
		}
		ref := segRef{Name: name, SHA256: hex.EncodeToString(sum[:]), Policy: w.book.Fingerprint()}
		for _, d := range w.seg.Days() {
			list := segList + strconv.Itoa(int(d))
			if d == settlement.Undated {
				list = undatedList
			}
			w.cp.Appends = append(w.cp.Appends, state.Append{List: list, Blob: w.keep(ref.appendBinary(nil))})
			w.segs[d] = append(w.segs[d], ref)
		}
		w.seg.Reset()
	}
	if w.foldInto != 0 && len(w.segs[settlement.Undated]) > 0 {
		// Rejects that arrived before the partition knew its day are
		// settled in the day being closed.
		list := segList + strconv.Itoa(int(w.foldInto))
		for _, ref := range w.segs[settlement.Undated] {
			ref.Undated = true
			w.cp.Appends = append(w.cp.Appends, state.Append{List: list, Blob: w.keep(ref.appendBinary(nil))})
			w.segs[w.foldInto] = append(w.segs[w.foldInto], ref)
		}
		w.cp.Drops = append(w.cp.Drops, undatedList)
		delete(w.segs, settlement.Undated)
	}
	w.foldInto = 0
	return nil
}

// commit commits the staged checkpoint to the store, retrying while the
// store is unavailable (consumption of the partition stalls meanwhile) and
// until ctx ends; started is when the attempt began, for the metrics.
//
// When ctx ends first it returns errInterrupted and the checkpoint stays
// staged: its outcome is unknown (a Redis commit may have been applied),
// and committing the same checkpoint again is what the Store contract
// makes safe. An attempt cut short by ctx is no store failure: it is
// neither logged as one nor counted.
func (w *worker) commit(ctx context.Context, started time.Time) error {
	s := w.s
	for attempt := 0; ; attempt++ {
		err := s.cfg.Store.Commit(ctx, w.p, &w.cp)
		if err != nil && errors.Is(err, state.ErrUnavailable) && ctx.Err() != nil {
			return fmt.Errorf("stream: partition %d: checkpoint %d: %w (%w)", w.p, w.cp.Seq, errInterrupted, ctx.Err())
		}
		if m := s.cfg.Metrics; m != nil {
			m.ObserveCheckpoint(s.backend, time.Since(started), err)
		}
		if err == nil {
			s.failing.Store(false)
			return nil
		}
		if !errors.Is(err, state.ErrUnavailable) {
			w.lost = true
			return fmt.Errorf("stream: partition %d: checkpoint %d: %w", w.p, w.cp.Seq, err)
		}
		s.failing.Store(true)
		if attempt == 0 || attempt%20 == 0 {
			s.log.Warn("checkpoint failed; consumption of the partition stalls until the store returns", "partition", w.p, "attempt", attempt+1, "err", err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return fmt.Errorf("stream: partition %d: checkpoint %d: %w (%w)", w.p, w.cp.Seq, errInterrupted, err)
		}
		started = time.Now()
	}
}

// committed follows a committed checkpoint: it starts the next interval,
// advances the group's offset, writes the parts of days just closed and
// publishes the partition's progress to the intraday cycles.
func (w *worker) committed(c *feed.Claim) error {
	w.seq = w.cp.Seq
	taps := w.sinceTaps
	w.sinceTaps, w.lastCkpt = 0, time.Now()
	w.endDue()
	w.drops = w.drops[:0]
	closing := len(w.pending) > 0
	if err := c.Commit(w.next); err != nil {
		// The group's offset only feeds lag monitoring; the state holds
		// the real one.
		w.s.log.Warn("offset commit to the group failed", "partition", w.p, "offset", w.next, "err", err)
	}
	if err := w.writeParts(); err != nil {
		return err
	}
	if closing {
		closed, ok := w.part.Closed()
		w.sweep(closed, ok)
	}
	w.publish(taps)
	return nil
}

// wantFull asks for a full checkpoint now and then, so a local log is
// compacted; stores that overwrite keys in place never need one.
func (w *worker) wantFull() bool {
	type compactor interface{ LogBytes(p int) int64 }
	cs, ok := w.s.cfg.Store.(compactor)
	return ok && w.seq > 0 && w.seq%256 == 0 && cs.LogBytes(w.p) > 64<<20
}

// writeParts writes the parts of the closed days, asks for their lists to
// be dropped at the next checkpoint, and clears the days whose parts are
// all present.
func (w *worker) writeParts() error {
	s := w.s
	for _, d := range w.pending {
		part := &Part{
			Version:    partVersion,
			Topic:      s.cfg.Topic,
			Partition:  w.p,
			Partitions: s.cfg.Partitions,
			Day:        settlement.DirName(d),
			Policy:     partPolicy(w.segs[d], w.book),
			Producer:   buildinfo.Read().Producer(),
			Segments:   append([]segRef{}, w.segs[d]...),
		}
		if err := writePart(s.cfg.OutDir, d, part, !s.cfg.SkipSync); err != nil {
			return fmt.Errorf("stream: partition %d: part of %s: %w", w.p, part.Day, err)
		}
		if _, ok := w.segs[d]; ok {
			w.drops = append(w.drops, segList+strconv.Itoa(int(d)))
			delete(w.segs, d)
		}
		delete(w.days, d)
	}
	closed := w.pending
	w.pending = nil
	w.lastDay = 0
	for _, d := range closed {
		if err := s.maybeClear(d); err != nil {
			return fmt.Errorf("stream: clear %s: %w", settlement.DirName(d), err)
		}
	}
	return nil
}

// partPolicy is the policy a part of the segments refs names: the book
// of its segments, or the set of books (settlement.PolicySet) when they
// name several; with none, the book the partition prices with. It is for
// people reading the part: Clear counts the rows each segment's book
// priced.
func partPolicy(refs []segRef, book *fares.Book) string {
	fps := make([]string, 0, len(refs))
	for _, r := range refs {
		if !r.Undated {
			fps = append(fps, r.Policy)
		}
	}
	if fp := settlement.PolicyName(fps); fp != "" {
		return fp
	}
	return book.Fingerprint()
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 5)
	return min(d, 2*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
