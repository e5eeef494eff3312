package settlement

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// manyRejects returns n rejects over three sources, the fixture's day,
// the day before and no day, with duplicates, long and binary raw records
// and every field varied, in a random order.
func manyRejects(t testing.TB, n int, rawLen int, seed uint64) []transit.Reject {
	rng := rand.New(rand.NewPCG(seed, 0x4e1ec7))
	sources := []string{"b.csv", "a.csv.zst", "kafka/taps/3"}
	out := append([]transit.Reject(nil), fixtureRejects()...)
	for i := 0; len(out) < n; i++ {
		r := transit.Reject{
			Source: sources[rng.IntN(len(sources))],
			Line:   int64(rng.IntN(n)),
			Field:  []string{"", "city", "time"}[rng.IntN(3)],
			Reason: fmt.Sprintf("reason %d", rng.IntN(4)),
		}
		raw := make([]byte, rng.IntN(rawLen+1))
		for j := range raw {
			raw[j] = "ab,\"\n\x00\xff"[rng.IntN(7)]
		}
		r.Raw = string(raw)
		switch rng.IntN(3) {
		case 0:
			r.Time, r.HasTime = at(10, 0, 0)+int64(rng.IntN(1000)), true
		case 1:
			r.Time, r.HasTime = at(2, 0, 0), true // before the cut-off: the day before
		}
		out = append(out, r)
		if rng.IntN(10) == 0 { // a duplicate
			out = append(out, r)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// collectRejects collects rejects, from four goroutines, with the given
// buffer and spill folder.
func collectRejects(t testing.TB, rows []transit.Priced, rejects []transit.Reject, buffer int, spillDir string) *Collector {
	t.Helper()
	c := NewCollector(Options{Participants: fixtureParts, Shards: 1, Calendar: calendar(t), Ledger: true,
		RejectBuffer: buffer, SpillDir: spillDir})
	c.Emit(0, rows)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(rejects); i += 4 {
				c.Reject(rejects[i])
			}
		})
	}
	wg.Wait()
	return c
}

// TestSpilledRejectsSameFiles: whatever the buffer (everything in memory,
// a spill per reject with runs merged over several levels, a few runs),
// the day folders are byte-identical, Verify passes, and the spill folder
// is gone once the collector is closed.
func TestSpilledRejectsSameFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, raw  int
		buffers []int
	}{
		// A buffer of 1 spills at every reject: ~500 runs a day, merged
		// over two levels. One of 2 KiB spills every ten rejects or so,
		// three days' runs to a file, and merges runs of a file whose
		// other runs are still in use.
		{"small", 1500, 40, []int{1, 2 << 10}},
		// Over rejectsFrameBytes of text: a file of several frames.
		{"frames", 9000, 1200, []int{256 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rejects := manyRejects(t, tc.n, tc.raw, 1)
			rows := fixtureAllRows()
			ref := collectRejects(t, rows, rejects, 1<<30, t.TempDir())
			refRoot := t.TempDir()
			writeAll(t, ref, refRoot, WriteOptions{SkipSync: true, Ledger: true})
			want := readTree(t, refRoot)
			if len(ref.rejects) != 0 || ref.spill != nil {
				t.Fatal("the reference collector spilled")
			}
			for _, buffer := range tc.buffers {
				t.Run(fmt.Sprint("buffer=", buffer), func(t *testing.T) {
					spillDir := t.TempDir()
					c := collectRejects(t, rows, rejects, buffer, spillDir)
					if c.spill == nil {
						t.Fatal("nothing spilled")
					}
					root := t.TempDir()
					var total int64
					for _, d := range c.Days() {
						day := c.Day(d)
						if day.spilled == nil || len(day.Rejects) != 0 {
							t.Errorf("%s: rejects not spilled", DirName(d))
						}
						if runs := len(day.spilled.runs); runs >= rejectFanIn {
							t.Errorf("%s: %d runs to merge, at most %d", DirName(d), runs, rejectFanIn-1)
						}
						total += day.RejectCount()
						if err := day.Validate(); err != nil {
							t.Fatal(err)
						}
						if _, err := WriteDay(root, day, WriteOptions{SkipSync: true, Ledger: true}); err != nil {
							t.Fatal(err)
						}
					}
					if total != int64(len(rejects)) {
						t.Errorf("%d rejects counted, want %d", total, len(rejects))
					}
					checkSpilledWrite(t, c, root, spillDir, want)
				})
			}
			if tc.name != "frames" {
				return
			}
			// The text is what the whole sorted slice gives, however many
			// frames hold it.
			sorted := ref.Days()
			var text []byte
			for _, d := range sorted {
				text = text[:0]
				text = append(text, RejectsHeader+"\n"...)
				day := ref.Day(d)
				for i := range day.Rejects {
					text = AppendRejectRow(text, &day.Rejects[i])
				}
				stored := want[DirName(d)+"/"+RejectsName]
				if got := decompress(t, stored); !bytes.Equal(got, text) {
					t.Errorf("%s: the rejects text differs from the sorted rejects'", DirName(d))
				}
				if len(text) > rejectsFrameBytes && bytes.Equal(stored, compress(nil, text)) {
					t.Errorf("%s: %d bytes of text in one frame", DirName(d), len(text))
				}
				if len(text) <= rejectsFrameBytes && !bytes.Equal(stored, compress(nil, text)) {
					t.Errorf("%s: %d bytes of text not in one frame, as before", DirName(d), len(text))
				}
			}
		})
	}
}

