package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/internal/cputime"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// Result is one measured run.
type Result struct {
	Name    string
	Shards  int
	Taps    int64
	Elapsed time.Duration
	// Allocs and Bytes are heap allocations during the measured part.
	Allocs, Bytes uint64
	// CPU is the process's CPU time during the measured part, 0 where the
	// platform does not report it.
	CPU time.Duration
	// Process is set for a run in a child process (DayFile.SettleProcess):
	// its peak RSS and how it held its taps.
	Process *Process
	// Phases is set for a settle run in this process (DayFile.Settle):
	// the wall time of each of its phases.
	Phases *Phases
}

// Phases is the wall time of each phase of a settle run (batch.Phase): where
// the time goes, beside the read floor. The batch job prices a day once it
// has read all of it, so the phases follow one another.
type Phases struct {
	// Reading is decompressing and decoding the inputs, the taps held
	// for the engine (or partitioned to disk).
	Reading time.Duration
	// Pricing is pricing the held taps and closing the days.
	Pricing time.Duration
	// Writing is writing the days' files.
	Writing time.Duration
}

// CPUPerTap is the CPU time per tap in nanoseconds, summed over all cores:
// the work a tap costs, which noisy neighbours disturb far less than the
// throughput (see package cputime).
func (r Result) CPUPerTap() float64 { return float64(r.CPU.Nanoseconds()) / float64(r.Taps) }

// TapsPerSecond is the throughput of the run.
func (r Result) TapsPerSecond() float64 { return float64(r.Taps) / r.Elapsed.Seconds() }

// AllocsPerTap is the number of heap allocations per tap.
func (r Result) AllocsPerTap() float64 { return float64(r.Allocs) / float64(r.Taps) }

// BytesPerTap is the heap bytes allocated per tap.
func (r Result) BytesPerTap() float64 { return float64(r.Bytes) / float64(r.Taps) }

// Measure runs f after a collection (so that none of the garbage made
// before is collected on f's time) and returns what it took: the wall
// time, the process's CPU time and the heap allocations. The caller
// names the result and counts its taps.
func Measure(f func()) Result {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	cpu0, _ := cputime.Process()
	start := time.Now()
	f()
	el := time.Since(start)
	cpu1, _ := cputime.Process()
	runtime.ReadMemStats(&b)
	return Result{Elapsed: el, Allocs: b.Mallocs - a.Mallocs, Bytes: b.TotalAlloc - a.TotalAlloc, CPU: cpu1 - cpu0}
}

// add adds the measured part of m (what measure fills in) to r; the
// name, shard count and taps are r's.
func (r *Result) add(m Result) {
	r.Elapsed += m.Elapsed
	r.Allocs += m.Allocs
	r.Bytes += m.Bytes
	r.CPU += m.CPU
}

// Engine measures the hot path: taps already in memory, priced by the
// engine with its streaming reorder window, fare plus journey state, the
// rows counted and dropped by the sink. The taps are replayed rounds times,
// each round two days on, after unmeasured warm-up rounds (see replay):
// the steady state of a running service, where card state and buffers
// already exist.
func Engine(book *fares.Book, cal *transit.Calendar, taps []transit.Tap, shards, rounds int) (Result, error) {
	sink := &countSink{counts: make([]paddedCount, shards)}
	r, err := replay(book, cal, taps, shards, rounds, engine.DefaultWindow, sink)
	r.Name = "engine"
	return r, err
}

// EngineBatch is Engine with the batch job's window (Unbounded): each round
// holds the whole day and prices it at the day's close, card by card (see
// engine's package documentation), not as a stream. Like Engine it
// measures warm card states; a real settle creates them all, which the
// card order helps most (see README, Performance).
func EngineBatch(book *fares.Book, cal *transit.Calendar, taps []transit.Tap, shards, rounds int) (Result, error) {
	sink := &countSink{counts: make([]paddedCount, shards)}
	r, err := replay(book, cal, taps, shards, rounds, engine.Unbounded, sink)
	r.Name = "engine batch"
	return r, err
}

