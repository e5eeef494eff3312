package batch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/transit"
)

// stateDays is days of inputs for runs with a state folder from
// 2025-03-01: day k's inputs, and the correction files its run is given.
type stateDays struct {
	inputs      [][]string
	corrections [][]string
}

// stateRun settles days one at a time with a state folder under dir,
// each run with budgets[k] (0: the default, in memory), and returns the
// day files, each day's report and the engine state's records after
// each day, sorted.
func stateRun(t *testing.T, dir string, days stateDays, budgets []int64, shards int) (map[string][]byte, []*batch.Report, [][]string) {
	t.Helper()
	b, cal := env(t)
	out, state, spillDir := filepath.Join(dir, "out"), filepath.Join(dir, "state"), filepath.Join(dir, "spill")
	first, _ := transit.ParseDay("2025-03-01")
	var reps []*batch.Report
	var states [][]string
	for k, inputs := range days.inputs {
		job := &batch.Settle{Book: b, Calendar: cal, Shards: shards, OutDir: out, Ledger: true, SkipSync: true,
			State: state, Day: first + transit.Day(k), Corrections: days.corrections[k], MemoryBudget: budgets[k], SpillDir: spillDir}
		rep, err := job.Run(context.Background(), inputs)
		if err != nil {
			t.Fatalf("day %d: %v", k+1, err)
		}
		if (rep.Partitioned.Groups > 0) != (budgets[k] != 0) {
			t.Fatalf("day %d, budget %d: partitioned %+v", k+1, budgets[k], rep.Partitioned)
		}
		reps = append(reps, rep)
		states = append(states, stateRecords(t, state))
		if left, _ := os.ReadDir(spillDir); len(left) != 0 {
			t.Fatalf("day %d: left in the spill folder: %v", k+1, left)
		}
	}
	return tree(t, out), reps, states
}

