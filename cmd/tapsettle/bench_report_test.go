package main

import (
	"bytes"
	"encoding/csv"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/transit"
)

// TestBenchJSON: bench --output json writes one document with every
// measurement the text shows (each kind, each shard count), its figures
// consistent, each compared with its baseline; nothing else on standard
// output.
func TestBenchJSON(t *testing.T) {
	stdout, stderr, err := runSplit(t, "bench", "--output", "json", "--taps", "3000", "--rounds", "1", "--shards", "1,2", "--repeat", "2")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	var doc benchDoc
	decodeOne(t, stdout, &doc)
	if doc.Schema != "tapsettle.bench/1" || doc.Taps < 2900 || doc.Rounds != 1 || doc.Repeat != 2 || doc.GOMAXPROCS < 1 {
		t.Errorf("document head: %+v", doc.benchSetup)
	}
	kinds := map[string][]benchRecord{}
	for _, r := range doc.Measurements {
		kinds[r.Kind] = append(kinds[r.Kind], r)
		// The generated taps, one round of them for the engine; the
		// file's records (malformed ones too) for the file's readers.
		taps := r.Taps == int64(doc.Taps)
		if strings.HasPrefix(r.Kind, "read_floor") || strings.HasPrefix(r.Kind, "settle") {
			taps = r.Taps >= int64(doc.Taps) && r.Taps <= int64(doc.Taps)+100
		}
		if r.Runs != 2 || !taps || r.Seconds <= 0 || r.SpreadLo > r.TapsPerSecond || r.TapsPerSecond > r.SpreadHi {
			t.Errorf("%s shards=%d: %+v", r.Kind, r.Shards, r)
		}
		if got := float64(r.Taps) / r.Seconds; math.Abs(got-r.TapsPerSecond) > 1e-6*got {
			t.Errorf("%s shards=%d: %v taps/s, but %d taps in %v s", r.Kind, r.Shards, r.TapsPerSecond, r.Taps, r.Seconds)
		}
	}
	for _, k := range []string{"engine", "engine_batch", "engine_aggregate"} {
		rs := kinds[k]
		if len(rs) != 2 || rs[0].Shards != 1 || rs[1].Shards != 2 {
			t.Fatalf("%s: %+v, want shards 1 and 2", k, rs)
		}
		for _, r := range rs {
			if b := r.Baseline; b == nil || b.Kind != k || b.Shards != 1 || math.Abs(b.Ratio-r.TapsPerSecond/rs[0].TapsPerSecond) > 1e-9 {
				t.Errorf("%s shards=%d: baseline %+v, want %s at 1 shard", k, r.Shards, b, k)
			}
		}
	}
	floor := "read_floor"
	if len(kinds["read_floor_cli"]) == 1 {
		floor = "read_floor_cli"
	}
	for _, k := range []string{"read_floor", "settle", "settle_ledger", "stream_read", "stream_run"} {
		if len(kinds[k]) != 1 {
			t.Fatalf("%s: %+v, want one measurement", k, kinds[k])
		}
	}
	for k, base := range map[string]string{"settle": floor, "settle_ledger": floor, "stream_run": "stream_read"} {
		r, b := kinds[k][0], kinds[base][0]
		if r.Baseline == nil || r.Baseline.Kind != base || math.Abs(r.Baseline.Ratio-r.TapsPerSecond/b.TapsPerSecond) > 1e-9 {
			t.Errorf("%s: baseline %+v, want %s", k, r.Baseline, base)
		}
	}
	if kinds["read_floor"][0].Baseline != nil || kinds["stream_read"][0].Baseline != nil {
		t.Error("a baseline has a baseline")
	}
	// The settle children: each with its memory, under its budget (a
	// 3,000-tap day fits the spill budget too), and nothing else.
	for k, budget := range map[string]int64{"settle_process": 1 << 30, "settle_process_spill": 16 << 20} {
		if rs := kinds[k]; len(rs) != 1 || rs[0].Memory == nil || rs[0].Memory.BudgetBytes != budget || rs[0].Memory.Spilled || rs[0].Baseline == nil {
			t.Errorf("%s: %+v, want one measurement with its memory, under %d bytes, in memory", k, rs, budget)
		}
	}
	for _, r := range doc.Measurements {
		if r.Memory != nil && !strings.HasPrefix(r.Kind, "settle_process") {
			t.Errorf("%s: memory %+v, measured in this process", r.Kind, r.Memory)
		}
		// The settle runs in this process say where their time went:
		// three phases, each taking time, within the run's.
		switch p := r.Phases; {
		case r.Kind != "settle" && r.Kind != "settle_ledger":
			if p != nil {
				t.Errorf("%s: phases %+v, want none", r.Kind, p)
			}
		case p == nil:
			t.Errorf("%s: no phases", r.Kind)
		case p.ReadingSeconds <= 0 || p.PricingSeconds <= 0 || p.WritingSeconds <= 0 ||
			p.ReadingSeconds+p.PricingSeconds+p.WritingSeconds > r.Seconds:
			t.Errorf("%s: phases %+v in a run of %v s", r.Kind, p, r.Seconds)
		}
	}
}

