package batch_test

import (
	"bytes"
	"context"
	"errors"
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

// settleState runs settle with a state folder, closing the days up to
// day, and returns its error.
func settleState(t *testing.T, out, state, day string, shards int, inputs ...string) (*batch.Report, error) {
	t.Helper()
	b, cal := env(t)
	d, err := transit.ParseDay(day)
	if err != nil {
		t.Fatal(err)
	}
	job := &batch.Settle{Book: b, Calendar: cal, Shards: shards, OutDir: out, Ledger: true, SkipSync: true, State: state, Day: d}
	return job.Run(context.Background(), inputs)
}

// month writes n days of the same riders, one file a day, from
// 2025-03-01: Beijing's riders cross the monthly volume discount's
// thresholds over the days. A day's file may hold taps after its cut-off
// (journeys across it), as uploads do.
func month(t *testing.T, dir string, n, taps int) []string {
	t.Helper()
	b, cal := env(t)
	first, _ := transit.ParseDay("2025-03-01")
	var files []string
	for k := range n {
		d, err := bench.Generate(b, cal, bench.GenOptions{Taps: taps, Seed: 5, Day: first + transit.Day(k), FirstID: k * taps,
			Malformed: -1, Interregional: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("day-%02d.csv.zst", k))
		if err := bench.WriteFile(p, ingest.FormatAuto, ingest.CompressionAuto, d); err != nil {
			t.Fatal(err)
		}
		// Two Ningbo metro journeys across the day's cut-off, in this day's
		// upload: one ends after it (held, then paired with its carried
		// entry), one never ends (incomplete the next day).
		net := b.Policy(transit.Ningbo, first).Metro
		from, to := net.StationCode(0).String(), net.StationCode(1).String()
		next := (first + transit.Day(k+1)).String()
		night := filepath.Join(dir, fmt.Sprintf("night-%02d.csv", k))
		body := "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n" +
			fmt.Sprintf("n%d-1,NIGHT,joinin,330200,330200,metro,M1,%s,entry,%sT03:50:00+08:00,\n", k, from, next) +
			fmt.Sprintf("n%d-2,NIGHT,joinin,330200,330200,metro,M1,%s,exit,%sT04:20:00+08:00,\n", k, to, next) +
			fmt.Sprintf("n%d-3,OWL,standard,310100,330200,metro,M1,%s,entry,%sT03:30:00+08:00,\n", k, from, next)
		if err := os.WriteFile(night, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p, night)
	}
	return files
}

// TestDayByDayIsOneRun: a month settled one day at a time, each run going
// on from the state the previous one left (with another shard count each
// time), writes the same day files, byte for byte, as one run over the
// month; the Beijing volume discount builds up across the days.
func TestDayByDayIsOneRun(t *testing.T) {
	dir := t.TempDir()
	files := month(t, dir, 31, 1500)
	daily, once := filepath.Join(dir, "daily"), filepath.Join(dir, "once")
	var last *batch.Report
	var held int64
	for k := 0; k < len(files); k += 2 {
		rep, err := settleState(t, daily, filepath.Join(dir, "state-daily"), fmt.Sprintf("2025-03-%02d", k/2+1), 1+k%3, files[k:k+2]...)
		if err != nil {
			t.Fatalf("day %d: %v", k, err)
		}
		last = rep
		held += rep.State.Held
	}
	if held == 0 || last.State.Held == 0 || last.State.Carried == 0 {
		t.Errorf("taps held %d over the days, %d and journeys carried %d at the end: the test no longer carries them in the state",
			held, last.State.Held, last.State.Carried)
	}
	rep, err := settleState(t, once, filepath.Join(dir, "state-once"), "2025-03-31", 2, files...)
	if err != nil {
		t.Fatal(err)
	}
	a, b := tree(t, daily), tree(t, once)
	if len(a) != len(b) || len(a) < 31*4 {
		t.Fatalf("%d files day by day, %d in one run", len(a), len(b))
	}
	if _, ok := b[filepath.Join("2025-04-01", "manifest.txt")]; ok {
		t.Error("2025-04-01 written: its taps wait in the state until it closes")
	}
	for name, data := range b {
		if !bytes.Equal(data, a[name]) {
			t.Errorf("%s differs between day by day and one run", name)
		}
	}
	if last.State.Closed != rep.State.Closed || last.State.Carried != rep.State.Carried || last.State.Held != rep.State.Held {
		t.Errorf("state after the month: day by day %+v, one run %+v", last.State, rep.State)
	}
	// The volume discount: none on the first day, some later.
	volume := func(day string) int {
		n := 0
		for _, l := range strings.Split(string(readZstd(t, filepath.Join(once, day, "ledger.csv.zst"))), "\n") {
			if strings.Contains(l, ",110100,") && strings.Contains(l, "volume") {
				n++
			}
		}
		return n
	}
	if first, end := volume("2025-03-01"), volume("2025-03-31"); first != 0 || end == 0 {
		t.Errorf("Beijing rows with the volume discount: %d on the first day, %d on the last; want none, then some", first, end)
	}
	if err := settlement.Verify(daily); err != nil {
		t.Fatal(err)
	}
}

// TestStateRefusesClosedDay: a run asked to close a day the state closed
// is refused and changes nothing; a later run settles a closed day's tap
// as late in the first open day, and a tap of a day after the one it
// closes waits in the state for its day.
func TestStateRefusesClosedDay(t *testing.T) {
	dir := t.TempDir()
	files := month(t, dir, 3, 400)
	out, state := filepath.Join(dir, "out"), filepath.Join(dir, "state")
	for k := range 2 {
		if _, err := settleState(t, out, state, fmt.Sprintf("2025-03-%02d", k+1), 2, files[2*k:2*k+2]...); err != nil {
			t.Fatal(err)
		}
	}
	before := tree(t, dir)
	_, err := settleState(t, out, state, "2025-03-02", 2, files[2:4]...)
	if !errors.Is(err, batch.ErrDayClosed) || !strings.Contains(err.Error(), "2025-03-02") {
		t.Fatalf("settling a closed day again: %v, want ErrDayClosed naming 2025-03-02", err)
	}
	after := tree(t, dir)
	for name, data := range before {
		if !bytes.Equal(data, after[name]) {
			t.Errorf("the refused run changed %s", name)
		}
	}
	// A tap of 2025-03-01 (closed) arrives with 2025-03-03's, and one of
	// 2025-03-04, which the run does not close.
	late := filepath.Join(dir, "late.csv")
	body := "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n" +
		"late-1,LATE,standard,330200,330200,bus,71,B1,board,2025-03-01T09:00:00+08:00,\n" +
		"early-1,EARLY,standard,330200,330200,bus,71,B1,board,2025-03-04T09:00:00+08:00,\n" +
		"bad-1,BAD,standard,330200,330200,bus,71,B1,fly,2025-03-01T09:00:00+08:00,\n" +
		"bad-2,BAD,standard,330200,330200,bus,71,B1,board,yesterday,\n" +
		"bad-3,BAD,standard,330200,330200,bus,71,B1,fly,2025-03-05T09:00:00+08:00,\n"
	if err := os.WriteFile(late, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := settleState(t, out, state, "2025-03-03", 2, files[4], files[5], late)
	if err != nil {
		t.Fatal(err)
	}
	if rep.State.Held != 2 || rep.State.Carried != 2 {
		t.Errorf("%d taps held and %d journeys carried in the state, want 2 (the night's exit, early-1) and 2 (the night's entries)",
			rep.State.Held, rep.State.Carried)
	}
	if _, err := os.Stat(filepath.Join(out, "2025-03-04")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("2025-03-04 written before it closes: %v", err)
	}
	ledger := string(readZstd(t, filepath.Join(out, "2025-03-03", "ledger.csv.zst")))
	i := strings.Index(ledger, "\nlate-1,")
	if i < 0 {
		t.Fatal("the late tap is not in the first open day's ledger")
	}
	if row := ledger[i+1 : i+1+strings.IndexByte(ledger[i+1:], '\n')]; !strings.Contains(row, ",2025-03-03,charged,") || !strings.Contains(row, "late") {
		t.Errorf("late tap's row %q: want settled on 2025-03-03, charged, flagged late", row)
	}
	// Malformed records are reported in the run that reads them: of a
	// closed day in the first open day, without a time or after the day
	// closed in the day closed.
	rejects := string(readZstd(t, filepath.Join(out, "2025-03-03", "rejects.csv.zst")))
	for _, id := range []string{"bad-1", "bad-2", "bad-3"} {
		if !strings.Contains(rejects, id+",") {
			t.Errorf("2025-03-03's rejects lack %s:\n%s", id, rejects)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "undated")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run with a state folder wrote undated/: %v", err)
	}
	if a, b := before[filepath.Join("out", "2025-03-01", "ledger.csv.zst")], tree(t, dir)[filepath.Join("out", "2025-03-01", "ledger.csv.zst")]; !bytes.Equal(a, b) {
		t.Error("the closed day's ledger changed")
	}
}

// TestStateRefusesOtherCalendarAndSecondRun: a state cut with another
// calendar is refused, as is a second run on a folder in use.
func TestStateRefusesOtherCalendarAndSecondRun(t *testing.T) {
	dir := t.TempDir()
	files := month(t, dir, 1, 200)
	state := filepath.Join(dir, "state")
	if _, err := settleState(t, filepath.Join(dir, "out"), state, "2025-03-01", 1, files[0]); err != nil {
		t.Fatal(err)
	}
	info := filepath.Join(state, "state.json")
	js, err := os.ReadFile(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(info, bytes.Replace(js, []byte(`"cutoff": "04:00"`), []byte(`"cutoff": "03:00"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := settleState(t, filepath.Join(dir, "out2"), state, "2025-03-02", 1, files[0]); err == nil || !strings.Contains(err.Error(), "03:00") {
		t.Errorf("a state of another calendar: %v, want a refusal naming its cut-off", err)
	}
	if err := os.WriteFile(info, js, 0o600); err != nil {
		t.Fatal(err)
	}
	engineFile := filepath.Join(state, "engine-2025-03-01.state.zst")
	eb, err := os.ReadFile(engineFile)
	if err != nil {
		t.Fatal(err)
	}
	eb[len(eb)/2] ^= 1
	if err := os.WriteFile(engineFile, eb, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := settleState(t, filepath.Join(dir, "out3"), state, "2025-03-02", 1, files[0]); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("a spoiled engine state: %v, want a checksum refusal", err)
	}
}
