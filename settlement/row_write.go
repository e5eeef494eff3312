package settlement

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/internal/spill"
	"github.com/tapsettle/tapsettle/transit"
)

// rowCheck checks a day's rows as they are read, in order: Validate for
// the rows of Day.Rows, and the writer for spilled rows, which Validate
// cannot read. add takes each row; finish compares what the rows sum to
// with the day's aggregates.
type rowCheck struct {
	d     *Day
	order rowOrder
	t     *tally
	n     int64
	// last is the previous row: a pointer into Day.Rows, or, for rows
	// read back from disk (copy), to a copy in prev.
	last     *transit.Priced
	copyRows bool
	prev     transit.Priced
}

// newRowCheck returns a check of d's rows in order o; copyRows says a row
// does not outlive the next call to add.
func newRowCheck(d *Day, o rowOrder, copyRows bool) *rowCheck {
	return &rowCheck{d: d, order: o, t: newTally(nil), copyRows: copyRows}
}

// add checks r: in order after the previous row, of the day, a valid row,
// and, without the ledger or in pair order, an interregional clearing row.
func (c *rowCheck) add(r *transit.Priced) error {
	d := c.d
	if c.last != nil && c.order.compare(c.last, r) > 0 {
		return invalid(d, "rows not sorted at tap %s", r.ID.String())
	}
	if r.Day != d.Day {
		return invalid(d, "tap %s belongs to day %s", r.ID.String(), DirName(r.Day))
	}
	if why := rowProblem(r); why != "" {
		return invalid(d, "tap %s: %s", r.ID.String(), why)
	}
	if why := idProblem(r); why != "" {
		return invalid(d, "tap %s: %s", r.ID.String(), why)
	}
	if (!d.Ledger || c.order == pairOrder) && !(isClearing(r) && r.Interregional()) {
		return invalid(d, "tap %s is not an interregional clearing row", r.ID.String())
	}
	c.t.add(r)
	c.last = r
	if c.copyRows {
		c.prev = *r
		c.last = &c.prev
	}
	c.n++
	return nil
}

// finish compares the rows' sums with the day's: the bilateral and
// interregional totals always, and, for every row of a ledger, the counts,
// totals, adjustments and discount totals.
func (c *rowCheck) finish() error {
	d := c.d
	var got Day
	c.t.fill(&got)
	if !slices.Equal(got.Bilateral, d.Bilateral) {
		return invalid(d, "bilateral totals differ from the rows")
	}
	if got.Interregional != d.Interregional {
		return invalid(d, "interregional totals %+v, rows sum to %+v", d.Interregional, got.Interregional)
	}
	if !d.Ledger || c.order == pairOrder {
		return nil
	}
	got.Counts[transit.StatusRejected] += d.RejectCount()
	if got.Counts != d.Counts {
		return invalid(d, "status counts %v, rows and rejects count %v", d.Counts, got.Counts)
	}
	if got.Totals != d.Totals {
		return invalid(d, "totals %+v, rows sum to %+v", d.Totals, got.Totals)
	}
	if got.Adjustments != d.Adjustments {
		return invalid(d, "adjustment totals %+v, rows sum to %+v", d.Adjustments, got.Adjustments)
	}
	if !slices.Equal(got.Discounts, d.Discounts) {
		return invalid(d, "discount totals differ from the rows")
	}
	return nil
}

