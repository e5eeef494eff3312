package stream

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// TestCorrectionsOnceThroughKill: corrections published on the topic are
// applied once in the first open day, even when one is sent twice and the
// service is killed with SIGKILL mid-day and restarted from its
// checkpoints: the day's ledger and clearing files are byte for byte those
// of the batch job given the same corrections day by day, and the refused
// ones are quarantined.
func TestCorrectionsOnceThroughKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts child processes")
	}
	e := newEnv(t)
	dir := t.TempDir()
	gen := func(day transit.Day, first int) []transit.Tap { return killTestTaps(t, e, 13, day, first) }
	// Riders of Ningbo's buses on testDay, Join in Card holders of Ningbo
	// and visitors from Shanghai.
	var rides []transit.Tap
	for i := range 8 {
		var x transit.Tap
		x.Time, x.Offset = time.Date(2025, 3, 3, 10, i, 0, 0, time.FixedZone("CST", 8*3600)).UnixNano(), 8*3600
		x.Issuer, x.City, x.Mode, x.Action, x.Product = transit.Ningbo, transit.Ningbo, transit.ModeBus, transit.ActionBoard, transit.ProductJoinIn
		if i%2 == 1 {
			x.Issuer, x.Product = 310100, transit.ProductStandard
		}
		for _, err := range []error{x.ID.Set(fmt.Appendf(nil, "ride-%d", i)), x.Card.Set(fmt.Appendf(nil, "CORR%d", i))} {
			if err != nil {
				t.Fatal(err)
			}
		}
		rides = append(rides, x)
	}
	day1 := append(gen(testDay, 0), rides...)
	// In time order, so that the rides are not late in the stream.
	slices.SortStableFunc(day1, func(a, b transit.Tap) int { return cmp.Compare(a.Time, b.Time) })
	day2 := gen(testDay+1, 20000)
	var lines []string
	for i := range rides {
		kind := []string{"refund,", "partial-refund,50", "reprice,100"}[i%3]
		lines = append(lines, fmt.Sprintf("cs-%d,CORR%d,ride-%d,%s,customer service", i, i, i, kind))
	}
	lines = append(lines,
		"cs-0,CORR0,ride-0,refund,,sent twice",
		"cs-x,CORR1,cs-1,refund,,refund of a refund",
		"cs-y,CORR9,ride-9,refund,,no such ride")
	corrFile := filepath.Join(dir, "corrections.csv")
	body := "correction_id,card,tap_id,kind,amount,reason\n"
	for _, l := range lines {
		body += l + "\n"
	}
	if err := os.WriteFile(corrFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	// The batch job, day by day, the corrections with the second day.
	ref := filepath.Join(dir, "batch")
	for i, taps := range [][]transit.Tap{day1, day2} {
		file := filepath.Join(dir, fmt.Sprintf("day%d.csv", i))
		writeTaps(t, file, taps)
		job := &batch.Settle{Book: e.book, Calendar: e.cal, OutDir: ref, Ledger: true, SkipSync: true,
			State: filepath.Join(dir, "state"), Day: testDay + transit.Day(i)}
		if i == 1 {
			job.Corrections = []string{corrFile}
		}
		rep, err := job.Run(context.Background(), []string{file})
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Corrections; i == 1 && (c.Applied != int64(len(rides)) || c.Duplicate != 1 || c.Rejected != 2) {
			t.Fatalf("the batch job's corrections: %+v, want %d applied, 1 duplicate, 2 rejected", c, len(rides))
		}
	}

	// The stream: the first day settled and closed; then the second day's
	// taps with the corrections among them, a SIGKILL and a restart.
	b, pub := startBroker(t, 16)
	ctx := context.Background()
	out, stateDir := t.TempDir(), t.TempDir()
	publishDay(t, pub, day1, testDay)
	finishChild(t, b.Addrs()[0], stateDir, out, testDay)
	// The file is written without a mistake.
	recs, _, err := ingest.ReadCorrections(corrFile, ingest.Options{OnReject: func(r transit.Reject) {
		t.Fatalf("%s:%d: %s", r.Source, r.Line, r.Reason)
	}})
	if err != nil {
		t.Fatal(err)
	}
	half := len(day2) / 2
	for _, step := range []func() error{
		func() error { return pub.Publish(ctx, day2[:half]) },
		func() error { return pub.PublishCorrections(ctx, recs) },
		func() error { return pub.Publish(ctx, day2[half:]) },
		func() error { return pub.CloseDay(ctx, (testDay + 1).String()) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := killMidDay(t, b.Addrs()[0], stateDir, out, testDay+1); err == nil {
		t.Fatal("the child finished before the kill: make the day longer")
	}
	finishChild(t, b.Addrs()[0], stateDir, out, testDay+1)

	if n := bytes.Count(readLedger(t, out, testDay+1), []byte(",correction,")); n != len(rides)+len(rides)/3 {
		t.Errorf("the stream's ledger of %s has %d correction rows, want %d (a re-price books two)", testDay+1, n, len(rides)+len(rides)/3)
	}
	sameTree(t, out, ref, &fixture{last: testDay + 1}, false)
	rejects, err := os.ReadFile(filepath.Join(out, (testDay + 1).String(), "rejects.csv.zst"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := zstdDecode(rejects)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"duplicate: correction_id", "corrects-correction", "unknown-charge"} {
		if n := bytes.Count(raw, []byte(want)); n != 1 {
			t.Errorf("the stream's rejects hold %q %d times, want once:\n%s", want, n, raw)
		}
	}
	if err := settlement.Verify(filepath.Join(out, (testDay + 1).String())); err != nil {
		t.Fatal(err)
	}
}