// TestBenchCSV: bench --output csv writes a header and one row per
// measurement, every row as wide as the header, that encoding/csv reads.
func TestBenchCSV(t *testing.T) {
	stdout, stderr, err := runSplit(t, "bench", "--output", "csv", "--taps", "2000", "--rounds", "1", "--shards", "1,2,3", "--engine-only")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll() // fails on a row of another width
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, stdout)
	}
	if len(rows) != 1+3*3 {
		t.Fatalf("%d rows, want a header and 9 measurements:\n%s", len(rows), stdout)
	}
	head := strings.Join(rows[0], ",")
	// The first columns, then those added since, at the end.
	if want := "kind,name,shards,taps,seconds,taps_per_second,cpu_ns_per_tap,allocs_per_tap,bytes_per_tap,runs,spread_lo_taps_per_second,spread_hi_taps_per_second,baseline_kind,baseline_shards,ratio_to_baseline,gomaxprocs,rounds" +
		",memory_budget_bytes,peak_rss_mib,peak_rss_bytes_per_tap,spilled,partition_groups,partition_bytes" +
		",reading_seconds,pricing_seconds,writing_seconds"; head != want {
		t.Errorf("header\n%s\nwant\n%s", head, want)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for i, row := range rows[1:] {
		wantKind := []string{"engine", "engine_batch", "engine_aggregate"}[i/3]
		if row[col["kind"]] != wantKind || row[col["shards"]] != strconv.Itoa(i%3+1) || row[col["taps"]] != rows[1][col["taps"]] {
			t.Errorf("row %d: %q, want %s at %d shards", i+1, row, wantKind, i%3+1)
		}
		for _, c := range []string{"seconds", "taps_per_second", "allocs_per_tap", "ratio_to_baseline"} {
			if v, err := strconv.ParseFloat(row[col[c]], 64); err != nil || v <= 0 && c != "allocs_per_tap" {
				t.Errorf("row %d: %s = %q", i+1, c, row[col[c]])
			}
		}
		if row[col["baseline_kind"]] != wantKind || row[col["baseline_shards"]] != "1" {
			t.Errorf("row %d: baseline %q at %q shards, want %s at 1", i+1, row[col["baseline_kind"]], row[col["baseline_shards"]], wantKind)
		}
	}
}

