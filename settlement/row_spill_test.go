package settlement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// TestRowRecordRoundTrip: a spilled row reads back as the row written,
// every field of it, and a cut or padded record is an error.
func TestRowRecordRoundTrip(t *testing.T) {
	rows := append(fixtureAllRows(), fixture.Synth(2000, 3)...)
	last := &rows[len(rows)-1]
	last.RefDay, last.Reason, last.Rules, last.EntryTime = -5, 200, 1<<31, -1 // extremes
	last.Gross, last.Discount, last.Charged = -1<<62, 1<<62, -7
	for i := range rows {
		rec := appendRow(nil, &rows[i])
		var got transit.Priced
		if err := decodeRow(rec, &got); err != nil || got != rows[i] {
			t.Fatalf("row %d: read back %+v, %v; wrote %+v", i, got, err, rows[i])
		}
		for _, bad := range [][]byte{rec[:len(rec)-1], append(rec[:len(rec):len(rec)], 0), rec[:len(rec)/2]} {
			if err := decodeRow(bad, &got); err == nil {
				t.Fatalf("row %d: a record of %d bytes (%d written) decoded", i, len(bad), len(rec))
			}
		}
	}
}

// collectRows emits rows over shards, each shard from its own goroutine
// in batches, into a collector with the given row buffer.
func collectRows(t testing.TB, rows []transit.Priced, shards int, ledger bool, buffer int, spillDir string) *Collector {
	t.Helper()
	c := NewCollector(Options{Participants: fixtureParts, Shards: shards, Calendar: calendar(t), Ledger: ledger,
		RowBuffer: buffer, SpillDir: spillDir})
	var wg sync.WaitGroup
	for s := range shards {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(s), 9))
			var batch []transit.Priced
			for i := s; i < len(rows); i += shards {
				batch = append(batch, rows[i])
				if len(batch) > rng.IntN(300) {
					c.Emit(s, batch)
					clear(batch)
					batch = batch[:0]
				}
			}
			c.Emit(s, batch)
		})
	}
	wg.Wait()
	c.Reject(fixtureRejects()[0])
	return c
}

// TestSpilledRowsSameFiles: whatever the row buffer (a spill at every row,
// with runs merged over levels; a spill every few hundred rows), with or
// without the ledger, the day folders are byte-identical to those of rows
// held in memory, Verify passes, and the spill folder is gone once the
// collector is closed.
func TestSpilledRowsSameFiles(t *testing.T) {
	rows := append(fixtureAllRows(), fixture.Synth(6000, 5)...)
	for _, ledger := range []bool{false, true} {
		ref := collectRows(t, rows, 3, ledger, 0, t.TempDir())
		refRoot := t.TempDir()
		writeAll(t, ref, refRoot, WriteOptions{SkipSync: true, Ledger: ledger})
		want := readTree(t, refRoot)
		if ref.spill != nil {
			t.Fatal("the reference collector spilled")
		}
		for _, buffer := range []int{1, 64 << 10} {
			t.Run(fmt.Sprintf("ledger=%v/buffer=%d", ledger, buffer), func(t *testing.T) {
				spillDir := t.TempDir()
				c := collectRows(t, rows, 3, ledger, buffer, spillDir)
				root := t.TempDir()
				spilled := 0
				for _, d := range c.Days() {
					day := c.Day(d)
					if day.rowsSpilled() {
						spilled++
						if len(day.Rows) != 0 {
							t.Errorf("%s: %d rows in memory beside the spilled ones", DirName(d), len(day.Rows))
						}
						for _, s := range day.spilledRows {
							if len(s.runs) > rowFanIn {
								t.Errorf("%s: %d runs to merge, at most %d", DirName(d), len(s.runs), rowFanIn)
							}
						}
					}
					if err := day.Validate(); err != nil {
						t.Fatal(err)
					}
					if _, err := WriteDay(root, day, WriteOptions{SkipSync: true, Ledger: ledger}); err != nil {
						t.Fatal(err)
					}
				}
				if spilled < 2 {
					t.Fatalf("%d days spilled, want both", spilled)
				}
				checkSpilledWrite(t, c, root, spillDir, want)
			})
		}
	}
}

// TestSpilledRowsChecked: rows read back from disk are held to the day's
// aggregates as they are written (Validate cannot read them), and a
// damaged run fails the write: nothing wrong is written.
func TestSpilledRowsChecked(t *testing.T) {
	rows := append(fixtureAllRows(), fixture.Synth(3000, 7)...)
	for _, ledger := range []bool{false, true} {
		c := collectRows(t, rows, 2, ledger, 16<<10, t.TempDir())
		day := c.Day(fixtureDay)
		if !day.rowsSpilled() {
			t.Fatal("the day's rows were not spilled")
		}
		// Aggregates that the rows do not add up to.
		bad := *day
		bad.Bilateral = append([]Bilateral(nil), day.Bilateral...)
		bad.Bilateral[0].Count++
		bad.Bilateral[0].Charged++
		bad.Interregional.Count++
		bad.Interregional.Charged++
		bad.Totals.Count++
		bad.Totals.Charged++
		bad.Counts[transit.StatusCharged]++
		bad.Records++
		bad.Net = netPositions(bad.Participants, bad.Bilateral)
		bad.Discounts = append([]DiscountTotal(nil), day.Discounts...)
		bad.Discounts[0].Count++
		bad.Discounts[0].Charged++
		bad.Discounts[0].Gross++
		bad.Totals.Gross++
		if err := bad.Validate(); err != nil {
			t.Fatalf("ledger %v: the doctored day must pass Validate, which cannot read spilled rows: %v", ledger, err)
		}
		if _, err := WriteDay(t.TempDir(), &bad, WriteOptions{SkipSync: true, Ledger: ledger}); !errors.Is(err, ErrInvalidDay) {
			t.Errorf("ledger %v: a day whose spilled rows do not add up was written: %v", ledger, err)
		}
		// A damaged run.
		run := day.spilledRows[pairOrder].runs[0]
		f, err := os.OpenFile(run.sec.Path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("damage"), run.sec.Off+run.sec.Len/2); err != nil {
			t.Fatal(err)
		}
		f.Close()
		root := t.TempDir()
		if _, err := WriteDay(root, day, WriteOptions{SkipSync: true, Ledger: ledger}); !errors.Is(err, spill.ErrCorrupt) {
			t.Errorf("ledger %v: a day with a damaged run: %v, want ErrCorrupt", ledger, err)
		}
		if _, err := os.Stat(filepath.Join(root, DirName(fixtureDay), ManifestName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ledger %v: a manifest was written for the damaged day", ledger)
		}
		c.Close()
	}
}
