package stream

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/transit"
)

// TestStreamDuplicatesAcrossDaysAndRestart: tap_ids of one day seen again
// the next day, in the same city or another, are duplicates in the stream
// as in the batch job, byte for byte, although the service that settles
// the second day is a new one that restored the first one's state.
func TestStreamDuplicatesAcrossDaysAndRestart(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	day1, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: 3000, Seed: 5, Day: testDay, Late: -1, Malformed: -1})
	if err != nil {
		t.Fatal(err)
	}
	day2, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: 3000, Seed: 5, Day: testDay + 1, FirstID: 3000, Late: -1, Malformed: -1})
	if err != nil {
		t.Fatal(err)
	}
	first, second := day1.Taps(), day2.Taps()
	const again = 40
	for i := range again {
		x := first[i*len(first)/again]
		x.Time += int64(24 * time.Hour) // the same tap_id a day later
		if i%2 == 1 && x.Mode == transit.ModeBus {
			x.City = 310100 // ... and in another city
		}
		second = append(second, x)
	}
	// In event-time order, as validators send them: a tap behind the
	// reorder window would be late, settled apart by design.
	slices.SortFunc(second, func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
	all := append(append([]transit.Tap{}, first...), second...)
	f := &fixture{taps: all, file: filepath.Join(dir, "taps.csv"), batch: filepath.Join(dir, "batch"), last: testDay + 1}
	ledger := settleReference(t, e, f, testDay+1)
	if n := bytes.Count(ledger, []byte(",duplicate,")); n < again {
		t.Fatalf("the batch job's %s ledger has %d duplicates, want at least %d", testDay+1, n, again)
	}

	b, pub := startBroker(t, 16)
	stateDir, out := t.TempDir(), t.TempDir()
	for i, step := range []struct {
		taps []transit.Tap
		day  transit.Day
	}{{first, testDay}, {second, testDay + 1}} {
		publishDay(t, pub, step.taps, step.day)
		// A new service on the same state for each day: the second
		// restores what the first checkpointed.
		store, err := state.NewLocal(stateDir, state.LocalOptions{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		runUntilClosed(t, serviceConfig(e, store, out, step.day), newGroup(t, b.Addrs(), "g-dedup"))
		if err := store.Close(); err != nil {
			t.Fatalf("service %d: %v", i, err)
		}
	}
	sameTree(t, out, f.batch, f, true)
}
