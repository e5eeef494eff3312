package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// A run with a state folder whose taps pass the budget is partitioned
// like any other (partition.go), and its state with it: the engine state
// file is read once, record by record (engine.StateRecords), into
// partitions of the same card bits as the taps', in the same spill
// folder; a partition split again splits its state too. Each group's
// engine loads the state of its partitions' cards (and only theirs)
// before its taps, closes the run's days, applies the corrections of its
// cards, and writes its state to the spill folder; the state saved at the
// end joins the groups' states, in group order, after one head. Every
// record of a state but the head is a card's (engine/statesplit.go), and
// a card's rows depend on its own state alone, so the day files are those
// of the run in memory, and the state joined loads as the same engine
// state as the in-memory run's (its records in another order: by group,
// not by shard).
//
// The state of a partition counts against the budget like as many taps
// as it has records: a card's state, a held tap or a kept charge costs
// about as much as a tap held, a tap_id less (it counts the same, on the
// safe side).

// partState is what a partitioned run with a state folder keeps.
type partState struct {
	sd *stateDir
	// head is the head each group's engine reads before its records:
	// the state's last closed day, and the run's dedup window.
	head []byte
	// out is the file the groups' engines write their states to, one
	// section each, in order.
	out  *spill.File
	outs []spill.Section
	// outcomes are the corrections' outcomes, by index, as the groups
	// apply them.
	outcomes []engine.CorrectionOutcome
}

// splitState reads the state folder's engine state into partitions at
// level 0, added to parts.
func (p *router) splitState(parts *[partitions]partition) error {
	ps := p.pstate
	if ps.sd.info == nil { // a new folder holds no state
		return nil
	}
	return ps.sd.read(func(r io.Reader) (transit.Day, error) {
		return p.splitRecords(r, 0, parts)
	})
}

// splitPartState splits the state of partition pt again, at level, into
// sub.
func (p *router) splitPartState(pt *partition, level int, sub *[partitions]partition) error {
	if len(pt.state) == 0 {
		return nil
	}
	r, done := p.pstate.records(pt.state)
	defer done()
	if _, err := p.splitRecords(r, level, sub); err != nil {
		return fmt.Errorf("settle: split state: %w", err)
	}
	return nil
}

// splitRecords reads the engine state r record by record into
// partitions at level, their sections and record counts set in parts;
// it returns the state's last closed day.
func (p *router) splitRecords(r io.Reader, level int, parts *[partitions]partition) (transit.Day, error) {
	tp := newTapParts(p.dir, level, p.plan.partBuf)
	closed, _, err := engine.StateRecords(r, func(card *transit.CardID, rec []byte) error {
		tp.addRaw(engine.CardPartition(card, level), rec)
		return p.ctx.Err()
	})
	sparts, ferr := tp.finish()
	if err = firstOf(err, ferr); err != nil {
		return 0, err
	}
	for i := range parts {
		parts[i].state = sparts[i].secs
		parts[i].stateRecs = sparts[i].taps
	}
	return closed, nil
}

// records returns the state of the partitions whose sections are secs:
// their records after the head, and the end; and what closes the file it
// reads.
func (ps *partState) records(secs []spill.Section) (io.Reader, func()) {
	sr := &sectionReader{secs: secs, counted: true}
	return io.MultiReader(bytes.NewReader(ps.head), sr, bytes.NewReader(engine.AppendStateEnd(nil))), sr.close
}

// loadGroup loads the state of a group's partitions into its engine.
func (ps *partState) loadGroup(eng *engine.Engine, secs []spill.Section) error {
	if ps.sd.info == nil { // a new folder holds no state
		return nil
	}
	r, done := ps.records(secs)
	defer done()
	// The day the state closes is head's, the state folder's own.
	if _, err := eng.ReadState(r); err != nil {
		return fmt.Errorf("settle: state: %w", err)
	}
	return nil
}

// saveGroup writes the state of a group's stopped engine, which closed
// the days up to last, to the spill folder.
func (p *router) saveGroup(eng *engine.Engine, last transit.Day) error {
	ps := p.pstate
	if ps.out == nil {
		f, err := p.dir.Create()
		if err != nil {
			return fmt.Errorf("settle: write a group's state: %w", err)
		}
		ps.out = f
	}
	w := &sectionWriter{f: ps.out}
	if err := eng.WriteState(w, last); err != nil {
		return fmt.Errorf("settle: write a group's state: %w", err)
	}
	sec, err := w.end()
	if err != nil {
		return fmt.Errorf("settle: write a group's state: %w", err)
	}
	ps.outs = append(ps.outs, sec)
	return nil
}

// writeState writes the state of the whole run, closing the days up to
// last, to w: the groups' states joined, their records in group order.
func (ps *partState) writeState(w io.Writer, last transit.Day, dedupDays int) error {
	if _, err := w.Write(engine.AppendStateHead(nil, last, dedupDays)); err != nil {
		return err
	}
	for _, sec := range ps.outs {
		sr := &sectionReader{secs: []spill.Section{sec}}
		_, _, err := engine.StateRecords(sr, func(_ *transit.CardID, rec []byte) error {
			_, err := w.Write(rec)
			return err
		})
		sr.close()
		if err != nil {
			return err
		}
	}
	_, err := w.Write(engine.AppendStateEnd(nil))
	return err
}

// close closes the file of the groups' states (the spill folder goes
// with the router).
func (ps *partState) close() {
	if ps != nil && ps.out != nil {
		ps.out.Close()
		ps.out = nil
	}
}

// sectionWriter writes a stream to a section of a spill file, a record a
// block.
type sectionWriter struct {
	f   *spill.File
	buf []byte
}

const sectionBlock = 64 << 10

func (w *sectionWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, sectionBlock)
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], b)
		w.buf, b = w.buf[:len(w.buf)+k], b[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.f.Append(w.buf); err != nil {
				return 0, err
			}
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

// end writes what is buffered and closes the section.
func (w *sectionWriter) end() (spill.Section, error) {
	if len(w.buf) > 0 {
		if err := w.f.Append(w.buf); err != nil {
			return spill.Section{}, err
		}
	}
	return w.f.EndSection()
}

// sectionReader reads the records of sections as one stream; counted
// records (tapParts' buffers) start with a count, which it skips.
type sectionReader struct {
	secs    []spill.Section
	counted bool
	rd      *spill.Reader
	buf     []byte
}

// close closes the section being read, if any.
func (r *sectionReader) close() {
	if r.rd != nil {
		r.rd.Close()
		r.rd = nil
	}
}

func (r *sectionReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.rd == nil {
			if len(r.secs) == 0 {
				return 0, io.EOF
			}
			rd, err := spill.OpenSection(r.secs[0])
			if err != nil {
				return 0, err
			}
			r.rd, r.secs = rd, r.secs[1:]
		}
		rec, err := r.rd.Next()
		if err == io.EOF {
			r.rd.Close()
			r.rd = nil
			continue
		}
		if err != nil {
			r.rd.Close()
			r.rd = nil
			r.secs = nil
			return 0, err
		}
		if r.counted {
			_, k := binary.Uvarint(rec)
			if k <= 0 {
				return 0, fmt.Errorf("%w: a state section's record without its count", errPartition)
			}
			rec = rec[k:]
		}
		r.buf = rec
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
