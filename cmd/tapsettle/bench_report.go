package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/config"
)

// benchSetup is what every measurement of a bench run shares.
type benchSetup struct {
	// Taps is the number of taps generated: the day every measurement
	// prices (the file's readers and settle read its records, the
	// malformed ones among them).
	Taps int `json:"taps"`
	// GOMAXPROCS is the number of cores the run used.
	GOMAXPROCS int `json:"gomaxprocs"`
	// Rounds is the number of times the day is replayed per engine run.
	Rounds int `json:"rounds"`
	// Repeat is the number of runs per measurement; each reports the
	// median with the spread.
	Repeat int    `json:"repeat"`
	Seed   uint64 `json:"seed"`
}

// benchRecord is one measurement: the median of its runs.
type benchRecord struct {
	// Kind says what was measured: engine, engine_batch,
	// engine_aggregate (the hot path; one record per shard count),
	// read_floor (decompressing the day's zstd CSV file and counting its
	// lines, in process), read_floor_cli (zstd -dc | wc -l, where
	// installed), settle, settle_ledger (the batch job on that file),
	// settle_process, settle_process_spill (settle of that file in a child
	// process, in memory and under the spill budget), stream_read (a bare consume loop of the day's topic), stream_run
	// (the streaming service on it).
	Kind string `json:"kind"`
	// Name is the measurement's name in the text output.
	Name   string `json:"name"`
	Shards int    `json:"shards"`
	Taps   int64  `json:"taps"`
	// Seconds is the wall time of the median run.
	Seconds       float64 `json:"seconds"`
	TapsPerSecond float64 `json:"taps_per_second"`
	// CPUNsPerTap is the process's CPU time per tap, summed over all
	// cores, 0 where the platform does not report it.
	CPUNsPerTap float64 `json:"cpu_ns_per_tap"`
	// AllocsPerTap and BytesPerTap are the heap allocations per tap: 0
	// for the settle_process kinds, whose allocations are another
	// process's.
	AllocsPerTap float64 `json:"allocs_per_tap"`
	BytesPerTap  float64 `json:"bytes_per_tap"`
	// Runs is the number of runs; SpreadLo and SpreadHi are the lowest
	// and highest of their rates, in taps/s.
	Runs     int     `json:"runs"`
	SpreadLo float64 `json:"spread_lo_taps_per_second"`
	SpreadHi float64 `json:"spread_hi_taps_per_second"`
	// Baseline is what the measurement is compared with, absent for
	// those compared with nothing.
	Baseline *benchBaseline `json:"baseline,omitempty"`
	// Memory is the memory a run in a child process took, for the
	// settle_process kinds; absent for the others.
	Memory *benchMemory `json:"memory,omitempty"`
	// Phases is where the median run's time went, for the settle and
	// settle_ledger kinds; absent for the others.
	Phases *benchPhases `json:"phases,omitempty"`

	result, base bench.Result // for the text, which prints them as it always has
}

// benchBaseline is the measurement a benchRecord is compared with: for
// the engine kinds, the same kind at the first shard count measured;
// for the settle kinds, the read floor (read_floor_cli where it
// was measured, else read_floor); for stream_run, stream_read.
type benchBaseline struct {
	Kind   string `json:"kind"`
	Shards int    `json:"shards"`
	// Ratio is the measurement's rate over the baseline's (taps/s over
	// taps/s): 0.55 for a settle run at 55% of the read floor's rate,
	// which the text gives as 1.8x the time.
	Ratio float64 `json:"ratio"`
}

// benchMemory is the memory a settle run in a child process took
// (bench.Process): the highest of its runs' peak RSS, and the budget it
// ran under.
type benchMemory struct {
	// BudgetBytes is the run's --memory-budget.
	BudgetBytes int64 `json:"memory_budget_bytes"`
	// PeakRSSMiB is the highest peak resident set size of the runs, in
	// MiB, and PeakRSSBytesPerTap the same in bytes over the taps: 0
	// where the platform does not report it.
	PeakRSSMiB         float64 `json:"peak_rss_mib"`
	PeakRSSBytesPerTap float64 `json:"peak_rss_bytes_per_tap"`
	// Spilled says the median run partitioned its taps to disk;
	// PartitionGroups and PartitionBytes are its groups of partitions
	// and their size on disk (0 when it did not spill).
	Spilled         bool  `json:"spilled"`
	PartitionGroups int   `json:"partition_groups"`
	PartitionBytes  int64 `json:"partition_bytes"`
}

// benchPhases is the wall time of each phase of a settle run in this
// process (bench.Phases), in seconds; they add up to the run's seconds
// but for its set-up.
type benchPhases struct {
	// ReadingSeconds: decompressing and decoding the file, the taps held.
	ReadingSeconds float64 `json:"reading_seconds"`
	// PricingSeconds: pricing the held taps and closing the days.
	PricingSeconds float64 `json:"pricing_seconds"`
	// WritingSeconds: writing the days' files.
	WritingSeconds float64 `json:"writing_seconds"`
}

