package settlement

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/transit"
)

// synthAdjust returns adjustments booked on fixtureDay for every k-th
// clearing row of rows settled on fixturePrev: reversals (every amount
// negated) and, for every other one, the charge that replaces it.
func synthAdjust(rows []transit.Priced, k int) []transit.Priced {
	var out []transit.Priced
	n := 0
	for _, r := range rows {
		if r.Day != fixturePrev || !isClearing(&r) {
			continue
		}
		if n++; n%k != 0 {
			continue
		}
		r.Status, r.Day, r.RefDay = transit.StatusAdjustment, fixtureDay, fixturePrev
		rev := r
		for _, f := range []*transit.Fen{&rev.Gross, &rev.Discount, &rev.Charged, &rev.ProductDiscount, &rev.TransferDiscount, &rev.CapDiscount} {
			*f = -*f
		}
		out = append(out, rev)
		if n%(2*k) == 0 {
			r.Rules |= transit.RuleLate
			out = append(out, r)
		}
	}
	return out
}

// oldClearingFiles returns the clearing files of d as WriteDay wrote them
// before it streamed them: each issuer's ClearingFile built whole in
// memory (addBatches, seal) and compressed whole, by path.
func oldClearingFiles(d *Day, opts WriteOptions) map[string][]byte {
	out := make(map[string][]byte)
	pairRows := make([][]int32, len(d.Bilateral))
	for i := range d.Rows {
		if r := &d.Rows[i]; isClearing(r) && r.Interregional() {
			j := slices.IndexFunc(d.Bilateral, func(b Bilateral) bool { return b.Issuer == r.Issuer && b.Acquirer == r.City })
			pairRows[j] = append(pairRows[j], int32(i))
		}
	}
	for lo, hi := range runs(d.Bilateral, issuerOf) {
		f := &ClearingFile{Header: clearingHeader(d, d.Bilateral[lo].Issuer, opts)}
		for j := lo; j < hi; j++ {
			rows := pairRows[j]
			f.addBatches(d.Bilateral[j].Acquirer, len(rows), func(i int, dt *Detail) { *dt = detailFromRow(&d.Rows[rows[i]], 0) })
		}
		f.seal()
		out[DirName(d.Day)+"/"+ClearingPath(f.Header.Issuer)] = compress(nil, f.Append(nil))
	}
	return out
}

// TestClearingWriterSameBytes: the streamed clearing files, of rows held
// in memory and of rows spilled, are byte for byte the files built whole
// in memory, on a day with every status, adjustments (reversals and the
// charges that replace them), six issuers each owing five acquirers in
// both classes and modes, and files of many blocks.
func TestClearingWriterSameBytes(t *testing.T) {
	synth := synthRows(60000, 11)
	rows := append(fixtureAllRows(), synth...)
	rows = append(rows, synthAdjust(synth, 7)...)
	opts := WriteOptions{SkipSync: true, PolicyFingerprint: goldenFingerprint}
	mem := collectRows(t, rows, 3, false, 0, t.TempDir())
	d := mem.Day(fixtureDay)
	want := oldClearingFiles(d, opts)
	batches, multiBlock := 0, 0
	for p, b := range want {
		plain := decompress(t, b)
		batches += bytes.Count(plain, []byte("\n5|"))
		if len(plain) > 2*blockSize {
			multiBlock++
		}
		if !bytes.Contains(plain, []byte("|adjustments\n")) {
			t.Errorf("%s has no adjustments batch", p)
		}
	}
	if len(want) != 6 || batches < 6*5*3 || multiBlock < 6 {
		t.Fatalf("the day is not varied enough: %d files, %d batches, %d of many blocks", len(want), batches, multiBlock)
	}
	spilled := collectRows(t, rows, 3, false, 64<<10, t.TempDir())
	defer spilled.Close()
	for name, c := range map[string]*Collector{"in memory": mem, "spilled": spilled} {
		root := t.TempDir()
		writeAll(t, c, root, opts)
		got := readTree(t, root)
		for p, w := range want {
			if !bytes.Equal(got[p], w) {
				t.Errorf("%s: %s: %d bytes streamed, %d built whole", name, p, len(got[p]), len(w))
			}
		}
		if err := Verify(filepath.Join(root, DirName(fixtureDay))); err != nil {
			t.Errorf("%s: Verify: %v", name, err)
		}
	}
}

