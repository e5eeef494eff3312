package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// Settle is the batch clearing job: tap files in, a priced ledger and the
// interregional clearing files out, one folder per settlement day.
type Settle struct {
	// Book prices the taps. Required.
	Book *fares.Book
	// Calendar maps taps to settlement days. Required.
	Calendar *transit.Calendar
	// Shards is the number of engine shards. Default: GOMAXPROCS.
	Shards int
	// BatchSize is the engine's hand-off batch. Default: engine default.
	BatchSize int
	// DedupDays is the engine's dedup window. Default: engine default.
	DedupDays int
	// OutDir is the root of the output. "" writes nothing (benchmarks).
	OutDir string
	// Ledger writes the priced ledger beside the clearing files.
	Ledger bool
	// Force lets the run replace the day folders it owns under OutDir
	// (YYYY-MM-DD and undated; with State, only those after the state's
	// last closed day, and undated). Without it Run refuses, before
	// reading any input, an OutDir that holds any (ErrOutputInUse): an
	// earlier run's days beside this run's would be taken for its own. A
	// forced run removes them once the taps are priced, just before it
	// writes its days. Other entries of OutDir are never touched.
	Force bool
	// SkipSync skips fsync (tests and benchmarks only).
	SkipSync bool
	// State, when set, is a state folder (see state.go): the run goes on
	// from the journey state, tap_ids and held taps it holds, settles taps
	// of days it closed as late in the first open day, closes the days up
	// to Day (holding later taps, carrying journeys open at Day's
	// cut-off), and leaves its state there for the next run.
	State string
	// Day is the last settlement day a run with State closes: required
	// with State, after the state's last closed day.
	Day transit.Day
	// Corrections are correction files (CSV or JSON lines, see package
	// ingest) applied after the run's taps, in the first open day; they
	// correct charges of days earlier runs closed, so they need State.
	Corrections []string
	// RejectBuffer bounds the memory, in bytes, of the malformed records
	// held before they are spilled to disk (settlement.Options.RejectBuffer).
	// Default: settlement.DefaultRejectBuffer.
	RejectBuffer int
	// SpillDir is where the run's spill folders are made, when it needs
	// them (its taps partitioned by card, settlement.Options.SpillDir);
	// they are removed when the run ends, and those left by a run that
	// crashed are removed by the next. Default: os.TempDir().
	SpillDir string
	// MemoryBudget bounds, in bytes, the memory the run plans for its
	// data: the taps an engine holds with their card states, and the rows
	// and malformed records held for the files before they spill to
	// SpillDir (settlement.Options.RowBuffer, RejectBuffer). A day whose taps would
	// need more is partitioned by card to SpillDir as it is read (the taps
	// read so far too) and priced a group of partitions at a time, each in
	// an engine of its own: the files are the same as a run in memory.
	// A run with State is partitioned the same way: the state's records
	// go to the partitions of their cards, each group's engine loads
	// those of its cards, closes the days and applies its cards'
	// corrections, and the state saved joins the groups' (the same
	// records as a run in memory's, in group order; partstate.go). A run
	// with State holds its taps out of the engine until they are all
	// read or pass the budget, since the engine loads the whole state
	// before its first tap. Default: DefaultMemoryBudget.
	MemoryBudget int64
	// Progress, when set, is told the compressed input bytes consumed.
	Progress func(n int64)
	// ProgressRecords, when set, is told the input records decoded, as
	// they are (a batch at a time, from the decoding goroutines at once):
	// the rate a progress display shows.
	ProgressRecords func(n int64)
	// OnPhase, when set, is told each phase of the run as it begins, so
	// that a progress display can say what the run does once it has read
	// its inputs (the batch job prices a day when it has read all of it).
	OnPhase func(Phase)
	// Log receives progress and outcome records. Default: discard.
	Log *slog.Logger

	// afterPartition, set by tests only, is called with the spill
	// folder once the run's taps are partitioned, before they are priced.
	afterPartition func(dir string)
	// groupShards, set by tests only, is the shard count of the engines
	// that price groups of partitions, instead of the plan's.
	groupShards int
}