// stateRecords returns the records of the state folder's engine state,
// sorted, after its head: what the engine loads, whatever their order.
func stateRecords(t *testing.T, state string) []string {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(state, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(js, []byte(`"engine": "`))
	if i < 0 {
		t.Fatalf("state.json names no engine file:\n%s", js)
	}
	name := js[i+len(`"engine": "`):]
	name = name[:bytes.IndexByte(name, '"')]
	var recs []string
	closed, dedup, err := engine.StateRecords(bytes.NewReader(readZstd(t, filepath.Join(state, string(name)))), func(_ *transit.CardID, rec []byte) error {
		recs = append(recs, string(rec))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(recs)
	return append(recs, fmt.Sprintf("closed %v, dedup %d", closed, dedup))
}

// sameTree reports the files of got that differ from want's.
func sameTree(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d files, want %d", what, len(got), len(want))
	}
	for name, data := range want {
		if !bytes.Equal(data, got[name]) {
			t.Errorf("%s: %s differs", what, name)
		}
	}
}

// writeFile writes body to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const tapHead = "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n"

// partStateDays writes n days of inputs from 2025-03-01 (see
// TestStateRunPartitionedDayByDay) and the corrections given to the runs
// after the first.
func partStateDays(t *testing.T, dir string, n int) stateDays {
	t.Helper()
	files := month(t, dir, n, 1200)
	// Corrections of taps of the first day, given to every later run: a
	// refund, a partial refund, one of a tap never seen, one of a
	// correction, and one of a tap of the third day (not settled on the
	// second, applied on the third).
	corr := writeFile(t, dir, "corrections.csv", "correction_id,card,tap_id,kind,amount,reason\n"+
		"c1,JOIN,t1,refund,,gate fault\n"+
		"c2,VISIT,t2,partial-refund,30,overcharged\n"+
		"c3,VISIT,t9,refund,,no such tap\n"+
		"c4,JOIN,c1,refund,,refund the refund\n"+
		"c5,VISIT,t3,refund,,not closed yet\n")
	b, _ := env(t)
	first, _ := transit.ParseDay("2025-03-01")
	net := b.Policy(transit.Ningbo, first).Metro
	from, to := net.StationCode(0).String(), net.StationCode(1).String()
	var days stateDays
	for k := range n {
		d := fmt.Sprintf("2025-03-%02d", k+1)
		body := tapHead
		switch k {
		case 0:
			body += "t1,JOIN,joinin,330200,330200,bus,B1,,board,2025-03-01T08:00:00+08:00,\n" +
				"t2,VISIT,standard,310100,330200,bus,B1,,board,2025-03-01T09:00:00+08:00,\n" +
				// An entry whose exit comes after its day closed.
				"x1,LATEX,joinin,330200,330200,metro,M1," + from + ",entry,2025-03-01T20:00:00+08:00,\n" +
				// A tap of the third day, held in the state.
				"t3,VISIT,standard,310100,330200,bus,B1,,board,2025-03-03T09:00:00+08:00,\n"
		case 1:
			body += "x2,LATEX,joinin,330200,330200,metro,M1," + to + ",exit,2025-03-01T20:30:00+08:00,\n"
		}
		body += fmt.Sprintf("r%d,REPEAT,standard,330200,330200,bus,B1,,board,%sT10:00:00+08:00,\n", k, d) +
			fmt.Sprintf("rep,REPEAT,standard,330200,330200,bus,B1,,board,%sT11:00:00+08:00,\n", d)
		inputs := append(files[2*k:2*k+2:2*k+2], writeFile(t, dir, fmt.Sprintf("extra-%d.csv", k), body))
		var cs []string
		if k > 0 {
			inputs = append(inputs, files[2*k-2]) // yesterday's upload again
			cs = []string{corr}
		}
		days.inputs = append(days.inputs, inputs)
		days.corrections = append(days.corrections, cs)
	}
	return days
}

// TestStateRunPartitionedDayByDay: days settled one at a time with a
// state folder under budgets that partition every run (and, at the
// smallest, split partitions again), or some runs only, write the day
// files of the same days settled in memory, byte for byte, and leave
// after each day a state of the same records (in another order: the
// groups', not the shards'), with the same counts: with journeys across
// the cut-off, a day's upload sent again the next day (duplicates across
// days, late), a metro exit after its entry's day closed, taps of days
// not closed yet, and corrections (applied, refused, then duplicates).
func TestStateRunPartitionedDayByDay(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	days := partStateDays(t, dir, n)
	want, wantReps, wantStates := stateRun(t, filepath.Join(dir, "memory"), days, make([]int64, n), 2)
	var rows [transit.NumStatuses]int64
	for _, rep := range wantReps {
		for s, c := range rep.Engine.Rows {
			rows[s] += c
		}
	}
	if rows[transit.StatusDuplicate] == 0 || rows[transit.StatusIncomplete] == 0 || rows[transit.StatusAdjustment] == 0 ||
		wantReps[1].Corrections.Applied == 0 || wantReps[2].Corrections.Duplicate == 0 || wantReps[n-1].State.Held == 0 || wantReps[n-1].State.Carried == 0 {
		t.Fatalf("rows %v, corrections %+v then %+v, held %d, carried %d: the test lacks duplicates, incomplete journeys, adjustments, corrections or carried state",
			rows, wantReps[1].Corrections, wantReps[2].Corrections, wantReps[n-1].State.Held, wantReps[n-1].State.Carried)
	}
	for _, tc := range []struct {
		name    string
		budgets []int64
		shards  int
		splits  bool // some day splits a partition again
	}{
		{"256KiB", []int64{256 << 10, 256 << 10, 256 << 10, 256 << 10}, 3, false},
		{"16KiB", []int64{16 << 10, 16 << 10, 16 << 10, 16 << 10}, 1, true},
		{"some days", []int64{0, 256 << 10, 0, 16 << 10}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reps, states := stateRun(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")), days, tc.budgets, tc.shards)
			sameTree(t, tc.name, want, got)
			splits := 0
			for k, rep := range reps {
				splits += rep.Partitioned.Splits
				w := wantReps[k]
				if rep.Engine != w.Engine || rep.Corrections != w.Corrections {
					t.Errorf("day %d: engine %+v, corrections %+v; in memory %+v, %+v", k+1, rep.Engine, rep.Corrections, w.Engine, w.Corrections)
				}
				if rep.State.Carried != w.State.Carried || rep.State.Held != w.State.Held || rep.State.Closed != w.State.Closed {
					t.Errorf("day %d: state %+v, in memory %+v", k+1, rep.State, w.State)
				}
				if !slices.Equal(states[k], wantStates[k]) {
					t.Errorf("day %d: the state's records (%d) are not those of the run in memory (%d)", k+1, len(states[k]), len(wantStates[k]))
				}
			}
			if (splits > 0) != tc.splits {
				t.Errorf("%d partitions split again, want splits %v", splits, tc.splits)
			}
		})
	}
}

// TestStateRunPartitionedIsOneRun: a month's days settled one at a time
// with a state folder under a budget that partitions them write the same
// files as one run over the month in memory, as in memory day by day do
// (TestDayByDayIsOneRun), and so does that one run partitioned.
func TestStateRunPartitionedIsOneRun(t *testing.T) {
	dir := t.TempDir()
	const n = 5
	files := month(t, dir, n, 800)
	b, cal := env(t)
	last, _ := transit.ParseDay(fmt.Sprintf("2025-03-%02d", n))
	once := func(name string, budget int64) (map[string][]byte, *batch.Report) {
		out := filepath.Join(dir, name)
		job := &batch.Settle{Book: b, Calendar: cal, Shards: 2, OutDir: out, Ledger: true, SkipSync: true,
			State: filepath.Join(dir, name+"-state"), Day: last, MemoryBudget: budget}
		rep, err := job.Run(context.Background(), files)
		if err != nil {
			t.Fatal(err)
		}
		return tree(t, out), rep
	}
	want, wantRep := once("once", 0)
	got, rep := once("once-partitioned", 64<<10)
	if rep.Partitioned.Groups == 0 {
		t.Fatalf("one run under 64KiB: not partitioned")
	}
	sameTree(t, "one run partitioned", want, got)
	if rep.Engine != wantRep.Engine || *rep.State != *withWritten(rep.State, wantRep.State) {
		t.Errorf("one run partitioned: engine %+v, state %+v; in memory %+v, %+v", rep.Engine, rep.State, wantRep.Engine, wantRep.State)
	}
	var days stateDays
	budgets := make([]int64, n)
	for k := range n {
		days.inputs = append(days.inputs, files[2*k:2*k+2])
		days.corrections = append(days.corrections, nil)
		budgets[k] = 64 << 10
	}
	got, reps, _ := stateRun(t, filepath.Join(dir, "daily"), days, budgets, 3)
	sameTree(t, "day by day partitioned", want, got)
	if st := reps[n-1].State; st.Carried != wantRep.State.Carried || st.Held != wantRep.State.Held {
		t.Errorf("state after the days: %+v, one run %+v", st, wantRep.State)
	}
}

// withWritten returns a copy of want with got's time written and engine
// file: what the two states may differ in (the engine file's bytes
// follow its records' order).
func withWritten(got, want *batch.StateInfo) *batch.StateInfo {
	w := *want
	w.Written, w.EngineSize, w.EngineSHA256 = got.Written, got.EngineSize, got.EngineSHA256
	return &w
}

// TestStateRunPartitionedFailureKeepsState: a partitioned run with a
// state folder that fails once its taps and state are partitioned (here
// cancelled) leaves the previous state as it was, and its spill folder
// is removed; run again, it writes the files of the run in memory.
func TestStateRunPartitionedFailureKeepsState(t *testing.T) {
	dir := t.TempDir()
	files := month(t, dir, 2, 1000)
	b, cal := env(t)
	state := filepath.Join(dir, "state")
	spillDir := filepath.Join(dir, "spill")
	job := func(out, day string, budget int64) *batch.Settle {
		d, _ := transit.ParseDay(day)
		return &batch.Settle{Book: b, Calendar: cal, Shards: 2, OutDir: out, Ledger: true, SkipSync: true, Force: true,
			State: state, Day: d, MemoryBudget: budget, SpillDir: spillDir}
	}
	if _, err := job(filepath.Join(dir, "out"), "2025-03-01", 0).Run(context.Background(), files[:2]); err != nil {
		t.Fatal(err)
	}
	before := tree(t, state)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := job(filepath.Join(dir, "out"), "2025-03-02", 64<<10)
	var spilled []os.DirEntry
	batch.SetAfterPartition(j, func(dir string) {
		spilled, _ = os.ReadDir(dir)
		cancel()
	})
	if _, err := j.Run(ctx, files[2:4]); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled run: %v, want context.Canceled", err)
	}
	if len(spilled) < 2 {
		t.Fatalf("the spill folder held %v when the run failed: want its taps and state partitioned", spilled)
	}
	sameTree(t, "the state after a failed run", before, tree(t, state))
	if left, _ := os.ReadDir(spillDir); len(left) != 0 {
		t.Errorf("left in the spill folder: %v", left)
	}
	// Again, partitioned, and from a copy of the state in memory.
	if err := os.CopyFS(filepath.Join(dir, "state-copy"), os.DirFS(state)); err != nil {
		t.Fatal(err)
	}
	rep, err := job(filepath.Join(dir, "out"), "2025-03-02", 64<<10).Run(context.Background(), files[2:4])
	if err != nil || rep.Partitioned.Groups == 0 {
		t.Fatalf("the run again: %v, partitioned %+v", err, rep.Partitioned)
	}
	jm := job(filepath.Join(dir, "out-memory"), "2025-03-02", 0)
	jm.State = filepath.Join(dir, "state-copy")
	if _, err := jm.Run(context.Background(), files[2:4]); err != nil {
		t.Fatal(err)
	}
	got, want := tree(t, filepath.Join(dir, "out")), tree(t, filepath.Join(dir, "out-memory"))
	for name := range got {
		if strings.HasPrefix(name, "2025-03-01") {
			delete(got, name)
		}
	}
	sameTree(t, "the run again", want, got)
}