// TestBenchReporters feeds every kind of measurement to the three
// reporters: the text says what it always said (the comparisons of the
// end-to-end rows included, which the JSON and CSV give as ratios), the
// CSV leaves a measurement compared with nothing without a baseline.
func TestBenchReporters(t *testing.T) {
	res := func(name string, taps int64, ms int) bench.Result {
		return bench.Result{Name: name, Shards: 1, Taps: taps, Elapsed: time.Duration(ms) * time.Millisecond}
	}
	rec := func(kind string, rs ...bench.Result) benchRecord { return newBenchRecord(kind, rs) }
	floor := rec("read_floor", res("read floor", 1000, 1))
	cli := rec("read_floor_cli", res("zstd -dc | wc -l", 1000, 2))
	phased := func(ms, read, price, write int) bench.Result {
		r := res("settle zstd csv", 1000, ms)
		d := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
		r.Phases = &bench.Phases{Reading: d(read), Pricing: d(price), Writing: d(write)}
		return r
	}
	settle := rec("settle", phased(5, 2, 2, 1), phased(4, 1, 2, 1), phased(8, 5, 2, 1))
	settle.compare(&cli)
	read := rec("stream_read", res("stream read", 1000, 10))
	run := rec("stream_run", res("stream run", 1000, 20))
	run.compare(&read)
	eng := rec("engine", res("engine", 1000, 1))
	eng.compare(&eng)
	records := []benchRecord{eng, floor, cli, settle, read, run}

	var text bytes.Buffer
	tr := newBenchReporter(outputText, &text)
	_ = tr.start(benchSetup{Taps: 1000, GOMAXPROCS: 2, Rounds: 1, Repeat: 3})
	for _, r := range records {
		if err := tr.measured(r); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(text.String(), "\n")
	for i, want := range []string{
		"1000 taps generated; GOMAXPROCS=2; 1 rounds per engine run; median of 3 runs [lowest-highest M taps/s]",
		eng.result.String() + "  x1.00  [1.00-1.00]",
		floor.result.String() + "         [1.00-1.00]",
		cli.result.String() + "         [0.50-0.50]",
		// The median of 4, 5 and 8 ms: 5 ms, 2.5x the 2 ms of the CLI.
		res("settle zstd csv", 1000, 5).String() + "         [0.12-0.25]  2.5x the time of zstd -dc | wc -l",
		"           phases: reading 0.002s, pricing 0.002s, writing 0.001s", // the median run's
		read.result.String() + "         [0.10-0.10]",
		run.result.String() + "  x0.50  [0.05-0.05]  (x: of the bare read)",
	} {
		if i >= len(lines) || lines[i] != want {
			t.Errorf("text line %d:\n%q\nwant\n%q", i+1, lines[min(i, len(lines)-1)], want)
		}
	}

	var out bytes.Buffer
	cr := newBenchReporter(outputCSV, &out)
	_ = cr.start(benchSetup{Taps: 1000, GOMAXPROCS: 2, Rounds: 1, Repeat: 3})
	for _, r := range records {
		_ = cr.measured(r)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(records) {
		t.Fatalf("%d CSV rows", len(rows))
	}
	if s := rows[4]; s[0] != "settle" || s[12] != "read_floor_cli" || s[14] != "0.4" {
		t.Errorf("settle row %q: want compared with read_floor_cli at 0.4 of its rate", s)
	}
	if s := rows[4]; !slices.Equal(s[len(s)-3:], []string{"0.002", "0.002", "0.001"}) {
		t.Errorf("settle row %q: want the median run's phases at the end", s)
	}
	if f := rows[2]; f[12] != "" || f[13] != "" || f[14] != "" || f[len(f)-1] != "" {
		t.Errorf("read_floor row %q: want no baseline, no phases", f)
	}
}

// TestBenchPeakRSS: bench settles the day in child processes and reports
// their peak RSS (from the children's rusage), positive, and per tap: in
// memory, under a budget that holds the day, which the child did not
// spill; and under the spill budget, which the child says it spilled to
// disk (its settle document's "partitioned"). The JSON document carries
// them. (The measurements alone: the whole command, on a day large
// enough to spill, takes minutes under the race detector.)
func TestBenchPeakRSS(t *testing.T) {
	cmd := newBench()
	e, err := setup(cmd)
	if err != nil {
		t.Fatal(err)
	}
	sp, child, err := startSpawner(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	// 40,000 taps: a 16MiB budget holds some 36,000 (batch plans 320
	// bytes a tap out of three quarters of it).
	day, _ := transit.ParseDay("2025-03-03")
	d, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: 40_000, Seed: 1, Day: day})
	if err != nil {
		t.Fatal(err)
	}
	f, err := bench.WriteDayFile(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	m := measurer{rep: newBenchReporter(outputJSON, &out), e: e, repeat: 1, child: child, spillBudget: 16 << 20}
	_ = m.rep.start(benchSetup{Taps: len(d.Records), Repeat: 1})
	mem, spill, err := m.processRuns(f, inMemoryBudget(int64(e.cfg.Settlement.MemoryBudget), len(d.Records)))
	if err != nil {
		t.Fatal(err)
	}
	_ = m.rep.measured(newBenchRecord("settle_process", []bench.Result{mem}))
	_ = m.rep.measured(newBenchRecord("settle_process_spill", []bench.Result{spill}))
	if err := m.rep.end(); err != nil {
		t.Fatal(err)
	}
	var doc benchDoc
	decodeOne(t, out.String(), &doc)
	if len(doc.Measurements) != 2 {
		t.Fatalf("%d measurements, want 2:\n%s", len(doc.Measurements), out.String())
	}
	reported := slices.Contains([]string{"linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly"}, runtime.GOOS)
	for i, want := range []struct {
		kind    string
		budget  int64
		spilled bool
	}{{"settle_process", 1 << 30, false}, {"settle_process_spill", 16 << 20, true}} {
		r := doc.Measurements[i]
		if r.Kind != want.kind || r.Memory == nil {
			t.Fatalf("measurement %d: %+v, want %s with its memory", i, r, want.kind)
		}
		m := r.Memory
		if m.BudgetBytes != want.budget || m.Spilled != want.spilled || (m.PartitionGroups > 0) != want.spilled || (m.PartitionBytes > 0) != want.spilled {
			t.Errorf("%s: %+v, want budget %d, spilled %v", want.kind, m, want.budget, want.spilled)
		}
		if reported && (m.PeakRSSMiB <= 0 || math.Abs(m.PeakRSSBytesPerTap-m.PeakRSSMiB*(1<<20)/float64(r.Taps)) > 1e-6*m.PeakRSSBytesPerTap) {
			t.Errorf("%s: peak RSS %v MiB, %v B/tap over %d taps, want positive and consistent", want.kind, m.PeakRSSMiB, m.PeakRSSBytesPerTap, r.Taps)
		}
		if r.Taps != int64(len(d.Records)) || r.Seconds <= 0 || reported && r.CPUNsPerTap <= 0 {
			t.Errorf("%s: %+v, want the file's %d records and the child's CPU time", want.kind, r, len(d.Records))
		}
	}
}

// TestBenchReportersMemory: the text and CSV give a child run's peak RSS,
// per tap, its budget and whether it spilled, and say so where the
// platform did not report the peak.
func TestBenchReportersMemory(t *testing.T) {
	res := func(name string, ms int, p *bench.Process) bench.Result {
		return bench.Result{Name: name, Taps: 1 << 20, Elapsed: time.Duration(ms) * time.Millisecond, CPU: time.Second, Process: p}
	}
	cli := newBenchRecord("read_floor_cli", []bench.Result{res("zstd -dc | wc -l", 100, nil)})
	mem := newBenchRecord("settle_process", []bench.Result{
		res("settle process", 300, &bench.Process{PeakRSS: 300 << 20, Budget: 1 << 30}),
		res("settle process", 200, &bench.Process{PeakRSS: 310 << 20, Budget: 1 << 30}),
	})
	mem.compare(&cli)
	spill := newBenchRecord("settle_process_spill", []bench.Result{
		res("settle spill", 400, &bench.Process{PeakRSS: 64 << 20, Budget: 16 << 20, Groups: 7, PartitionBytes: 45e6}),
	})
	spill.compare(&cli)
	none := newBenchRecord("settle_process", []bench.Result{res("settle process", 300, &bench.Process{Budget: 1 << 30})})

	var text bytes.Buffer
	tr := newBenchReporter(outputText, &text)
	for _, r := range []benchRecord{mem, spill, none} {
		if err := tr.measured(r); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(text.String(), "\n")
	for i, want := range []string{
		// The highest peak of the runs, with the median run's time.
		"settle process   shards=0      3495253 taps/s     954 cpu-ns/tap  peak RSS   310.0 MiB    310 B/tap  (1048576 taps in 300ms; budget 1GiB, in memory)  [3.50-5.24]  3.0x the time of zstd -dc | wc -l",
		"settle spill     shards=0      2621440 taps/s     954 cpu-ns/tap  peak RSS    64.0 MiB     64 B/tap  (1048576 taps in 400ms; budget 16MiB, spilled: 7 groups, 45.0 MB of partitions)  [2.62-2.62]  4.0x the time of zstd -dc | wc -l",
		"settle process   shards=0      3495253 taps/s     954 cpu-ns/tap  peak RSS not reported on this platform  (1048576 taps in 300ms; budget 1GiB, in memory)  [3.50-3.50]",
	} {
		if i >= len(lines) || lines[i] != want {
			t.Errorf("text line %d:\n%q\nwant\n%q", i+1, lines[min(i, len(lines)-1)], want)
		}
	}

	var out bytes.Buffer
	cr := newBenchReporter(outputCSV, &out)
	_ = cr.start(benchSetup{Taps: 1 << 20, GOMAXPROCS: 2, Rounds: 1, Repeat: 2})
	for _, r := range []benchRecord{cli, mem, spill, none} {
		_ = cr.measured(r)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The memory columns, before the phases' (empty for these kinds).
	tail := func(row []string) string {
		if p := row[len(row)-3:]; !slices.Equal(p, []string{"", "", ""}) && p[0] != "reading_seconds" {
			t.Errorf("CSV row %q: phases of a run without them", row)
		}
		return strings.Join(row[len(row)-9:len(row)-3], ",")
	}
	for i, want := range []string{
		"memory_budget_bytes,peak_rss_mib,peak_rss_bytes_per_tap,spilled,partition_groups,partition_bytes",
		",,,,,",
		"1073741824,310,310,false,0,0",
		"16777216,64,64,true,7,45000000",
		"1073741824,0,0,false,0,0",
	} {
		if got := tail(rows[i]); got != want {
			t.Errorf("CSV row %d ends %q, want %q", i, got, want)
		}
	}
}

// TestInMemoryBudget: the in-memory child runs under the configured
// budget, raised, for a day that would not fit it, to whole GiB at 512
// bytes a tap.
func TestInMemoryBudget(t *testing.T) {
	for _, tc := range []struct {
		configured int64
		taps       int
		want       int64
	}{
		{1 << 30, 60_000, 1 << 30},
		{1 << 30, 2_000_000, 1 << 30},
		{1 << 30, 2_200_000, 2 << 30},
		{1 << 30, 20_000_000, 10 << 30},
		{16 << 30, 20_000_000, 16 << 30},
	} {
		if got := inMemoryBudget(tc.configured, tc.taps); got != tc.want {
			t.Errorf("inMemoryBudget(%d, %d) = %d, want %d", tc.configured, tc.taps, got, tc.want)
		}
	}
}