// Phase is a stage of a Settle run, in the order they come.
type Phase int

// The phases of a run.
const (
	// PhaseReading: the inputs are decoded into the engine.
	PhaseReading Phase = iota
	// PhasePricing: every input is read; the engine prices the taps (its
	// window holds every tap until then), closes the days and, with a
	// state folder, applies the corrections.
	PhasePricing
	// PhaseWriting: every tap is priced; the days' files (and the state)
	// are written.
	PhaseWriting
)

// String names the phase, for people.
func (p Phase) String() string {
	switch p {
	case PhaseReading:
		return "reading"
	case PhasePricing:
		return "pricing"
	case PhaseWriting:
		return "writing"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Report is what a Settle run did.
type Report struct {
	Inputs []InputReport
	// Days are the days settled. Their rejects, when the run spilled them
	// (Day.RejectCount exceeds len(Day.Rejects)), were removed with the
	// run's spill folder: only their counts remain.
	Days      []*settlement.Day
	Manifests []*settlement.Manifest
	Engine    engine.Stats
	// Records, Taps and Rejected sum the inputs (Records == Taps + Rejected).
	Records, Taps, Rejected int64
	// Elapsed is the wall time of the run, Priced the time at which the
	// last tap was priced (before files were written).
	Elapsed, Priced time.Duration
	// State is the state folder's state.json after the run (with State).
	State *StateInfo
	// Corrections counts what became of the corrections.
	Corrections CorrectionsReport
	// Partitioned says how a day larger than the memory budget was
	// priced; zero when it was priced in memory.
	Partitioned PartitionReport
}

// PartitionReport describes a run whose taps went to partitions on disk
// (see Settle.MemoryBudget).
type PartitionReport struct {
	// Taps is the number of taps written to partitions: every tap of
	// the run.
	Taps int64
	// Groups is the number of engines that priced groups of partitions.
	Groups int
	// Splits is the number of partitions too large for the budget alone
	// that were split again.
	Splits int
	// Bytes is the size of the taps' partitions on disk (before any
	// split); with State, the state's partitions come on top.
	Bytes int64
}

// InputReport describes one input.
type InputReport struct {
	Name        string
	Format      ingest.Format
	Compression ingest.Compression
	Stats       ingest.Stats
}

// spillParent is the folder in which a run with SpillDir dir makes its
// spill folders.
func spillParent(dir string) string {
	if dir == "" {
		return os.TempDir()
	}
	return dir
}

// InputSize returns the total size of the named inputs in bytes, or -1 if
// any is a stream whose size is unknown (standard input, a pipe).
func InputSize(paths []string) int64 {
	var total int64
	for _, p := range paths {
		if p == "-" {
			return -1
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		total += fi.Size()
	}
	return total
}

// tapBuf is a decoded batch travelling from a decoder to the router.
type tapBuf struct{ taps []transit.Tap }

const decodeBatch = 4096

// Run settles the inputs. Inputs are decoded concurrently (one goroutine
// each, up to GOMAXPROCS at once); a single router feeds the engine, whose
// window is unbounded: every tap is priced at the end of the input, each
// card's taps in event-time order (card by card, see package engine), so
// the output does not depend on input order, the number of files or the
// number of shards.
func (s *Settle) Run(ctx context.Context, inputs []string) (*Report, error) {
	start := time.Now()
	if s.Book == nil || s.Calendar == nil {
		return nil, errors.New("settle: Book and Calendar are required")
	}
	if len(inputs) == 0 && len(s.Corrections) == 0 {
		return nil, errors.New("settle: no input files")
	}
	if len(s.Corrections) > 0 && s.State == "" {
		return nil, errors.New("settle: corrections correct days settled by earlier runs: they need the state folder those runs kept (--state)")
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	plan, err := s.plan()
	if err != nil {
		return nil, err
	}
	eopts := engine.Options{Shards: s.Shards, BatchSize: s.BatchSize, DedupDays: s.DedupDays, Window: engine.Unbounded, Calendar: s.Calendar,
		KeepCharges: s.State != ""}
	eopts.EnsureDefaults()
	// A run that was killed leaves its spill folders: remove them now,
	// whether or not this run needs one (best effort, as spill.Open).
	_, _ = spill.Clean(spillParent(s.SpillDir))
	var sd *stateDir
	switch {
	case s.State != "" && s.Day == 0:
		return nil, errors.New("settle: a run with a state folder needs the settlement day it closes (--day)")
	case s.State == "" && s.Day != 0:
		return nil, errors.New("settle: --day closes a day of a state folder: it needs --state")
	case s.State != "":
		var err error
		if sd, err = openState(s.State, s.Calendar, !s.SkipSync); err != nil {
			return nil, err
		}
		defer sd.release()
		if closed := sd.closed(); s.Day <= closed {
			return nil, fmt.Errorf("settle: state %s: days up to %v are closed, so %v cannot be closed again; "+
				"a closed day's files never change: taps of it that arrive later are settled as late in the next open day, "+
				"and to settle a closed day again, run from a copy of the state folder taken before it was closed: %w",
				s.State, closed, s.Day, ErrDayClosed)
		}
	}
	var closed transit.Day
	if sd != nil {
		closed = sd.closed()
	}
	replace, err := s.claimOutput(sd != nil, closed)
	if err != nil {
		return nil, err
	}
	rep := &Report{Inputs: make([]InputReport, len(inputs))}
	coll := settlement.NewCollector(settlement.Options{
		Participants: s.Book.Participants(),
		Shards:       eopts.Shards,
		Calendar:     s.Calendar,
		Ledger:       s.Ledger,
		RejectBuffer: plan.rejects,
		RowBuffer:    plan.rows,
		SpillDir:     s.SpillDir,
	})
	defer coll.Close()
	run := &pricing{coll: coll, onReject: coll.Reject}
	if sd != nil {
		run.carry(sd.closed(), s.Day, s.Calendar)
		// Corrections are booked in the first open day; so are those
		// refused, and the malformed, in its rejects.
		first := sd.closed() + 1
		run.rejectCorrection = func(r transit.Reject) { coll.RejectIn(first, r) }
		var err error
		if run.corrections, rep.Corrections.Malformed, err = readCorrections(s.Corrections, run.rejectCorrection); err != nil {
			return nil, err
		}
		run.window, run.log = eopts.DedupDays, log
	}
	// The router holds the only reference to the engine, so that the
	// engine's memory goes when the router drops it (partition).
	rt := &router{s: s, ctx: ctx, coll: coll, eopts: eopts, plan: plan, log: log, part: &rep.Partitioned, sd: sd, run: run}
	if rt.eng, err = engine.New(s.Book, coll, eopts); err != nil {
		return nil, fmt.Errorf("settle: %w", err)
	}
	// The partitions, and the groups' states, stay on disk until the
	// state is saved.
	defer rt.cleanup()
	s.phase(PhaseReading)
	if err := rt.price(inputs, rep); err != nil {
		return nil, err
	}
	rep.Engine = rt.stats
	rep.Priced = time.Since(start)
	for _, ir := range rep.Inputs {
		rep.Records += ir.Stats.Records
		rep.Taps += ir.Stats.Taps
		rep.Rejected += ir.Stats.Rejected
	}
	log.Info("priced", "records", rep.Records, "taps", rep.Taps, "malformed", rep.Rejected, "elapsed", rep.Priced)
	if pr := rep.Partitioned; pr.Groups > 0 {
		log.Info("priced by partition", "taps", pr.Taps, "bytes", pr.Bytes, "groups", pr.Groups, "splits", pr.Splits)
	}
	s.phase(PhaseWriting)
	if len(replace) > 0 {
		if err := s.replaceOutput(replace); err != nil {
			return nil, err
		}
		log.Info("replaced the days of an earlier run", "dir", s.OutDir, "days", replace)
	}
	if err := s.writeDays(coll, rep, plan, log); err != nil {
		return nil, err
	}
	if sd != nil {
		if err := sd.save(rt.writeState(s.Day), rep.Engine.Open, rep.Engine.Held, s.Day, s.Calendar, eopts.DedupDays, s.Book.Fingerprint()); err != nil {
			return nil, err
		}
		rep.State = sd.info
		log.Info("state saved", "dir", s.State, "closed", sd.info.Closed, "carried", sd.info.Carried, "held", sd.info.Held)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// pricing is what a run routes rejects through, and the day it closes.
// With a state folder, rejects of days it closed go to the first open day
// (late; the engine moves its rows so, from the state's last closed day),
// and the engine is closed only up to the run's day.
type pricing struct {
	coll     *settlement.Collector
	onReject func(transit.Reject)
	last     transit.Day // the day the run closes (state only; 0: all)

	// corrections are applied once the run's days are closed.
	corrections      []correctionIn
	rejectCorrection func(transit.Reject)
	window           int
	log              *slog.Logger
}

// carry sets the run up to go on from a state whose last closed day is
// closed (0: a new state) and close the days up to last. A malformed
// record is reported in the run that reads it: of a closed day, in the
// first open day; of a day after last, or without a time, in last.
func (p *pricing) carry(closed, last transit.Day, cal *transit.Calendar) {
	p.last = last
	p.onReject = func(r transit.Reject) {
		d := last
		if r.HasTime {
			d = min(max(cal.DayOf(r.Time), closed+1), last)
		}
		p.coll.RejectIn(d, r)
	}
}

// router prices a run's taps: in its engine, or, once they pass the
// budget's plan, partitioned by card to disk and priced a group of
// partitions at a time (partition.go).
type router struct {
	s     *Settle
	ctx   context.Context
	coll  *settlement.Collector
	eopts engine.Options
	plan  budgetPlan
	log   *slog.Logger
	// eng is the run's engine; nil once its taps went to partitions.
	eng   *engine.Engine
	stats engine.Stats
	// sd is the run's state folder (nil: none), loaded into eng just
	// before its first taps (see price); pstate what a partitioned run
	// with it keeps (partstate.go).
	sd     *stateDir
	pstate *partState
	// run routes the run's rejects, closes its days and holds its
	// corrections.
	run *pricing
	// pending are taps the router holds before the engine does.
	pending []*tapBuf
	dir     *spill.Dir // the partitions' spill folder, once made
	parts   *tapParts  // the partitions being written
	part    *PartitionReport
}

// price decodes the inputs into the engine and closes it: every tap is
// priced into coll when it returns nil. Each input's report goes into
// rep.Inputs. When the taps held pass the budget's plan, they go to
// partitions on disk instead, and the inputs' other taps after them; the
// partitions are then priced in turn.
func (p *router) price(inputs []string, rep *Report) error {
	run := p.run
	defer func() {
		// Without a state folder the partitions go now, before the
		// files are written; with one, the groups' states stay until
		// the state is saved (Run cleans up then).
		if p.pstate == nil {
			p.cleanup()
		}
	}()
	full := make(chan *tapBuf, 8)
	free := make(chan *tapBuf, 16)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	fail := func(err error) { firstErr.CompareAndSwap(nil, &err) }
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ir, err := p.s.decode(ctx, in, run.onReject, full, free)
			rep.Inputs[i] = ir
			if err != nil {
				fail(err)
				cancel()
			}
		}()
	}
	go func() { wg.Wait(); close(full) }()
	// The router holds the first taps itself (see engine.HoldFloor) until
	// they pass directFrom, when they go to the engine and the rest
	// straight after them; or, when the plan's taps come first, to the
	// partitions.
	directFrom := min(p.plan.maxTaps+1, int64(engine.HoldFloor)*int64(p.eopts.Shards))
	if p.sd != nil {
		// With a state folder the router holds every tap until it knows
		// whether the run fits the budget: the engine loads the whole
		// state before its first tap, and a partitioned run loads it a
		// group at a time instead.
		directFrom = p.plan.maxTaps + 1
	}
	var held int64
	failed := false
	for b := range full { // the router: the one goroutine that submits
		switch {
		case failed:
		case p.parts != nil:
			for i := range b.taps {
				p.parts.add(&b.taps[i])
			}
			p.part.Taps += int64(len(b.taps))
		default:
			held += int64(len(b.taps))
			switch {
			case held > p.plan.maxTaps:
				p.hold(b)
				b = nil
				if err := p.partition(held); err != nil {
					fail(err)
					cancel()
					failed = true
				}
			case held < directFrom:
				p.hold(b)
				b = nil
			default:
				p.submitPending(free)
				p.eng.Submit(b.taps)
			}
		}
		if b != nil {
			select {
			case free <- b:
			default:
			}
		}
	}
	if err := firstErr.Load(); err != nil {
		return *err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.s.phase(PhasePricing)
	if p.parts != nil {
		parts, err := p.parts.finish()
		p.parts = nil
		if err != nil {
			return err
		}
		for i := range parts {
			p.part.Bytes += parts[i].bytes
		}
		if p.sd != nil {
			p.pstate = &partState{sd: p.sd,
				head:     engine.AppendStateHead(nil, p.sd.closed(), p.eopts.DedupDays),
				outcomes: make([]engine.CorrectionOutcome, len(run.corrections))}
			if err := p.splitState(&parts); err != nil {
				return err
			}
			for i := range run.corrections {
				k := engine.CardPartition(&run.corrections[i].rec.Correction.Card, 0)
				parts[k].corr = append(parts[k].corr, i)
			}
		}
		if p.s.afterPartition != nil {
			p.s.afterPartition(p.dir.Path())
		}
		if err := p.pricePartitions(&parts, 0); err != nil {
			return err
		}
		if p.sd != nil {
			run.reportCorrections(p.pstate.outcomes, &rep.Corrections)
		}
		return nil
	}
	if p.sd != nil {
		// The run fits the budget: the engine loads the whole state
		// before its first tap (the router held them all, see
		// directFrom).
		if err := p.sd.load(p.eng); err != nil {
			return err
		}
	}
	p.submitPending(free)
	defer func() { p.stats = p.eng.Stats() }()
	if run.last == 0 {
		p.eng.Close()
		return nil
	}
	// With a state folder: close the run's days, hold the rest.
	p.eng.CloseDay(run.last)
	if err := run.applyCorrections(p.eng, &rep.Corrections); err != nil {
		return err
	}
	p.eng.Stop()
	return nil
}

// writeState returns what writes the run's engine state, the days up to
// last closed, once price returned: its engine's, or the groups' joined.
func (p *router) writeState(last transit.Day) func(io.Writer) error {
	if p.pstate != nil {
		return func(w io.Writer) error { return p.pstate.writeState(w, last, p.eopts.DedupDays) }
	}
	return func(w io.Writer) error { return p.eng.WriteState(w, last) }
}

// hold keeps b's taps in the router, for the engine or the partitions.
func (p *router) hold(b *tapBuf) { p.pending = append(p.pending, b) }

// submitPending hands the taps the router holds to the engine, and their
// buffers back to the decoders.
func (p *router) submitPending(free chan *tapBuf) {
	for i, b := range p.pending {
		p.eng.Submit(b.taps)
		p.pending[i] = nil
		select {
		case free <- b:
		default:
		}
	}
	p.pending = p.pending[:0]
}

// cleanup stops what price leaves running after an error: the engine, the
// partitions' writers; and removes the spill folder.
func (p *router) cleanup() {
	if p.eng != nil {
		p.eng.Stop() // a no-op once closed
	}
	if p.parts != nil {
		p.parts.finish()
		p.parts = nil
	}
	p.pstate.close()
	if p.dir != nil {
		p.dir.Close()
		p.dir = nil
	}
}

// partition stops the engine, which holds the held taps read so far, and
// moves them to partitions on disk, where the router sends the rest.
func (p *router) partition(held int64) error {
	dir, err := spill.Open(p.s.SpillDir)
	if err != nil {
		return fmt.Errorf("settle: partition taps to disk: %w", err)
	}
	p.dir = dir
	p.log.Info("the day is larger than the memory budget: partitioning its taps by card to disk",
		"taps", held, "budget", sizeText(p.plan.budget), "partitions", partitions, "dir", dir.Path())
	p.parts = newTapParts(dir, 0, p.plan.partBuf)
	p.eng.Stop()
	if err := p.eng.Held(p.parts.add); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	for _, b := range p.pending {
		for i := range b.taps {
			p.parts.add(&b.taps[i])
		}
	}
	p.pending = nil
	p.part.Taps = held
	p.eng = nil // its memory goes with it
	return nil
}

// pricePartitions prices the partitions of a split at level, in order, a
// group of adjacent ones at a time: as many as the budget's plan holds.
// A partition larger than that alone is split again at the next level,
// while there is one.
func (p *router) pricePartitions(parts *[partitions]partition, level int) error {
	var g group
	flush := func() error {
		if g.weight == 0 && len(g.corr) == 0 {
			return nil
		}
		err := p.priceGroup(&g)
		g = group{secs: g.secs[:0], state: g.state[:0], corr: g.corr[:0]}
		return err
	}
	for i := range parts {
		pt := &parts[i]
		w := pt.weight()
		if w == 0 && len(pt.corr) == 0 {
			continue
		}
		if g.weight > 0 && g.weight+w > p.plan.maxTaps {
			if err := flush(); err != nil {
				return err
			}
		}
		if w > p.plan.maxTaps && level+1 < engine.PartitionLevels {
			sub, err := p.split(pt, level+1)
			if err != nil {
				return err
			}
			if err := p.pricePartitions(sub, level+1); err != nil {
				return err
			}
			continue
		}
		g.secs = append(g.secs, pt.secs...)
		g.state = append(g.state, pt.state...)
		g.corr = append(g.corr, pt.corr...)
		g.taps += pt.taps
		g.weight += w
	}
	return flush()
}

// group is a group of partitions priced in one engine: their taps'
// sections, their state's, their corrections.
type group struct {
	secs, state  []spill.Section
	corr         []int
	taps, weight int64
}

// split partitions one partition's taps again, at level.
func (p *router) split(pt *partition, level int) (*[partitions]partition, error) {
	p.log.Info("a partition is larger than the memory budget: splitting it", "taps", pt.taps, "budget", sizeText(p.plan.budget))
	p.part.Splits++
	tp := newTapParts(p.dir, level, p.plan.partBuf)
	var buf []transit.Tap
	for _, sec := range pt.secs {
		err := readSection(sec, func(n int) []transit.Tap {
			buf = tapSlice(buf, n)
			return buf
		}, func(taps []transit.Tap) error {
			for i := range taps {
				tp.add(&taps[i])
			}
			return p.ctx.Err()
		})
		if err != nil {
			tp.finish()
			return nil, fmt.Errorf("settle: read partition: %w", err)
		}
	}
	parts, err := tp.finish()
	if err != nil {
		return nil, err
	}
	if err := p.splitPartState(pt, level, &parts); err != nil {
		return nil, err
	}
	for _, i := range pt.corr {
		k := engine.CardPartition(&p.run.corrections[i].rec.Correction.Card, level)
		parts[k].corr = append(parts[k].corr, i)
	}
	return &parts, nil
}

// priceGroup prices the taps of a group of partitions (their sections)
// in an engine of its own, into the run's collector. Readers decode the
// sections concurrently; the caller's goroutine submits.
func (p *router) priceGroup(g *group) error {
	secs := g.secs
	p.log.Debug("pricing a group of partitions", "taps", g.taps, "sections", len(secs), "state sections", len(g.state), "corrections", len(g.corr))
	opts := p.eopts
	opts.Shards = p.plan.groupShards(opts.Shards)
	if p.s.groupShards > 0 {
		opts.Shards = min(p.s.groupShards, p.eopts.Shards)
	}
	eng, err := engine.New(p.s.Book, p.coll, opts)
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	defer eng.Stop() // on error; a no-op once closed
	if p.pstate != nil {
		if err := p.pstate.loadGroup(eng, g.state); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	full := make(chan []transit.Tap, 8)
	free := make(chan []transit.Tap, 16)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for range min(runtime.GOMAXPROCS(0), len(secs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(secs) {
					return
				}
				err := readSection(secs[i], func(n int) []transit.Tap {
					var buf []transit.Tap
					select {
					case buf = <-free:
					default:
					}
					return tapSlice(buf, n)
				}, func(b []transit.Tap) error {
					select {
					case full <- b:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
				if err != nil {
					err = fmt.Errorf("settle: read partition: %w", err)
					firstErr.CompareAndSwap(nil, &err)
					cancel()
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(full) }()
	for b := range full {
		eng.Submit(b)
		select {
		case free <- b:
		default:
		}
	}
	if err := firstErr.Load(); err != nil {
		return *err
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	if p.pstate == nil {
		eng.Close()
	} else {
		// As the engine in memory: close the run's days, apply the
		// corrections, hold the rest, and keep the state.
		eng.CloseDay(p.run.last)
		if err := p.run.correct(eng, g.corr, p.pstate.outcomes); err != nil {
			return err
		}
		eng.Stop()
		if err := p.saveGroup(eng, p.run.last); err != nil {
			return err
		}
	}
	p.stats.Add(eng.Stats())
	p.part.Groups++
	return nil
}

// writeDays validates the collected days into rep.Days and, when OutDir is
// set, writes each day's files, their manifests going into rep.Manifests.
func (s *Settle) writeDays(coll *settlement.Collector, rep *Report, plan budgetPlan, log *slog.Logger) error {
	for _, d := range coll.Days() {
		day := coll.Day(d)
		if err := day.Validate(); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		rep.Days = append(rep.Days, day)
		if s.OutDir == "" {
			continue
		}
		m, err := settlement.WriteDay(s.OutDir, day, settlement.WriteOptions{
			Ledger:            s.Ledger,
			PolicyFingerprint: s.Book.Fingerprint(),
			SkipSync:          s.SkipSync,
			Concurrency:       plan.writers,
		})
		if err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		rep.Manifests = append(rep.Manifests, m)
		log.Info("day written", "day", settlement.DirName(d), "records", day.Records, "dir", s.OutDir)
	}
	return nil
}

// decode reads one input into batches for the router.
func (s *Settle) decode(ctx context.Context, path string, onReject func(transit.Reject), full, free chan *tapBuf) (InputReport, error) {
	ir := InputReport{Name: path}
	var src io.Reader
	if path == "-" {
		src = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return ir, fmt.Errorf("settle: %w", err)
		}
		defer f.Close()
		src = f
	}
	if s.Progress != nil {
		src = &countingReader{r: src, add: s.Progress}
	}
	rd, err := ingest.NewReader(path, src, ingest.Options{OnReject: onReject})
	if err != nil {
		return ir, fmt.Errorf("settle: %w", err)
	}
	defer rd.Close()
	ir.Format, ir.Compression = rd.Format(), rd.Compression()
	var reported int64 // records told to ProgressRecords
	for {
		var b *tapBuf
		select {
		case b = <-free:
		default:
			// Populated at once (pages.Make): a run with a state folder,
			// or a small day, holds its buffers whole until the input
			// ends, and a page fault per 4 KiB of them cost more than
			// decoding into them.
			b = &tapBuf{taps: pages.Make[transit.Tap](decodeBatch)}
		}
		n, err := rd.Read(b.taps[:cap(b.taps)])
		if s.ProgressRecords != nil {
			// Records, not taps: a malformed record took reading too.
			st := rd.Stats()
			s.ProgressRecords(st.Records - reported)
			reported = st.Records
		}
		if n > 0 {
			b.taps = b.taps[:n]
			select {
			case full <- b:
			case <-ctx.Done():
				return ir, ctx.Err()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			ir.Stats = rd.Stats()
			return ir, fmt.Errorf("settle: %w", err)
		}
	}
	ir.Stats = rd.Stats()
	return ir, nil
}

// phase tells OnPhase that the run enters p.
func (s *Settle) phase(p Phase) {
	if s.OnPhase != nil {
		s.OnPhase(p)
	}
}

type countingReader struct {
	r   io.Reader
	add func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.add(int64(n))
	}
	return n, err
}
