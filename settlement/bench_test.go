package settlement

import (
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/internal/cputime"
	"github.com/tapsettle/tapsettle/transit"
)

// BenchmarkEmit measures the shard hot path: rows/s and allocations per
// batch of 1024 rows (steady state: none; the B/op are the row chunks,
// cut from slabs of up to 16 chunks of 1024 rows). The collector is replaced every 256
// batches, untimed, so the kept rows stay within ~60 MiB: the number is
// the cost of aggregating and copying, not of the kernel handing out
// fresh pages, which on some virtual machines costs more than both (see
// the "fresh" variants, which never release anything).
func BenchmarkEmit(b *testing.B) {
	for _, v := range []struct {
		name   string
		ledger bool
		fresh  bool
	}{{"clearing-only", false, false}, {"ledger", true, false}, {"clearing-only-fresh", false, true}, {"ledger-fresh", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			rows := synthRows(1024, 1)
			for i := range rows {
				rows[i].Day = fixtureDay // one day, as a live shard sees
			}
			newC := func() *Collector {
				c := NewCollector(Options{Participants: fixtureParts, Shards: 1, Ledger: v.ledger})
				c.Emit(0, rows) // first use of the day, pairs and slots
				return c
			}
			c := newC()
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				if n++; !v.fresh && n%256 == 0 {
					b.StopTimer()
					c = newC()
					b.StartTimer()
				}
				c.Emit(0, rows)
			}
			b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkWriteLedger measures formatting and compressing the ledger of
// 100,000 rows (all cores).
func BenchmarkWriteLedger(b *testing.B) {
	rows := synthRows(100_000, 2)
	for i := range rows {
		rows[i].Day = fixtureDay
	}
	var size int64
	for i := range rows {
		size += int64(len(AppendLedgerRow(nil, &rows[i])))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if err := writeLedger(io.Discard, rows, 4); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAppendLedgerRow isolates the formatting.
func BenchmarkAppendLedgerRow(b *testing.B) {
	rows := synthRows(1024, 3)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		for i := range rows {
			buf = AppendLedgerRow(buf[:0], &rows[i])
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDay measures merging and sorting 4 shards' parts of 250,000 rows.
func BenchmarkDay(b *testing.B) {
	rows := synthRows(250_000, 4)
	for i := range rows {
		rows[i].Day = fixtureDay
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := NewCollector(Options{Participants: fixtureParts, Shards: 4, Ledger: true})
		for s := range 4 {
			c.Emit(s, rows[s*len(rows)/4:(s+1)*len(rows)/4])
		}
		b.StartTimer()
		if d := c.Day(fixtureDay); len(d.Rows) != len(rows) {
			b.Fatal(len(d.Rows))
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkVerifyLedger measures Verify over a day with a 100,000-row ledger.
func BenchmarkVerifyLedger(b *testing.B) {
	rows := synthRows(100_000, 6)
	for i := range rows {
		rows[i].Day = fixtureDay
	}
	c := NewCollector(Options{Participants: fixtureParts, Ledger: true})
	c.Emit(0, rows)
	root := b.TempDir()
	if _, err := WriteDay(root, c.Day(fixtureDay), WriteOptions{Ledger: true, SkipSync: true}); err != nil {
		b.Fatal(err)
	}
	dir := root + "/" + DirName(fixtureDay)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// manyPairsParts returns n participants with made-up but valid codes:
// n*(n-1) possible interregional pairs.
func manyPairsParts(n int) []transit.Participant {
	parts := make([]transit.Participant, n)
	for i := range parts {
		c := transit.City(110100 + 100*i)
		parts[i] = transit.Participant{Code: c, Name: "City " + c.String()}
	}
	return parts
}

// manyPairsDay builds a settlement day shaped like a realistic one: rows
// rows (with the ledger), a twentieth of them interregional, spread over
// every pair of 46 participants (2,070 pairs), so that most clearing
// files hold a handful of details.
func manyPairsDay(tb testing.TB, rows int) *Day {
	tb.Helper()
	parts := manyPairsParts(46)
	rs := synthRows(rows, 8)
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range rs {
		r := &rs[i]
		r.Day = fixtureDay
		r.Issuer = parts[rng.IntN(len(parts))].Code
		r.City = r.Issuer
		if rng.IntN(20) == 0 {
			r.City = parts[rng.IntN(len(parts))].Code
		}
	}
	c := NewCollector(Options{Participants: parts, Ledger: true})
	c.Emit(0, rs)
	d := c.Day(fixtureDay)
	if err := d.Validate(); err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkWriteDayManyPairs measures WriteDay of a 300,000-row day with
// its ledger and ~2,000 clearing files, durably ("sync", what production
// does) and without any fsync ("nosync", the CPU and file system work
// alone). Each iteration writes a fresh folder, as a settlement run does.
// Nothing is removed until the end: on ext4 without a journal, creating a
// file skips the inodes freed in the last minutes, so removing a day per
// iteration would slow the next one down.
func BenchmarkWriteDayManyPairs(b *testing.B) {
	d := manyPairsDay(b, 300_000)
	b.Logf("%d rows, %d clearing files", len(d.Rows), len(d.Bilateral))
	for _, v := range []struct {
		name string
		skip bool
	}{{"sync", false}, {"nosync", true}} {
		b.Run(v.name, func(b *testing.B) {
			base := b.TempDir()
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				root := filepath.Join(base, strconv.Itoa(n))
				n++
				if _, err := WriteDay(root, d, WriteOptions{Ledger: true, SkipSync: v.skip}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*(len(d.Bilateral)+4))/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// BenchmarkSpilledLedger measures a day whose ledger goes through the
// spill folder, as a 2,000,000-tap day does under the default memory
// budget: two shards emit 400,000 rows (one in 50 interregional, as in a
// generated day) with a row buffer of a tenth of them, so each shard sorts and spills runs (Emit), and the day is then
// written with its ledger from the merge of the runs (WriteDay, no fsync).
// The sub-benchmarks time the two halves apart, and report the process's
// CPU time per row beside the wall time (the steadier figure on a shared
// machine).
func BenchmarkSpilledLedger(b *testing.B) {
	const n, shards = 400_000, 2
	rows := synthRows(n, 9)
	for i := range rows {
		rows[i].Day = fixtureDay
		if i%50 != 0 {
			rows[i].City = rows[i].Issuer
		}
	}
	buffer := n / 10 * rowSize
	emit := func(c *Collector) {
		var wg sync.WaitGroup
		for s := range shards {
			wg.Go(func() {
				part := rows[s*n/shards : (s+1)*n/shards]
				for lo := 0; lo < len(part); lo += 1024 {
					c.Emit(s, part[lo:min(lo+1024, len(part))])
				}
			})
		}
		wg.Wait()
	}
	newC := func() *Collector {
		return NewCollector(Options{Participants: fixtureParts, Shards: shards, Ledger: true, RowBuffer: buffer, SpillDir: b.TempDir()})
	}
	write := func(c *Collector) {
		d := c.Day(fixtureDay)
		if !d.rowsSpilled() {
			b.Fatal("the rows were not spilled")
		}
		if _, err := WriteDay(b.TempDir(), d, WriteOptions{Ledger: true, SkipSync: true}); err != nil {
			b.Fatal(err)
		}
	}
	// timed runs f, adding the process CPU time it takes to cpu.
	timed := func(cpu *time.Duration, f func()) {
		t0, _ := cputime.Process()
		f()
		t1, _ := cputime.Process()
		*cpu += t1 - t0
	}
	report := func(b *testing.B, cpu time.Duration) {
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/row")
	}
	b.Run("emit", func(b *testing.B) {
		b.ReportAllocs()
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			c := newC()
			b.StartTimer()
			timed(&cpu, func() { emit(c) })
			b.StopTimer()
			c.Close()
			b.StartTimer()
		}
		report(b, cpu)
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			c := newC()
			emit(c)
			b.StartTimer()
			timed(&cpu, func() { write(c) })
			b.StopTimer()
			c.Close()
			b.StartTimer()
		}
		report(b, cpu)
	})
}
