package settlement

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/tapsettle/tapsettle/internal/chunked"
	"github.com/tapsettle/tapsettle/transit"
)

// ComparePriced orders rows by transit.Compare, then Status, then every
// remaining field. The order is total: rows that compare equal are
// identical, so any arrangement of them produces the same bytes. That is
// what makes the files independent of shard count and arrival order.
func ComparePriced(a, b *transit.Priced) int {
	if c := transit.Compare(&a.Tap, &b.Tap); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Status, b.Status); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Day, b.Day); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Reason, b.Reason); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Rules, b.Rules); c != 0 {
		return c
	}
	if c := cmp.Compare(a.RefDay, b.RefDay); c != 0 {
		return c
	}
	for _, p := range [...][2]transit.Fen{
		{a.Gross, b.Gross}, {a.Discount, b.Discount}, {a.Charged, b.Charged},
		{a.ProductDiscount, b.ProductDiscount}, {a.TransferDiscount, b.TransferDiscount}, {a.CapDiscount, b.CapDiscount},
	} {
		if c := cmp.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	if c := bytes.Compare(a.EntryStop[:], b.EntryStop[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.EntryTime, b.EntryTime)
}

// CompareRejects orders malformed records by (Source, Line), then every
// remaining field, a total order like ComparePriced's.
func CompareRejects(a, b *transit.Reject) int {
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Line, b.Line); c != 0 {
		return c
	}
	if c := strings.Compare(a.Field, b.Field); c != 0 {
		return c
	}
	if c := strings.Compare(a.Reason, b.Reason); c != 0 {
		return c
	}
	if c := strings.Compare(a.Raw, b.Raw); c != 0 {
		return c
	}
	if a.HasTime != b.HasTime {
		if !a.HasTime {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.Time, b.Time)
}

// sortKey stands for one row while sorting: 32 bytes instead of the row's
// ~230, so the sort moves little memory, and the leading time and tap_id
// decide almost every comparison without touching the row. The tap_id
// matters: times are often whole minutes (a generated day has some 1,800
// taps a minute), and a comparison of two rows with one time would
// otherwise read both rows, scattered over the stores (see
// docs/performance.md).
type sortKey struct {
	time int64
	id   [2]uint64 // the tap_id's first 16 bytes, big-endian
	ref  uint64    // store<<refShift | index of the row in the store
}

// keyOf returns the sort key of r, which ref locates.
func keyOf(r *transit.Priced, ref uint64) sortKey {
	return sortKey{
		time: r.Time,
		id:   [2]uint64{binary.BigEndian.Uint64(r.ID[0:8]), binary.BigEndian.Uint64(r.ID[8:16])},
		ref:  ref,
	}
}

// compareKeys orders a and b as ComparePriced orders their rows, as far as
// the keys tell: 0 means the rows must be compared.
func compareKeys(a, b *sortKey) int {
	if a.time != b.time {
		return cmp.Compare(a.time, b.time)
	}
	if a.id[0] != b.id[0] {
		return cmp.Compare(a.id[0], b.id[0])
	}
	return cmp.Compare(a.id[1], b.id[1])
}

// refShift places the store's index above the row's in sortKey.ref: a
// store (one shard's part of a day) holds fewer than 1<<32 rows.
const refShift = 32

// parallelMin is the smallest run worth sorting on its own goroutine.
const parallelMin = 1 << 14

// sortedRows gathers the rows of the stores into one slice sorted by
// ComparePriced. Each store (a shard's part) is sorted on its own
// goroutine, the sorted runs are merged pairwise in parallel, and the rows
// are copied once, in order. The stores are released once read.
func sortedRows(stores []*chunked.Vec[transit.Priced]) []transit.Priced {
	var keyRuns [][]sortKey
	total := 0
	for si, s := range stores {
		keys := make([]sortKey, s.Len())
		for i := range keys {
			keys[i] = keyOf(s.At(i), uint64(si)<<refShift|uint64(i))
		}
		if len(keys) > 0 {
			keyRuns = append(keyRuns, keys)
			total += len(keys)
		}
	}
	row := func(ref uint64) *transit.Priced { return stores[ref>>refShift].At(int(ref & (1<<refShift - 1))) }
	compare := func(a, b sortKey) int {
		if c := compareKeys(&a, &b); c != 0 {
			return c
		}
		return ComparePriced(row(a.ref), row(b.ref))
	}
	// One very large run (a single shard) is split so both cores sort.
	if len(keyRuns) == 1 && total >= 2*parallelMin {
		keyRuns = splitRun(keyRuns[0], runtime.GOMAXPROCS(0))
	}
	parallelEach(len(keyRuns), func(i int) { slices.SortFunc(keyRuns[i], compare) })
	keys := mergeRuns(keyRuns, total, compare)
	out := make([]transit.Priced, len(keys))
	workers := 1
	if len(keys) >= 2*parallelMin {
		workers = runtime.GOMAXPROCS(0)
	}
	parallelEach(workers, func(w int) {
		for i := w * len(keys) / workers; i < (w+1)*len(keys)/workers; i++ {
			out[i] = *row(keys[i].ref)
		}
	})
	for _, s := range stores {
		*s = chunked.Vec[transit.Priced]{}
	}
	return out
}

func splitRun(keys []sortKey, n int) [][]sortKey {
	if n < 2 {
		return [][]sortKey{keys}
	}
	keyRuns := make([][]sortKey, n)
	for i := range keyRuns {
		keyRuns[i] = keys[i*len(keys)/n : (i+1)*len(keys)/n]
	}
	return keyRuns
}

// mergeRuns merges sorted runs into one sorted slice, pairwise, merging
// the pairs of a round concurrently.
func mergeRuns(keyRuns [][]sortKey, total int, compare func(a, b sortKey) int) []sortKey {
	switch len(keyRuns) {
	case 0:
		return nil
	case 1:
		return keyRuns[0]
	}
	// Rounds alternate between two buffers: a round reads the previous
	// round's output and writes the other buffer.
	var bufs [2][]sortKey
	for round := 0; len(keyRuns) > 1; round++ {
		buf := bufs[round%2]
		if buf == nil {
			buf = make([]sortKey, total)
			bufs[round%2] = buf
		}
		next := make([][]sortKey, (len(keyRuns)+1)/2)
		offsets := make([]int, len(next))
		off := 0
		for i := range next {
			offsets[i] = off
			off += len(keyRuns[2*i])
			if 2*i+1 < len(keyRuns) {
				off += len(keyRuns[2*i+1])
			}
		}
		parallelEach(len(next), func(i int) {
			a := keyRuns[2*i]
			var b []sortKey
			if 2*i+1 < len(keyRuns) {
				b = keyRuns[2*i+1]
			}
			dst := buf[offsets[i] : offsets[i]+len(a)+len(b)]
			mergeTwo(dst, a, b, compare)
			next[i] = dst
		})
		keyRuns = next
	}
	return keyRuns[0]
}

func mergeTwo[T any](dst, a, b []T, compare func(a, b T) int) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if compare(b[j], a[i]) < 0 {
			dst[k] = b[j]
			j++
		} else {
			dst[k] = a[i]
			i++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}

// parallelEach runs f(0..n-1) on at most GOMAXPROCS goroutines.
func parallelEach(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	wg.Wait()
}

func sortRejects(rs []transit.Reject) {
	slices.SortFunc(rs, func(a, b transit.Reject) int { return CompareRejects(&a, &b) })
}
