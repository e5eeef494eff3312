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
	// SpillDir is where the run's spill folder is made, when it needs one
	// (settlement.Options.SpillDir); it is removed when the run ends, and
	// one left by a run that crashed is removed by the next. Default:
	// os.TempDir().
	SpillDir string
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
}

// InputReport describes one input.
type InputReport struct {
	Name        string
	Format      ingest.Format
	Compression ingest.Compression
	Stats       ingest.Stats
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
	eopts := engine.Options{Shards: s.Shards, BatchSize: s.BatchSize, DedupDays: s.DedupDays, Window: engine.Unbounded, Calendar: s.Calendar,
		KeepCharges: s.State != ""}
	eopts.EnsureDefaults()
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
		RejectBuffer: s.RejectBuffer,
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
	eng, err := engine.New(s.Book, coll, eopts)
	if err != nil {
		return nil, fmt.Errorf("settle: %w", err)
	}
	if sd != nil {
		if err := sd.load(eng); err != nil {
			eng.Close()
			return nil, err
		}
	}
	s.phase(PhaseReading)
	if err := s.price(ctx, inputs, eng, run, rep); err != nil {
		return nil, err
	}
	rep.Engine = eng.Stats()
	rep.Priced = time.Since(start)
	for _, ir := range rep.Inputs {
		rep.Records += ir.Stats.Records
		rep.Taps += ir.Stats.Taps
		rep.Rejected += ir.Stats.Rejected
	}
	log.Info("priced", "records", rep.Records, "taps", rep.Taps, "malformed", rep.Rejected, "elapsed", rep.Priced)
	s.phase(PhaseWriting)
	if len(replace) > 0 {
		if err := s.replaceOutput(replace); err != nil {
			return nil, err
		}
		log.Info("replaced the days of an earlier run", "dir", s.OutDir, "days", replace)
	}
	if err := s.writeDays(coll, rep, log); err != nil {
		return nil, err
	}
	if sd != nil {
		if err := sd.save(eng, s.Day, s.Calendar, eopts.DedupDays, s.Book.Fingerprint()); err != nil {
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

// price decodes the inputs into the engine and closes it: every tap is
// priced into coll when it returns nil. Each input's report goes into
// rep.Inputs.
func (s *Settle) price(ctx context.Context, inputs []string, eng *engine.Engine, run *pricing, rep *Report) error {
	engineOpen := true
	defer func() {
		if engineOpen {
			eng.Close()
		}
	}()
	full := make(chan *tapBuf, 8)
	free := make(chan *tapBuf, 16)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	fail := func(err error) { firstErr.CompareAndSwap(nil, &err) }
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ir, err := s.decode(ctx, in, run.onReject, full, free)
			rep.Inputs[i] = ir
			if err != nil {
				fail(err)
				cancel()
			}
		}()
	}
	go func() { wg.Wait(); close(full) }()
	for b := range full { // the router: the one goroutine that submits
		eng.Submit(b.taps)
		select {
		case free <- b:
		default:
		}
	}
	if p := firstErr.Load(); p != nil {
		return *p
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.phase(PhasePricing)
	if run.last == 0 {
		eng.Close()
		engineOpen = false
		return nil
	}
	// With a state folder: close the run's days, hold the rest.
	eng.CloseDay(run.last)
	if err := run.applyCorrections(eng, &rep.Corrections); err != nil {
		return err
	}
	eng.Stop()
	engineOpen = false
	return nil
}

// writeDays validates the collected days into rep.Days and, when OutDir is
// set, writes each day's files, their manifests going into rep.Manifests.
func (s *Settle) writeDays(coll *settlement.Collector, rep *Report, log *slog.Logger) error {
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
			b = &tapBuf{taps: make([]transit.Tap, decodeBatch)}
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
