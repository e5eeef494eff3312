package stream

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// TestStreamCarriesAsBatch: metro journeys across the cut-off, whose day
// is closed by a close-day message between their entries and exits, are
// settled as the batch job settles them (once, on the exit's day), byte
// for byte.
func TestStreamCarriesAsBatch(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	gen, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: 3000, Seed: 5, Day: testDay, Late: -1, Malformed: -1})
	if err != nil {
		t.Fatal(err)
	}
	first := gen.Taps()
	// Entries before the cut-off ending testDay, exits after it, the
	// next day's close-day message published in between; some never exit.
	cutoff := e.cal.Start(testDay + 1)
	var entries, after []transit.Tap
	for i, city := range []transit.City{transit.Ningbo, 310100, 110100, transit.Ningbo, 310100, 110100} {
		net := e.book.Policy(city, testDay).Metro
		tap := func(action transit.Action, station int32, at time.Time, id string) transit.Tap {
			var x transit.Tap
			x.Time, x.Offset = at.UnixNano(), 8*3600
			x.Issuer, x.City, x.Mode, x.Action, x.Product = 310100, city, transit.ModeMetro, action, transit.ProductStandard
			must := func(err error) {
				if err != nil {
					t.Fatal(err)
				}
			}
			must(x.ID.Set([]byte(id)))
			must(x.Card.Set(fmt.Appendf(nil, "CARRY%02d", i)))
			line, stop := net.LineCode(0), net.StationCode(station)
			must(x.Line.Set(line.Bytes()))
			must(x.Stop.Set(stop.Bytes()))
			return x
		}
		entry := cutoff.Add(-time.Duration(5+3*i) * time.Minute)
		entries = append(entries, tap(transit.ActionEntry, 0, entry, fmt.Sprintf("carry-%d-in", i)))
		if i < 4 {
			after = append(after, tap(transit.ActionExit, 1, cutoff.Add(time.Duration(10+4*i)*time.Minute), fmt.Sprintf("carry-%d-out", i)))
		}
	}
	// A tap well into the next day, so that the next day has rows of
	// its own.
	late := first[len(first)-1]
	late.Time = cutoff.Add(5 * time.Hour).UnixNano()
	if err := late.ID.Set([]byte("next-day")); err != nil {
		t.Fatal(err)
	}
	after = append(after, late)

	all := append(append(append([]transit.Tap{}, first...), entries...), after...)
	f := &fixture{taps: all, file: filepath.Join(dir, "taps.csv"), batch: filepath.Join(dir, "batch"), last: testDay + 1}
	ledger := settleReference(t, e, f, testDay+1)
	if n := bytes.Count(ledger, []byte("+carried,")); n != len(entries) {
		t.Fatalf("the batch job's %s ledger has %d carried rows, want %d", testDay+1, n, len(entries))
	}

	b, pub := startBroker(t, 16)
	for _, step := range []struct {
		taps  []transit.Tap
		close transit.Day
	}{{append(first, entries...), testDay}, {after, testDay + 1}} {
		publishDay(t, pub, step.taps, step.close)
	}
	out := t.TempDir()
	runUntilClosed(t, serviceConfig(e, tempLocal(t), out, f.last), newGroup(t, b.Addrs(), "g-carry"))
	sameTree(t, out, f.batch, f, true)
}

// settleReference writes f's taps to f.file, settles them with the batch
// job into f.batch, and returns day's ledger.
func settleReference(t *testing.T, e *env, f *fixture, day transit.Day) []byte {
	t.Helper()
	writeTaps(t, f.file, f.taps)
	job := &batch.Settle{Book: e.book, Calendar: e.cal, OutDir: f.batch, Ledger: true, SkipSync: true}
	if _, err := job.Run(context.Background(), []string{f.file}); err != nil {
		t.Fatal(err)
	}
	return readLedger(t, f.batch, day)
}

// writeTaps writes taps to a CSV file.
func writeTaps(t *testing.T, path string, taps []transit.Tap) {
	t.Helper()
	recs := &bench.GenDay{}
	for _, x := range taps {
		recs.Records = append(recs.Records, bench.Record{Tap: x})
	}
	if err := bench.WriteFile(path, ingest.FormatCSV, ingest.CompressionNone, recs); err != nil {
		t.Fatal(err)
	}
}

// readLedger returns day's ledger under root, decompressed.
func readLedger(t *testing.T, root string, day transit.Day) []byte {
	t.Helper()
	z, err := os.ReadFile(filepath.Join(root, day.String(), "ledger.csv.zst"))
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := zstdDecode(z)
	if err != nil {
		t.Fatal(err)
	}
	return ledger
}