// TestClearingWriterOrder: details out of batch order, of a mode that is
// neither bus nor metro, or none at all are an error, and nothing is
// written.
func TestClearingWriterOrder(t *testing.T) {
	h := FileHeader{Day: fixtureDay, Issuer: shanghai, Producer: "tapsettle/(devel)"}
	d := detailFromRow(&fixtureRows()[0], 0)
	for name, add := range map[string]func(cw *clearingWriter) error{
		"acquirers back": func(cw *clearingWriter) error {
			d.Mode = transit.ModeBus
			if err := cw.add(ningbo, &d); err != nil {
				return err
			}
			return cw.add(beijing, &d)
		},
		"modes back": func(cw *clearingWriter) error {
			d.Mode = transit.ModeMetro
			if err := cw.add(ningbo, &d); err != nil {
				return err
			}
			d.Mode = transit.ModeBus
			return cw.add(ningbo, &d)
		},
		"no mode": func(cw *clearingWriter) error {
			d.Mode = 0
			return cw.add(ningbo, &d)
		},
		"no details": func(*clearingWriter) error { return nil },
	} {
		var out bytes.Buffer
		cw := newClearingWriter(&out, t.TempDir(), h)
		err := add(cw)
		if err == nil {
			_, err = cw.close()
		} else {
			cw.discard()
		}
		if err == nil || out.Len() > 0 {
			t.Errorf("%s: %v, %d bytes written", name, err, out.Len())
		}
	}
}

// bigIssuerRows returns n interregional clearing rows of Shanghai's
// cards: bus and metro journeys in the five other cities.
func bigIssuerRows(n int) []transit.Priced {
	cities := []transit.City{beijing, hangzhou, ningbo, guangzhou, shenzhen}
	base := fixture.Row("big", "3101000000000000001", transit.ProductStandard, shanghai, beijing, transit.ModeMetro, transit.ActionExit, "BJ-M10", "J33", at(6, 0, 0)).
		Fare(400, 0, 0, 0, transit.RuleMetroDistance).WithEntry("J01", at(5, 30, 0)).Priced
	rows := make([]transit.Priced, n)
	for i := range rows {
		r := base
		r.ID = fixture.ID[transit.TapID](fmt.Sprintf("big-%09d", i))
		r.City = cities[i%len(cities)]
		r.Time = base.Time + int64(i/len(cities))*1e8
		if i%3 == 0 {
			r.Mode, r.Action = transit.ModeBus, transit.ActionBoard
			r.EntryStop, r.EntryTime = transit.Code{}, 0
			r.Rules = transit.RuleBusFlat
		}
		rows[i] = r
	}
	return rows
}

// TestClearingWriteBoundedMemory: what WriteDay allocates to write an
// issuer's clearing file of many details, from rows held in memory and
// from spilled rows, does not grow with the details (a small index per
// row held in memory aside): the writer used to hold the file's text
// whole, and a Detail per record: some 1,600 bytes a detail allocated,
// 450 MiB for the 300,000 details here, where it now allocates 24 MiB. Verify, which
// reads the file as it comes, too. The files of the rows in memory and
// of the spilled rows are the same bytes.
func TestClearingWriteBoundedMemory(t *testing.T) {
	sizes := [2]int{100_000, 300_000}
	if testing.Short() {
		sizes = [2]int{60_000, 120_000}
	}
	const (
		perDetail = 16       // bytes a detail may add: the in-memory index's 4, and noise
		bound     = 40 << 20 // in all: an encoder's window and tables, the spool
	)
	type result struct {
		file         []byte
		write, check uint64
	}
	var res [2][2]result // in memory, spilled; by size
	for bi, spilled := range []bool{false, true} {
		for si, n := range sizes {
			buffer := 0
			if spilled {
				buffer = n * rowSize / 4 // a few runs, whatever n
			}
			c := collectRows(t, bigIssuerRows(n), 2, false, buffer, t.TempDir())
			d := c.Day(fixtureDay)
			if d.rowsSpilled() != spilled {
				t.Fatalf("buffer %d: spilled %v", buffer, d.rowsSpilled())
			}
			root := t.TempDir()
			r := &res[bi][si]
			r.write = allocated(t, func() {
				if _, err := WriteDay(root, d, WriteOptions{SkipSync: true}); err != nil {
					t.Fatal(err)
				}
			})
			r.check = allocated(t, func() {
				if err := Verify(filepath.Join(root, DirName(fixtureDay))); err != nil {
					t.Fatal(err)
				}
			})
			var err error
			if r.file, err = os.ReadFile(filepath.Join(root, DirName(fixtureDay), ClearingPath(shanghai))); err != nil {
				t.Fatal(err)
			}
			c.Close()
			t.Logf("row buffer %d, %d details, %.1f MiB of text, %d KiB compressed: WriteDay allocated %.1f MiB, Verify %.1f MiB",
				buffer, n, float64(len(decompress(t, r.file)))/(1<<20), len(r.file)>>10, float64(r.write)/(1<<20), float64(r.check)/(1<<20))
			if r.write > bound || r.check > bound {
				t.Errorf("row buffer %d, %d details: WriteDay allocated %d bytes, Verify %d, want at most %d", buffer, n, r.write, r.check, bound)
			}
		}
		small, big := &res[bi][0], &res[bi][1]
		extra := float64(sizes[1] - sizes[0])
		for what, a := range map[string][2]uint64{"WriteDay": {small.write, big.write}, "Verify": {small.check, big.check}} {
			if per := (float64(a[1]) - float64(a[0])) / extra; per > perDetail {
				t.Errorf("spilled %v: %s allocated %.0f bytes more per detail, want at most %d", spilled, what, per, perDetail)
			}
		}
	}
	for si := range sizes {
		if !bytes.Equal(res[0][si].file, res[1][si].file) {
			t.Errorf("%d details: the files of rows in memory and of spilled rows differ", sizes[si])
		}
	}
}

