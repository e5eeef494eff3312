package main

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/bench"
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
	if want := "kind,name,shards,taps,seconds,taps_per_second,cpu_ns_per_tap,allocs_per_tap,bytes_per_tap,runs,spread_lo_taps_per_second,spread_hi_taps_per_second,baseline_kind,baseline_shards,ratio_to_baseline,gomaxprocs,rounds"; head != want {
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
	settle := rec("settle", res("settle zstd csv", 1000, 5), res("settle zstd csv", 1000, 4), res("settle zstd csv", 1000, 8))
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
	if f := rows[2]; f[12] != "" || f[13] != "" || f[14] != "" {
		t.Errorf("read_floor row %q: want no baseline", f)
	}
}