// TestSpilledRejectsMerge: Merge and a second Day call combine spilled
// parts with the rest, in order.
func TestSpilledRejectsMerge(t *testing.T) {
	rejects := manyRejects(t, 600, 30, 2)
	want := collectRejects(t, nil, rejects, 0, t.TempDir()).Day(fixtureDay)
	var wantList []transit.Reject
	want.WalkRejects(func(r *transit.Reject) error { wantList = append(wantList, *r); return nil })

	h := len(rejects) / 2
	a := collectRejects(t, nil, rejects[:h], 1, t.TempDir())
	defer a.Close()
	b := collectRejects(t, nil, rejects[h:], 0, t.TempDir()) // in memory
	merged, err := Merge(a.Day(fixtureDay), b.Day(fixtureDay))
	if err != nil {
		t.Fatal(err)
	}
	// Again, through Day: rejects that arrive after Day was called.
	c := collectRejects(t, nil, rejects[:h], 1, t.TempDir())
	defer c.Close()
	c.Day(fixtureDay)
	for _, r := range rejects[h:] {
		c.Reject(r)
	}
	again := c.Day(fixtureDay)
	for name, d := range map[string]*Day{"Merge": merged, "Day again": again} {
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []transit.Reject
		if err := d.WalkRejects(func(r *transit.Reject) error { got = append(got, *r); return nil }); err != nil {
			t.Fatal(err)
		}
		if d.RejectCount() != int64(len(wantList)) || !reflect.DeepEqual(got, wantList) || d.Counts != want.Counts {
			t.Errorf("%s: %d rejects (count %d), counts %v; want %d, %v", name, len(got), d.RejectCount(), d.Counts, len(wantList), want.Counts)
		}
	}
}

// TestSpillFailure: a spill folder that cannot be made fails the day's
// Validate and WriteDay, naming the cause; the counts still reconcile.
func TestSpillFailure(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	rejects := manyRejects(t, 500, 30, 3)
	c := collectRejects(t, nil, rejects, 1, notDir)
	defer c.Close()
	var total int64
	for _, d := range c.Days() {
		day := c.Day(d)
		total += day.Counts[transit.StatusRejected]
		err := day.Validate()
		if err == nil || !strings.Contains(err.Error(), "not kept") || !strings.Contains(err.Error(), "spill") {
			t.Errorf("%s: Validate = %v, want the spill failure", DirName(d), err)
		}
		if _, err := WriteDay(t.TempDir(), day, WriteOptions{SkipSync: true}); err == nil {
			t.Errorf("%s: WriteDay succeeded", DirName(d))
		}
	}
	if total != int64(len(rejects)) {
		t.Errorf("%d rejects counted, want %d", total, len(rejects))
	}
}

// TestSpilledRunDamaged: a run file damaged on disk makes WriteDay fail
// with ErrCorrupt, not write fewer rejects.
func TestSpilledRunDamaged(t *testing.T) {
	spillDir := t.TempDir()
	c := collectRejects(t, nil, manyRejects(t, 3000, 30, 4), 64<<10, spillDir)
	defer c.Close()
	day := c.Day(Undated)
	if day.spilled == nil || len(day.spilled.runs) == 0 {
		t.Fatal("nothing spilled")
	}
	sec := day.spilled.runs[0].sec
	p := sec.Path
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[sec.Off+sec.Len/2] ^= 1
	os.WriteFile(p, b, 0o600)
	if _, err := WriteDay(t.TempDir(), day, WriteOptions{SkipSync: true}); !errors.Is(err, spill.ErrCorrupt) {
		t.Fatalf("WriteDay = %v, want ErrCorrupt", err)
	}
}

// TestRejectRecordRoundTrip: a spilled reject decodes to itself, and a
// damaged record is an error.
func TestRejectRecordRoundTrip(t *testing.T) {
	var r transit.Reject
	for _, want := range manyRejects(t, 300, 200, 5) {
		rec := appendRejectRecord(nil, &want)
		if err := decodeRejectRecord(rec, &r); err != nil || r != want {
			t.Fatalf("round trip: %+v, %v; want %+v", r, err, want)
		}
		for _, bad := range [][]byte{rec[:len(rec)-1], append(rec, 0)} {
			if err := decodeRejectRecord(bad, &r); err == nil {
				t.Fatalf("damaged record %q decoded", bad)
			}
		}
	}
}