// EngineAggregate is Engine with the rows aggregated by a settlement
// collector (bilateral totals, clearing rows, subsidy claims) instead of
// dropped: what the batch job and the streaming service add to the hot
// path before any file is written.
func EngineAggregate(book *fares.Book, cal *transit.Calendar, taps []transit.Tap, shards, rounds int) (Result, error) {
	coll := settlement.NewCollector(settlement.Options{Participants: book.Participants(), Shards: shards, Calendar: cal})
	r, err := replay(book, cal, taps, shards, rounds, engine.DefaultWindow, coll)
	r.Name = "engine+aggregate"
	return r, err
}

// countSink counts rows per shard, each count on its own cache line so
// that the shards do not share one.
type countSink struct{ counts []paddedCount }

type paddedCount struct {
	n int64
	_ [56]byte
}

func (c *countSink) Emit(shard int, rows []transit.Priced) { c.counts[shard].n += int64(len(rows)) }

func replay(book *fares.Book, cal *transit.Calendar, taps []transit.Tap, shards, rounds int, window time.Duration, sink engine.Sink) (Result, error) {
	in := slices.Clone(taps)
	slices.SortFunc(in, func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
	eng, err := engine.New(book, sink, engine.Options{Shards: shards, Calendar: cal, Window: window})
	if err != nil {
		return Result{}, err
	}
	defer eng.Close()
	const dayNanos = int64(24 * time.Hour)
	// Each round is the day moved on by two days (so no day is closed
	// twice), in place and outside the measured time: what is measured is
	// the engine taking taps already in memory.
	round := func() {
		for i := 0; i < len(in); i += 1024 {
			eng.Submit(in[i:min(len(in), i+1024)])
		}
		eng.CloseDay(cal.DayOf(in[0].Time) + 1) // taps run past midnight
	}
	// Each round's taps also get tap_ids of their own, as a service's next
	// days bring new taps of the same riders: the same identifiers two
	// days on would be duplicates within the dedup window.
	ids := make([]transit.TapID, len(in))
	for j := range in {
		ids[j] = in[j].ID
	}
	shifted := 0
	shift := func() {
		shifted++
		for j := range in {
			in[j].Time += 2 * dayNanos
			in[j].ID = roundID(ids[j], shifted)
		}
	}
	// Warm-up, unmeasured: card states and buffers exist from here on, and
	// the per-day structures (tap_id logs, spill sets) have gone round
	// their retention once, as in a service that has run for days.
	for range engine.DefaultDedupDays/2 + 1 {
		round()
		shift()
	}
	res := Result{Shards: shards, Taps: int64(len(in) * rounds)}
	for range rounds {
		res.add(Measure(round))
		shift()
	}
	return res, nil
}

// roundID returns id with a suffix for round k (two base-36 digits after a
// '.', replacing its last bytes when it is too long to take them), so that
// rounds up to 1296 apart never share a tap_id.
func roundID(id transit.TapID, k int) transit.TapID {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	n := min(len(id.Bytes()), transit.MaxTapID-3)
	id[n], id[n+1], id[n+2] = '.', digits[k/36%36], digits[k%36]
	return id
}

// DayFile is a generated day written as a zstd CSV file in a temporary
// folder, for the end-to-end measurements: settle, and the read floor
// beside it, on the same bytes. Close removes it.
type DayFile struct {
	dir, path string
}

// WriteDayFile writes day as a zstd CSV file in a new temporary folder.
func WriteDayFile(day *GenDay) (*DayFile, error) {
	dir, err := os.MkdirTemp("", "tapsettle-bench-")
	if err != nil {
		return nil, err
	}
	f := &DayFile{dir: dir, path: filepath.Join(dir, "day.csv.zst")}
	if err := WriteFile(f.path, ingest.FormatCSV, ingest.CompressionZstd, day); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return f, nil
}

// Path is the file's path.
func (f *DayFile) Path() string { return f.path }

// Close removes the file and its folder.
func (f *DayFile) Close() error { return os.RemoveAll(f.dir) }

// Settle measures the batch job end to end on the file: decompress,
// decode, price, aggregate, and write the clearing files (and the ledger
// with ledger set), without fsync, into a folder of the file's that it
// removes afterwards.
func (f *DayFile) Settle(book *fares.Book, cal *transit.Calendar, shards int, ledger bool) (Result, error) {
	out := filepath.Join(f.dir, "out")
	defer os.RemoveAll(out)
	// The start of each phase, then the end of the run.
	var marks [batch.PhaseWriting + 2]time.Time
	job := &batch.Settle{Book: book, Calendar: cal, Shards: shards, OutDir: out, SkipSync: true, Ledger: ledger,
		OnPhase: func(p batch.Phase) { marks[p] = time.Now() }}
	var rep *batch.Report
	var err error
	res := Measure(func() {
		rep, err = job.Run(context.Background(), []string{f.path})
		marks[len(marks)-1] = time.Now()
	})
	if err != nil {
		return Result{}, err
	}
	res.Name, res.Shards, res.Taps = "settle zstd csv", shards, rep.Records
	if !slices.ContainsFunc(marks[:], time.Time.IsZero) {
		res.Phases = &Phases{
			Reading: marks[batch.PhasePricing].Sub(marks[batch.PhaseReading]),
			Pricing: marks[batch.PhaseWriting].Sub(marks[batch.PhasePricing]),
			Writing: marks[len(marks)-1].Sub(marks[batch.PhaseWriting]),
		}
	}
	if ledger {
		res.Name = "settle +ledger"
	}
	return res, nil
}

// ReadFloor measures reading the file and nothing else: decompress it
// (klauspost/compress, as settle does) and count its lines, the least any
// job over the file must do. Its taps are the lines but the header.
func (f *DayFile) ReadFloor() (Result, error) {
	var lines int64
	var err error
	res := Measure(func() { lines, err = countLines(f.path) })
	if err != nil {
		return Result{}, err
	}
	res.Name, res.Taps = "read floor", lines-1
	return res, nil
}

// ReadFloorCLI measures the same read with the reference tools, the
// figure issue 18 set settle against: zstd -dc FILE | wc -l. ok is false
// when zstd or wc is not installed. CPU is the pipeline's, from the
// shell's resource usage (which includes the children it waited for).
func (f *DayFile) ReadFloorCLI() (res Result, ok bool, err error) {
	for _, tool := range []string{"sh", "zstd", "wc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return Result{}, false, nil
		}
	}
	cmd := exec.Command("sh", "-c", `zstd -dc -- "$1" | wc -l`, "sh", f.path)
	var out []byte
	start := time.Now()
	out, err = cmd.Output()
	res.Elapsed = time.Since(start)
	if err != nil {
		return Result{}, true, fmt.Errorf("bench: zstd -dc | wc -l: %w", err)
	}
	lines, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return Result{}, true, fmt.Errorf("bench: wc -l printed %q", out)
	}
	if st := cmd.ProcessState; st != nil {
		res.CPU = st.UserTime() + st.SystemTime()
	}
	res.Name, res.Taps = "zstd -dc | wc -l", lines-1
	return res, true, nil
}