// writeSpilledLedger writes the ledger of a day whose rows were spilled,
// from the merge of its runs, checking them: the same frames as
// writeLedger of the rows in memory (ledgerChunkRows rows each, the
// header in the first). One goroutine reads the merge and formats the
// text; up to workers compress the frames. A frame's text is some 8 MiB
// and a compressor's window as much: what the writer holds is about
// workers+1 texts and workers windows, whatever the day's size, so a
// caller with little memory gives few workers.
func writeSpilledLedger(w io.Writer, d *Day, workers int) error {
	m, err := d.spilledRows[ledgerOrder].merge()
	if err != nil {
		return err
	}
	defer m.Close()
	chk := newRowCheck(d, ledgerOrder, true)
	workers = max(1, workers)
	type job struct {
		text, out []byte
		done      chan struct{}
	}
	work := make(chan *job)
	order := make(chan *job, workers-1) // with the one each worker holds: workers in flight
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range work {
				j.out = compress(chunkBufs.get(), j.text)
				close(j.done)
			}
		})
	}
	prodErr := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		defer close(order)
		defer close(work)
		var f ledgerFormat
		for first := true; ; first = false {
			text := slices.Grow(chunkBufs.get(), ledgerChunkRows*ledgerRowBytes+len(LedgerHeader)+1)
			if first {
				text = append(text, LedgerHeader...)
				text = append(text, '\n')
			}
			n := 0
			for ; n < ledgerChunkRows; n++ {
				r, ok, err := m.Next()
				if err == nil && ok {
					err = chk.add(r)
				}
				if err != nil {
					prodErr <- err
					return
				}
				if !ok {
					break
				}
				text = f.append(text, r)
			}
			if n == 0 && !first {
				prodErr <- nil
				return
			}
			j := &job{text: text, done: make(chan struct{})}
			select {
			case order <- j:
			case <-stop:
				prodErr <- nil
				return
			}
			work <- j
			if n < ledgerChunkRows {
				prodErr <- nil
				return
			}
		}
	}()
	var werr error
	for j := range order {
		<-j.done
		if werr == nil {
			if _, err := w.Write(j.out); err != nil {
				werr = fmt.Errorf("write compressed chunks: %w", err)
				close(stop)
			}
		}
		chunkBufs.put(j.text)
		chunkBufs.put(j.out)
	}
	wg.Wait()
	if err := errors.Join(<-prodErr, werr); err != nil {
		return err
	}
	if chk.n != d.RowCount() {
		return invalid(d, "%d rows read back, the day holds %d", chk.n, d.RowCount())
	}
	return chk.finish()
}

// stageSpilledClearing stages the clearing files of a day whose rows were
// spilled, one issuer's at a time, from the merge of its interregional
// clearing rows in pair order, checking them; it returns the files'
// manifest entries and staged files as stageDay does.
func stageSpilledClearing(dir string, d *Day, opts WriteOptions, out durable.Writer) ([]ManifestFile, []durable.Staged, error) {
	var files []ManifestFile
	var staged []durable.Staged
	m, err := d.spilledRows[pairOrder].merge()
	if err != nil {
		return nil, nil, err
	}
	defer m.Close()
	chk := newRowCheck(d, pairOrder, true)
	for lo, hi := range runs(d.Bilateral, issuerOf) {
		issuer := d.Bilateral[lo].Issuer
		mf := ManifestFile{Path: ClearingPath(issuer)}
		path := filepath.Join(dir, filepath.FromSlash(mf.Path))
		s, size, sum, err := out.Stage(path, func(w io.Writer) error {
			cw := newClearingWriter(w, filepath.Dir(path), clearingHeader(d, issuer, opts))
			for j := lo; j < hi; j++ {
				if err := addPairRows(cw, m, chk, d, &d.Bilateral[j]); err != nil {
					cw.discard()
					return err
				}
			}
			return closeClearing(cw, &mf)
		})
		mf.Size, mf.SHA256 = size, sum
		if err != nil {
			return files, staged, err
		}
		staged = append(staged, s)
		files = append(files, mf)
	}
	if _, more, err := m.Next(); err != nil || more {
		return files, staged, errors.Join(err, invalid(d, "more interregional clearing rows than the bilateral totals count"))
	}
	return files, staged, chk.finish()
}

// addPairRows adds the b.Count rows of pair b, the next in m, to cw,
// checking them with chk.
func addPairRows(cw *clearingWriter, m *spill.Merge[transit.Priced], chk *rowCheck, d *Day, b *Bilateral) error {
	for i := range b.Count {
		r, ok, err := m.Next()
		switch {
		case err != nil:
			return err
		case !ok:
			return invalid(d, "the rows of %v-%v end after %d of %d", b.Issuer, b.Acquirer, i, b.Count)
		case r.Issuer != b.Issuer || r.City != b.Acquirer:
			return invalid(d, "tap %s of %v-%v where the rows of %v-%v are due", r.ID.String(), r.Issuer, r.City, b.Issuer, b.Acquirer)
		}
		if err := chk.add(r); err != nil {
			return err
		}
		if err := cw.addRow(r); err != nil {
			return err
		}
	}
	return nil
}
