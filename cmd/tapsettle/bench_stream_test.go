package main

import (
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// TestBenchStream runs the streaming measurement on a small day with
// options of its own: both runs count every tap, and benchStream itself
// fails unless the day's files hold every tap published.
func TestBenchStream(t *testing.T) {
	cfg := config.Default() // the command's policies and calendar
	book, err := fares.Load(cfg.Policies.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := cfg.Calendar()
	if err != nil {
		t.Fatal(err)
	}
	day, _ := transit.ParseDay("2025-03-03")
	d, err := bench.Generate(book, cal, bench.GenOptions{Taps: 6000, Seed: 4, Day: day})
	if err != nil {
		t.Fatal(err)
	}
	taps := d.Taps()
	read, run, err := benchStream(book, cal, taps, streamOptions{Partitions: 3, TapsPerMessage: 5, CheckpointTaps: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []bench.Result{read, run} {
		if r.Taps != int64(len(taps)) || r.Shards != 3 || r.Elapsed <= 0 {
			t.Errorf("%s: %d taps on %d partitions in %v, want %d taps on 3", r.Name, r.Taps, r.Shards, r.Elapsed, len(taps))
		}
	}
	if read.Name == run.Name {
		t.Errorf("both results are named %q", read.Name)
	}
}

// TestBenchCommandStream: bench, without --engine-only, measures settle
// (with and without the ledger) against the read floor of its file, and
// ends with the streaming service against the bare read.
func TestBenchCommandStream(t *testing.T) {
	out, err := run(t, "bench", "--taps", "3000", "--rounds", "1", "--shards", "1", "--repeat", "1")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"read floor", "settle zstd csv", "settle +ledger", "x the time of", "stream read", "stream run", "of the bare read"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}
