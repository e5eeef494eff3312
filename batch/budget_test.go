package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// twoDays writes the same riders' two days (duplicates, late and
// malformed records at ten times their default shares, a fifth of the
// riders from other cities) in two files of two formats, and a third file
// repeating a slice of the first day (duplicates across inputs). It
// returns the files and the number of records.
func twoDays(t *testing.T, dir string, taps int) ([]string, int) {
	t.Helper()
	b, cal := env(t)
	first, _ := transit.ParseDay("2025-03-03")
	var files []string
	records := 0
	var day1 []bench.Record
	for k, name := range []string{"mon.csv.zst", "tue.jsonl"} {
		d, err := bench.Generate(b, cal, bench.GenOptions{Taps: taps, Seed: 3, Day: first + transit.Day(k), FirstID: k * taps,
			Duplicates: 0.02, Late: 0.01, Malformed: 0.01, Interregional: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			day1 = d.Records
		}
		p := filepath.Join(dir, name)
		if err := bench.WriteFile(p, ingest.FormatAuto, ingest.CompressionAuto, d); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		records += len(d.Records)
	}
	again := day1[len(day1)/3 : len(day1)/3+len(day1)/50]
	p := filepath.Join(dir, "again.csv")
	if err := bench.WriteFile(p, ingest.FormatAuto, ingest.CompressionAuto, &bench.GenDay{Records: again}); err != nil {
		t.Fatal(err)
	}
	return append(files, p), records + len(again)
}

// TestPartitionedRunSameOutput: a day settled under a budget far too small
// for it, its taps partitioned by card to disk and priced a group of
// partitions at a time (and, at the smallest budget, each partition split
// again), writes the same files, byte for byte, as a run in memory: with
// and without the ledger, over two days of several cities with
// duplicates (within and across inputs), late taps, journeys across the
// cut-off and malformed records. The spill folder is gone afterwards.
func TestPartitionedRunSameOutput(t *testing.T) {
	dir := t.TempDir()
	inputs, records := twoDays(t, dir, 8_000)
	b, cal := env(t)
	for _, ledger := range []bool{false, true} {
		var want map[string][]byte
		var wantRep *batch.Report
		for _, tc := range []struct {
			name   string
			budget int64
			groups int // at least
			splits bool
		}{
			{"in memory", 0, 0, false},
			{"256KiB", 256 << 10, 20, false},
			{"16KiB", 16 << 10, 100, true},
		} {
			// (A budget this small prices a group in one shard; the
			// 256KiB runs take three, as a larger budget would.)
			if tc.budget != 0 && tc.budget < 64<<10 && !ledger {
				continue // splits once, with the ledger: each group is an engine
			}
			out := filepath.Join(dir, fmt.Sprintf("out-%v-%s", ledger, strings.ReplaceAll(tc.name, " ", "-")))
			spillDir := filepath.Join(dir, "spill")
			job := &batch.Settle{Book: b, Calendar: cal, Shards: 3, OutDir: out, Ledger: ledger, SkipSync: true,
				MemoryBudget: tc.budget, SpillDir: spillDir}
			if tc.budget == 256<<10 {
				batch.SetGroupShards(job, 3)
			}
			rep, err := job.Run(context.Background(), inputs)
			if err != nil {
				t.Fatalf("ledger %v, %s: %v", ledger, tc.name, err)
			}
			if rep.Records != int64(records) {
				t.Fatalf("%s: %d records, want %d", tc.name, rep.Records, records)
			}
			pr := rep.Partitioned
			t.Logf("ledger %v, %s: %d taps partitioned, %d groups, %d splits", ledger, tc.name, pr.Taps, pr.Groups, pr.Splits)
			if tc.budget == 0 {
				if pr != (batch.PartitionReport{}) {
					t.Fatalf("in memory: partitioned %+v", pr)
				}
				if err := settlement.Verify(out); err != nil {
					t.Fatal(err)
				}
				want, wantRep = tree(t, out), rep
				if len(rep.Days) < 3 {
					t.Fatalf("only %d days settled; the test needs several", len(rep.Days))
				}
				continue
			}
			if pr.Taps != rep.Taps || pr.Groups < tc.groups || (pr.Splits > 0) != tc.splits {
				t.Fatalf("%s: partitioned %+v of %d taps; want every tap, at least %d groups, splits %v", tc.name, pr, rep.Taps, tc.groups, tc.splits)
			}
			if rep.Engine != wantRep.Engine {
				t.Errorf("%s: engine stats %+v, in memory %+v", tc.name, rep.Engine, wantRep.Engine)
			}
			got := tree(t, out)
			for name, data := range want {
				if !bytes.Equal(data, got[name]) {
					t.Errorf("ledger %v, %s: %s differs from the run in memory", ledger, tc.name, name)
				}
			}
			if len(got) != len(want) {
				t.Errorf("ledger %v, %s: %d files, in memory %d", ledger, tc.name, len(got), len(want))
			}
			if left, _ := os.ReadDir(spillDir); len(left) != 0 {
				t.Errorf("left in the spill folder: %v", left)
			}
		}
		if st := wantRep.Engine.Rows; st[transit.StatusDuplicate] == 0 || st[transit.StatusIncomplete] == 0 || wantRep.Rejected == 0 {
			t.Fatalf("the day lacks duplicates, incomplete journeys or malformed records: %v, %d malformed", st, wantRep.Rejected)
		}
	}
}

// TestStateRunOverBudget: a run with a state folder whose taps pass the
// budget is no longer refused: it partitions its taps, and its state,
// like any other, writes the day files of the run in memory and leaves a
// state (see partstate_test.go for days settled one at a time so).
func TestStateRunOverBudget(t *testing.T) {
	dir := t.TempDir()
	inputs, _ := twoDays(t, dir, 3_000)
	b, cal := env(t)
	day, _ := transit.ParseDay("2025-03-03")
	var want map[string][]byte
	for _, budget := range []int64{0, 256 << 10} {
		name := fmt.Sprint(budget)
		state := filepath.Join(dir, "state-"+name)
		out := filepath.Join(dir, "out-"+name)
		job := &batch.Settle{Book: b, Calendar: cal, OutDir: out, SkipSync: true, State: state, Day: day, MemoryBudget: budget,
			SpillDir: filepath.Join(dir, "spill")}
		rep, err := job.Run(context.Background(), inputs)
		if err != nil {
			t.Fatalf("a state run, budget %d: %v", budget, err)
		}
		if (rep.Partitioned.Groups > 0) != (budget != 0) {
			t.Fatalf("budget %d: partitioned %+v", budget, rep.Partitioned)
		}
		if _, err := os.Stat(filepath.Join(state, "state.json")); err != nil {
			t.Errorf("budget %d: no state written: %v", budget, err)
		}
		got := tree(t, out)
		if want == nil {
			want = got
			continue
		}
		if len(got) != len(want) {
			t.Errorf("partitioned: %d files, in memory %d", len(got), len(want))
		}
		for name, data := range want {
			if !bytes.Equal(data, got[name]) {
				t.Errorf("partitioned: %s differs from the run in memory", name)
			}
		}
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "spill")); len(left) != 0 {
		t.Errorf("left in the spill folder: %v", left)
	}
}

// TestBadMemoryBudget: a negative budget is refused before anything is
// read.
func TestBadMemoryBudget(t *testing.T) {
	b, cal := env(t)
	job := &batch.Settle{Book: b, Calendar: cal, OutDir: t.TempDir(), MemoryBudget: -1}
	_, err := job.Run(context.Background(), []string{"no-such-file.csv"})
	if err == nil || !strings.Contains(err.Error(), "memory budget") {
		t.Fatalf("a negative budget: %v", err)
	}
}