// allocated returns the bytes f allocates on the heap. The pools are
// emptied first (two collections), so that f allocates its encoders
// whatever ran before it.
func allocated(t *testing.T, f func()) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// BenchmarkWriteClearing writes one issuer's clearing file of 50,000
// details from rows in memory: streamed (clearingWriter) and, for
// comparison, built whole and compressed whole as WriteDay did before.
func BenchmarkWriteClearing(b *testing.B) {
	rows := bigIssuerRows(50_000)
	slices.SortFunc(rows, func(x, y transit.Priced) int { return pairOrder.compare(&x, &y) })
	h := FileHeader{Day: fixtureDay, Issuer: shanghai, Producer: "tapsettle/(devel)"}
	dir := b.TempDir()
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cw := newClearingWriter(io.Discard, dir, h)
			for i := range rows {
				if err := cw.addRow(&rows[i]); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := cw.close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/detail")
	})
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f := &ClearingFile{Header: h}
			for lo, hi := range runs(rows, func(r *transit.Priced) transit.City { return r.City }) {
				f.addBatches(rows[lo].City, hi-lo, func(i int, d *Detail) { *d = detailFromRow(&rows[lo+i], 0) })
			}
			f.seal()
			io.Discard.Write(compress(nil, f.Append(nil)))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/detail")
	})
}

// TestClearingWritersShareBuffers: the clearing files of a day are
// written a few at a time, and each writer takes its block of text, its
// lines and its spool from pools, so that writing many files allocates
// little per file beyond its output. Each file used to make a 128 KiB
// block, 65 KiB of lines and a 1 MiB spool of its own: 1.2 MiB a file,
// fresh memory the kernel had to zero, 250 MB for a 2,000,000-tap day's
// 341 files of 3 MB.
func TestClearingWritersShareBuffers(t *testing.T) {
	rows := bigIssuerRows(1500) // ~250 KiB of text: past a block, so spooled
	slices.SortFunc(rows, func(x, y transit.Priced) int { return pairOrder.compare(&x, &y) })
	h := FileHeader{Day: fixtureDay, Issuer: shanghai, Producer: "tapsettle/(devel)"}
	dir := t.TempDir()
	write := func() int {
		var out bytes.Buffer
		cw := newClearingWriter(&out, dir, h)
		for i := range rows {
			if err := cw.addRow(&rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := cw.close(); err != nil {
			t.Fatal(err)
		}
		return out.Len()
	}
	size := write() // the pools' first buffers and encoder
	// Each file's allocation, measured alone; the least is the steady
	// state, whatever files a collection made refill the pools (and the
	// race detector's sync.Pool drops a quarter of what is put back).
	const files = 51
	per := make([]uint64, files)
	var before, after runtime.MemStats
	for i := range per {
		runtime.ReadMemStats(&before)
		write()
		runtime.ReadMemStats(&after)
		per[i] = after.TotalAlloc - before.TotalAlloc
	}
	slices.Sort(per)
	t.Logf("%d files of %d KiB compressed: %d KiB allocated a file at least (median %d, most %d KiB)", files, size>>10, per[0]>>10, per[files/2]>>10, per[files-1]>>10)
	if limit := uint64(4*size + 64<<10); per[0] > limit {
		t.Errorf("writing a clearing file of %d compressed bytes allocated at least %d bytes (%d files), want at most %d", size, per[0], files, limit)
	}
}