// newBenchPhases returns the phases of med, nil where it has none.
func newBenchPhases(med bench.Result) *benchPhases {
	p := med.Phases
	if p == nil {
		return nil
	}
	return &benchPhases{ReadingSeconds: p.Reading.Seconds(), PricingSeconds: p.Pricing.Seconds(), WritingSeconds: p.Writing.Seconds()}
}

// newBenchMemory returns the memory of the child runs rs, med their
// median; nil for runs that were not in a child process.
func newBenchMemory(med bench.Result, rs []bench.Result) *benchMemory {
	if med.Process == nil {
		return nil
	}
	var peak int64
	for _, r := range rs {
		if r.Process != nil {
			peak = max(peak, r.Process.PeakRSS)
		}
	}
	p := med.Process
	m := &benchMemory{BudgetBytes: p.Budget, PeakRSSMiB: float64(peak) / (1 << 20),
		Spilled: p.Spilled(), PartitionGroups: p.Groups, PartitionBytes: p.PartitionBytes}
	if med.Taps > 0 {
		m.PeakRSSBytesPerTap = float64(peak) / float64(med.Taps)
	}
	return m
}

// newBenchRecord returns the record of kind over the runs rs: their
// median, and the spread of their rates.
func newBenchRecord(kind string, rs []bench.Result) benchRecord {
	med, lo, hi := bench.Median(rs)
	return benchRecord{
		Kind: kind, Name: med.Name, Shards: med.Shards, Taps: med.Taps,
		Seconds: med.Elapsed.Seconds(), TapsPerSecond: med.TapsPerSecond(),
		CPUNsPerTap: med.CPUPerTap(), AllocsPerTap: med.AllocsPerTap(), BytesPerTap: med.BytesPerTap(),
		Runs: len(rs), SpreadLo: lo, SpreadHi: hi,
		Memory: newBenchMemory(med, rs),
		Phases: newBenchPhases(med),
		result: med,
	}
}

// compare records base as r's baseline. The ratio is left out where it
// has no value (a rate of 0: nothing measured).
func (r *benchRecord) compare(base *benchRecord) {
	r.base = base.result
	if ratio := r.TapsPerSecond / base.TapsPerSecond; ratio > 0 && !math.IsInf(ratio, 0) {
		r.Baseline = &benchBaseline{Kind: base.Kind, Shards: base.Shards, Ratio: ratio}
	}
}

// benchReporter writes bench's measurements as they are made: a table
// for people, one JSON document, or CSV rows.
type benchReporter interface {
	// start writes what comes before the measurements.
	start(benchSetup) error
	// measured writes (or keeps) one measurement.
	measured(benchRecord) error
	// end writes what comes after the last one: the whole document, for
	// JSON.
	end() error
}

// newBenchReporter returns the reporter of format, writing to w.
func newBenchReporter(format outputFormat, w io.Writer) benchReporter {
	switch format {
	case outputJSON:
		return &benchJSON{w: w, doc: benchDoc{Schema: schemaBench, Measurements: []benchRecord{}}}
	case outputCSV:
		return &benchCSV{w: csv.NewWriter(w)}
	}
	return &benchText{w: w}
}

// benchText prints the measurements for people, a line each.
type benchText struct{ w io.Writer }

func (t *benchText) start(s benchSetup) error {
	_, err := fmt.Fprintf(t.w, "%d taps generated; GOMAXPROCS=%d; %d rounds per engine run; median of %d runs [lowest-highest M taps/s]\n",
		s.Taps, s.GOMAXPROCS, s.Rounds, s.Repeat)
	return err
}

func (t *benchText) measured(r benchRecord) error {
	spread := fmt.Sprintf("[%.2f-%.2f]", r.SpreadLo/1e6, r.SpreadHi/1e6)
	var err error
	switch r.Kind {
	case "engine", "engine_batch", "engine_aggregate":
		_, err = fmt.Fprintf(t.w, "%s  x%.2f  %s\n", r.result, r.result.TapsPerSecond()/r.base.TapsPerSecond(), spread)
	case "settle", "settle_ledger":
		_, err = fmt.Fprintf(t.w, "%s         %s%s\n%s", r.result, spread, r.timeOfBase(), r.phasesText())
	case "settle_process", "settle_process_spill":
		_, err = fmt.Fprintf(t.w, "%s  %s%s\n", r.processText(), spread, r.timeOfBase())
	case "stream_run":
		_, err = fmt.Fprintf(t.w, "%s  x%.2f  %s  (x: of the bare read)\n", r.result, r.result.TapsPerSecond()/r.base.TapsPerSecond(), spread)
	default:
		_, err = fmt.Fprintf(t.w, "%s         %s\n", r.result, spread)
	}
	return err
}

func (t *benchText) end() error { return nil }

// timeOfBase is the text's comparison of a settle row with its baseline:
// its time as a multiple of the baseline's.
func (r *benchRecord) timeOfBase() string {
	if r.Baseline == nil {
		return ""
	}
	return fmt.Sprintf("  %.1fx the time of %s", r.base.TapsPerSecond()/r.result.TapsPerSecond(), r.base.Name)
}

