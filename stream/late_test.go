package stream

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// TestLateExitAfterCloseThroughKill: metro exits that arrive after their
// entries' day was closed (the entries charged incomplete) book, in the
// next day, a reversal of each entry's charge and the journey's fare, the
// same rows as the batch job settling the same two uploads day by day
// with a state folder, although the service that settles the second day
// is killed with SIGKILL mid-stream and restarted from its checkpoints.
func TestLateExitAfterCloseThroughKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts child processes")
	}
	e := newEnv(t)
	dir := t.TempDir()
	gen := func(day transit.Day, first int) []transit.Tap { return killTestTaps(t, e, 11, day, first) }
	first, second := gen(testDay, 0), gen(testDay+1, 20000)
	// Shanghai cards enter Ningbo's metro in the evening of testDay; their
	// exits come with the next day's upload.
	net := e.book.Policy(transit.Ningbo, testDay).Metro
	var entries, exits []transit.Tap
	for i := range 6 {
		tap := func(action transit.Action, station int32, at time.Time, id string) transit.Tap {
			var x transit.Tap
			x.Time, x.Offset = at.UnixNano(), 8*3600
			x.Issuer, x.City, x.Mode, x.Action, x.Product = 310100, transit.Ningbo, transit.ModeMetro, action, transit.ProductStandard
			for _, err := range []error{x.ID.Set([]byte(id)), x.Card.Set(fmt.Appendf(nil, "LATE%02d", i))} {
				if err != nil {
					t.Fatal(err)
				}
			}
			stop := net.StationCode(station)
			if err := x.Stop.Set(stop.Bytes()); err != nil {
				t.Fatal(err)
			}
			return x
		}
		at := time.Date(2025, 3, 3, 19, 10*i, 0, 0, time.FixedZone("CST", 8*3600))
		entries = append(entries, tap(transit.ActionEntry, 0, at, fmt.Sprintf("late-%d-in", i)))
		exits = append(exits, tap(transit.ActionExit, int32(1+i%3), at.Add(25*time.Minute), fmt.Sprintf("late-%d-out", i)))
	}
	day1 := append(append([]transit.Tap{}, first...), entries...)
	day2 := append(append([]transit.Tap{}, exits...), second...) // the late exits come first

	// The batch job, day by day, with a state folder.
	ref := filepath.Join(dir, "batch")
	for i, taps := range [][]transit.Tap{day1, day2} {
		file := filepath.Join(dir, fmt.Sprintf("day%d.csv", i))
		writeTaps(t, file, taps)
		job := &batch.Settle{Book: e.book, Calendar: e.cal, OutDir: ref, Ledger: true, SkipSync: true,
			State: filepath.Join(dir, "state"), Day: testDay + transit.Day(i)}
		if _, err := job.Run(context.Background(), []string{file}); err != nil {
			t.Fatal(err)
		}
	}
	if n := bytes.Count(readLedger(t, ref, testDay+1), []byte(",adjustment,")); n != len(exits) {
		t.Fatalf("the batch job's %s ledger has %d adjustments, want %d (one reversal per late exit)", testDay+1, n, len(exits))
	}

	// The stream: the first day settled and closed, then the second day
	// with a SIGKILL and a restart.
	b, pub := startBroker(t, 16)
	out, stateDir := t.TempDir(), t.TempDir()
	publishDay(t, pub, day1, testDay)
	finishChild(t, b.Addrs()[0], stateDir, out, testDay)
	publishDay(t, pub, day2, testDay+1)
	if err := killMidDay(t, b.Addrs()[0], stateDir, out, testDay+1); err == nil {
		t.Fatal("the child finished before the kill: make the day longer")
	}
	finishChild(t, b.Addrs()[0], stateDir, out, testDay+1)

	f := &fixture{last: testDay + 1}
	sameTree(t, out, ref, f, true)
	for _, d := range []transit.Day{testDay, testDay + 1} {
		if err := settlement.Verify(filepath.Join(out, d.String())); err != nil {
			t.Fatal(err)
		}
	}
}

// killTestTaps generates the 20,000 taps of day of a through-kill test,
// numbered from first, none late or malformed.
func killTestTaps(t *testing.T, e *env, seed uint64, day transit.Day, first int) []transit.Tap {
	t.Helper()
	d, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: 20000, Seed: seed, Day: day, FirstID: first, Late: -1, Malformed: -1})
	if err != nil {
		t.Fatal(err)
	}
	return d.Taps()
}

// finishChild runs a child service settling through until, with local state
// in stateDir, to its end.
func finishChild(t *testing.T, broker, stateDir, out string, until transit.Day) {
	t.Helper()
	cmd := child(t, broker, "local:"+stateDir, out, until)
	if err := cmd.Run(); err != nil {
		t.Fatalf("child until %s: %v\n%s", until, err, cmd.Stderr)
	}
}

// killMidDay starts a child service settling through until and SIGKILLs
// it once it has written one to three more segments (or after a minute),
// and returns what its Wait returned: nil when it finished first.
func killMidDay(t *testing.T, broker, stateDir, out string, until transit.Day) error {
	t.Helper()
	segments := func() int {
		segs, _ := filepath.Glob(filepath.Join(out, segmentsDir, "p*", "*.seg"))
		return len(segs)
	}
	cmd := child(t, broker, "local:"+stateDir, out, until)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	want := segments() + 1 + rand.IntN(3)
	for deadline := time.Now().Add(time.Minute); segments() < want && time.Now().Before(deadline) && len(done) == 0; {
		time.Sleep(time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	return <-done
}
