package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
)

const tapHeader = "time,tap_id,card_id,card_product,issuer,city,mode,line,stop,action,device,note\n"

// writeMalformed writes a zstd CSV of the tap header and n lines made by
// line(i) (without their newline), cheaply: the lines go through the
// encoder in batches.
func writeMalformed(t *testing.T, path string, n int, line func(b []byte, i int) []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte(tapHeader)
	for i := range n {
		buf = append(line(buf, i), '\n')
		if len(buf) >= 1<<20 {
			if _, err := zw.Write(buf); err != nil {
				t.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	zw.Write(buf)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// peakHeap samples the bytes of live and unswept heap objects
// (runtime/metrics, which does not stop the world) every millisecond
// until stop is called, and returns the peak above the level at the
// start, after a collection.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return max(peak, base) - base
	}
}

// maxRejectsHeap bounds the heap a run of nothing but malformed records
// may add, whatever their number: the rejects buffer
// (settlement.DefaultRejectBuffer), the decoder, the engine's shards, a
// frame of the rejects file and its compressor, the merge's readers, and
// the garbage between two collections of all that.
const maxRejectsHeap = 192 << 20

// TestMalformedInputBoundedMemory: an input of nothing but malformed
// lines settles in a heap bounded independently of the number of lines
// (spilled rejects), and its rejects file holds every line, in order.
// Before the rejects were spilled, 1,000,000 lines of 1,000 bytes took
// the run to 4-5 GB of RSS and 20 million lines of "x" to 9 GB. Without
// -race or -short the test settles those two inputs (some 2 minutes);
// with either (CI runs -race), 150,000 and 1,000,000 lines, which took the
// heap 729 and 434 MiB above the start before (about 130 MiB since).
func TestMalformedInputBoundedMemory(t *testing.T) {
	small := raceEnabled || testing.Short()
	pad := bytes.Repeat([]byte("y"), 980)
	for _, tc := range []struct {
		name      string
		full, cut int
		line      func(b []byte, i int) []byte
	}{
		{"1000-byte lines", 1_000_000, 150_000, func(b []byte, i int) []byte {
			return append(fmt.Appendf(b, "%019d", i), pad...)
		}},
		{"x lines", 20_000_000, 1_000_000, func(b []byte, i int) []byte { return append(b, 'x') }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.full
			if small {
				n = tc.cut
			}
			dir := t.TempDir()
			in := filepath.Join(dir, "bad.csv.zst")
			writeMalformed(t, in, n, tc.line)
			b, cal := env(t)
			spillDir := filepath.Join(dir, "spill")
			out := filepath.Join(dir, "out")
			job := &batch.Settle{Book: b, Calendar: cal, OutDir: out, SkipSync: true, SpillDir: spillDir}
			stop := peakHeap()
			rep, err := job.Run(context.Background(), []string{in})
			peak := stop()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d malformed lines: heap peak %d MiB above the start", n, peak>>20)
			if peak > maxRejectsHeap {
				t.Errorf("%d malformed lines took the heap %d MiB above the start, at most %d MiB", n, peak>>20, maxRejectsHeap>>20)
			}
			if rep.Rejected != int64(n) || rep.Taps != 0 {
				t.Errorf("%d rejected, %d taps; want %d and 0", rep.Rejected, rep.Taps, n)
			}
			if err := settlement.Verify(out); err != nil {
				t.Fatal(err)
			}
			// Verify read every reject back, checked their order and their
			// count against the manifest's: the count is every line.
			if got := rejectsRecords(t, out); got != int64(n) {
				t.Errorf("the rejects file holds %d records, want %d", got, n)
			}
			if left, _ := os.ReadDir(spillDir); len(left) != 0 {
				t.Errorf("left in the spill folder: %v", left)
			}
		})
	}
}

// rejectsRecords returns the records the manifest of out's undated day
// lists in its rejects file.
func rejectsRecords(t *testing.T, out string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, settlement.UndatedName, settlement.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := settlement.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.Path == settlement.RejectsName {
			return f.Records
		}
	}
	t.Fatalf("the manifest lists no %s", settlement.RejectsName)
	return 0
}

// TestSpilledRejectsSameOutput: a run whose rejects spill at every few
// records writes the same files as one that holds them all, with taps,
// malformed records of several days and several inputs.
func TestSpilledRejectsSameOutput(t *testing.T) {
	d := generate(t, 20_000, 0.05)
	dir := t.TempDir()
	var inputs []string
	for i, name := range []string{"a.csv.zst", "b.jsonl", "c.csv"} {
		lo, hi := i*len(d.Records)/3, (i+1)*len(d.Records)/3
		p := filepath.Join(dir, name)
		if err := bench.WriteFile(p, ingest.FormatAuto, ingest.CompressionAuto, &bench.GenDay{Records: d.Records[lo:hi]}); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, p)
	}
	b, cal := env(t)
	var trees []map[string][]byte
	for _, buffer := range []int{0, 4 << 10} {
		out := filepath.Join(dir, "out"+strconv.Itoa(buffer))
		job := &batch.Settle{Book: b, Calendar: cal, Shards: 2, OutDir: out, Ledger: true, SkipSync: true,
			RejectBuffer: buffer, SpillDir: filepath.Join(dir, "spill")}
		rep, err := job.Run(context.Background(), inputs)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rejected < 500 {
			t.Fatalf("only %d malformed records", rep.Rejected)
		}
		spilled := false
		for _, day := range rep.Days {
			spilled = spilled || day.RejectCount() > int64(len(day.Rejects))
		}
		if spilled != (buffer != 0) {
			t.Fatalf("buffer %d: spilled %v", buffer, spilled)
		}
		if err := settlement.Verify(out); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, tree(t, out))
	}
	for name, data := range trees[0] {
		if !bytes.Equal(data, trees[1][name]) {
			t.Errorf("%s differs when the rejects spill", name)
		}
	}
	if len(trees[0]) != len(trees[1]) {
		t.Errorf("%d files vs %d", len(trees[0]), len(trees[1]))
	}
}