// countLines decompresses the zstd file at path and counts its newlines.
func countLines(path string) (int64, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	zr, err := zstd.NewReader(in)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := zr.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// ShardCounts returns the shard counts a scaling run measures: 1, 2, 4 ...
// up to twice the core count.
func ShardCounts() []int {
	var out []int
	for n := 1; n <= 2*runtime.GOMAXPROCS(0); n *= 2 {
		out = append(out, n)
	}
	return out
}

// String renders a result as one table row.
func (r Result) String() string {
	return fmt.Sprintf("%-16s shards=%-3d %10.0f taps/s  %6.0f cpu-ns/tap  %8.4f allocs/tap  %7.1f B/tap  (%d taps in %v)",
		r.Name, r.Shards, r.TapsPerSecond(), r.CPUPerTap(), r.AllocsPerTap(), r.BytesPerTap(), r.Taps, r.Elapsed.Round(time.Millisecond))
}

// Median returns the run of median throughput among rs (the lower of the
// two middle ones for an even count), with the lowest and highest
// throughputs: on a shared machine one run is an anecdote, the median of
// several with their spread is a measurement.
func Median(rs []Result) (med Result, lo, hi float64) {
	if len(rs) == 0 {
		return Result{}, 0, 0
	}
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b Result) int { return cmp.Compare(a.TapsPerSecond(), b.TapsPerSecond()) })
	return s[(len(s)-1)/2], s[0].TapsPerSecond(), s[len(s)-1].TapsPerSecond()
}