// phasesText is the text's line under a settle row: where its time went,
// empty where the row has no phases.
func (r *benchRecord) phasesText() string {
	p := r.Phases
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%18s reading %.3fs, pricing %.3fs, writing %.3fs\n", "phases:", p.ReadingSeconds, p.PricingSeconds, p.WritingSeconds)
}

// processText is the text's row of a run in a child process: the
// columns of the others, with the peak RSS where they have allocations
// (which are the child's, unseen), and the budget and whether it
// spilled.
func (r *benchRecord) processText() string {
	res, m := r.result, r.Memory
	rss := "peak RSS not reported on this platform"
	if m.PeakRSSMiB > 0 {
		rss = fmt.Sprintf("peak RSS %7.1f MiB %6.0f B/tap", m.PeakRSSMiB, m.PeakRSSBytesPerTap)
	}
	held := "in memory"
	if m.Spilled {
		held = fmt.Sprintf("spilled: %d groups, %.1f MB of partitions", m.PartitionGroups, float64(m.PartitionBytes)/1e6)
	}
	return fmt.Sprintf("%-16s shards=%-3d %10.0f taps/s  %6.0f cpu-ns/tap  %s  (%d taps in %v; budget %s, %s)",
		res.Name, res.Shards, res.TapsPerSecond(), res.CPUPerTap(), rss, res.Taps, res.Elapsed.Round(time.Millisecond),
		config.ByteSize(m.BudgetBytes), held)
}

// benchDoc is bench's --output json document (schema tapsettle.bench/1).
type benchDoc struct {
	Schema string `json:"schema"`
	benchSetup
	// Measurements are in the order they were made.
	Measurements []benchRecord `json:"measurements"`
}

// benchJSON keeps the measurements and writes the document at the end.
type benchJSON struct {
	w   io.Writer
	doc benchDoc
}

func (j *benchJSON) start(s benchSetup) error { j.doc.benchSetup = s; return nil }

func (j *benchJSON) measured(r benchRecord) error {
	j.doc.Measurements = append(j.doc.Measurements, r)
	return nil
}

func (j *benchJSON) end() error { return writeJSON(j.w, j.doc) }

// benchCSVHeader names the columns of bench --output csv. Columns are only
// added, at the end.
var benchCSVHeader = []string{
	"kind", "name", "shards", "taps", "seconds", "taps_per_second", "cpu_ns_per_tap", "allocs_per_tap", "bytes_per_tap",
	"runs", "spread_lo_taps_per_second", "spread_hi_taps_per_second", "baseline_kind", "baseline_shards", "ratio_to_baseline",
	"gomaxprocs", "rounds",
	"memory_budget_bytes", "peak_rss_mib", "peak_rss_bytes_per_tap", "spilled", "partition_groups", "partition_bytes",
	"reading_seconds", "pricing_seconds", "writing_seconds",
}

// benchCSV writes a header row, then a row per measurement as it is made
// (a long run shows its rows as they come).
type benchCSV struct {
	w     *csv.Writer
	setup benchSetup
}

func (c *benchCSV) start(s benchSetup) error {
	c.setup = s
	return c.write(benchCSVHeader)
}

func (c *benchCSV) measured(r benchRecord) error {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	bkind, bshards, ratio := "", "", ""
	if b := r.Baseline; b != nil {
		bkind, bshards, ratio = b.Kind, strconv.Itoa(b.Shards), f(b.Ratio)
	}
	// The memory columns are empty for the measurements without it.
	mem := make([]string, 6)
	if m := r.Memory; m != nil {
		mem = []string{strconv.FormatInt(m.BudgetBytes, 10), f(m.PeakRSSMiB), f(m.PeakRSSBytesPerTap),
			strconv.FormatBool(m.Spilled), strconv.Itoa(m.PartitionGroups), strconv.FormatInt(m.PartitionBytes, 10)}
	}
	// So are the phases' columns, for those without them.
	phases := make([]string, 3)
	if p := r.Phases; p != nil {
		phases = []string{f(p.ReadingSeconds), f(p.PricingSeconds), f(p.WritingSeconds)}
	}
	row := append([]string{
		r.Kind, r.Name, strconv.Itoa(r.Shards), strconv.FormatInt(r.Taps, 10), f(r.Seconds), f(r.TapsPerSecond),
		f(r.CPUNsPerTap), f(r.AllocsPerTap), f(r.BytesPerTap),
		strconv.Itoa(r.Runs), f(r.SpreadLo), f(r.SpreadHi), bkind, bshards, ratio,
		strconv.Itoa(c.setup.GOMAXPROCS), strconv.Itoa(c.setup.Rounds),
	}, mem...)
	return c.write(append(row, phases...))
}

func (c *benchCSV) end() error { return nil }

func (c *benchCSV) write(row []string) error {
	if err := c.w.Write(row); err != nil {
		return fmt.Errorf("write the CSV row: %w", err)
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write the CSV row: %w", err)
	}
	return nil
}
