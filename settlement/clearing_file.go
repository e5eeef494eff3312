package settlement

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tapsettle/tapsettle/internal/buildinfo"
	"github.com/tapsettle/tapsettle/transit"
)

// ClearingFile is the content of one clearing file: the transactions that
// one issuer's cards owe every acquirer for a settlement day, in one batch
// per acquirer, class and mode (acquirers in code order, the day's
// journeys before the adjustments, bus before metro). Adjustments carry
// signed amounts, so an acquirer's batches sum to the net amount owed.
type ClearingFile struct {
	Header  FileHeader
	Batches []ClearingBatch
	Control FileControl
}

// ClearingBatch is a batch header, its details and its control record.
type ClearingBatch struct {
	Header  BatchHeader
	Details []Detail
	Control BatchControl
}

// AcquirerDetails are the transactions an issuer owes one acquirer.
type AcquirerDetails struct {
	Acquirer transit.City
	Details  []Detail
}

// BuildClearingFile makes one batch per acquirer, class and mode, in that
// order (a detail of status adjustment goes in an adjustments batch),
// keeping the details' order within a batch, and computes every derived
// field: batch numbers, sequence numbers, counts, sums and hashes. The
// details are copied; groups may come in any order, and groups naming the
// same acquirer are merged in the order given.
//
// It returns an error, rather than a file no reader accepts, for a detail
// whose mode is not bus or metro and for anything ReadClearingFile refuses
// (it validates the result: an acquirer equal to the issuer, details that
// are not clearing rows or not in time order, too many batches). An empty
// h.Producer is the running build's.
func BuildClearingFile(h FileHeader, groups []AcquirerDetails) (*ClearingFile, error) {
	if h.Producer == "" {
		h.Producer = buildinfo.Read().Producer()
	}
	groups = slices.Clone(groups)
	slices.SortStableFunc(groups, func(a, b AcquirerDetails) int { return cmp.Compare(a.Acquirer, b.Acquirer) })
	for _, g := range groups {
		for i := range g.Details {
			if m := g.Details[i].Mode; m < 1 || m >= transit.NumModes {
				return nil, fmt.Errorf("settlement: clearing file of issuer %v: acquirer %v entry %d (%s): mode %d is not bus or metro", h.Issuer, g.Acquirer, i+1, g.Details[i].TapID, m)
			}
		}
	}
	f := &ClearingFile{Header: h}
	for lo, hi := range runs(groups, func(g *AcquirerDetails) transit.City { return g.Acquirer }) {
		var details []Detail // the run's groups, merged
		for _, g := range groups[lo:hi] {
			details = append(details, g.Details...)
		}
		f.addBatches(groups[lo].Acquirer, len(details), func(i int, d *Detail) { *d = details[i] })
	}
	f.seal()
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("settlement: clearing file of issuer %v: %w", h.Issuer, err)
	}
	return f, nil
}

// addBatches appends acquirer's batches, one per class and mode, of n
// details that detail fills in; call seal once all are added.
func (f *ClearingFile) addBatches(acquirer transit.City, n int, detail func(i int, d *Detail)) {
	var by [numClasses][transit.NumModes][]Detail
	for i := 0; i < n; i++ {
		var d Detail
		detail(i, &d)
		c := classOf(d.Status)
		by[c][d.Mode] = append(by[c][d.Mode], d)
	}
	for c := ClassJourneys; c < numClasses; c++ {
		for m := transit.Mode(1); m < transit.NumModes; m++ {
			if len(by[c][m]) > 0 {
				f.Batches = append(f.Batches, ClearingBatch{
					Header:  BatchHeader{Batch: len(f.Batches) + 1, Mode: m, Issuer: f.Header.Issuer, Acquirer: acquirer, Day: f.Header.Day, Class: c},
					Details: by[c][m],
				})
			}
		}
	}
}

// seal recomputes sequence numbers and control records.
func (f *ClearingFile) seal() {
	fileHash := sha256.New()
	var sum controlTotals
	var line []byte
	for bi := range f.Batches {
		b := &f.Batches[bi]
		var t controlTotals
		h := sha256.New()
		for i := range b.Details {
			d := &b.Details[i]
			d.Seq = int64(i + 1)
			line = d.Append(line[:0])
			h.Write(line)
			t.addDetail(d)
		}
		h.Sum(t.hash[:0])
		b.Control = t.batchControl(&b.Header)
		fileHash.Write(t.hash[:])
		sum.Add(t.Amounts)
	}
	fileHash.Sum(sum.hash[:0])
	f.Control = sum.fileControl(len(f.Batches))
}

// Append appends the file's lines.
func (f *ClearingFile) Append(b []byte) []byte {
	b = f.Header.Append(b)
	for bi := range f.Batches {
		bt := &f.Batches[bi]
		b = bt.Header.Append(b)
		for i := range bt.Details {
			b = bt.Details[i].Append(b)
		}
		b = bt.Control.Append(b)
	}
	return f.Control.Append(b)
}

// Validate recomputes every control record and checks every detail (see
// ReadClearingFile); it never modifies f. Errors are *RecordError with the
// line the record would have in the file.
func (f *ClearingFile) Validate() error {
	_, err := readClearing(bytes.NewReader(f.Append(nil)), false, nil)
	return err
}

// ReadClearingFile parses a decompressed clearing file and checks it: the
// record grammar (1, then per batch 5, 6..., 8, then 9), every line in the
// writer's exact form, batch numbers in order, batches in ascending
// (acquirer, class, mode) order with no acquirer equal to the issuer,
// consecutive sequence numbers, details that are clearing rows of the
// batch's mode and class (journeys, or adjustments of an earlier or the
// same day) with Charged = Gross - Discount, in time order, and every
// count, signed sum and hash of the control records. A file of another
// version (version 2 had no classes) is refused with a version error. The first problem is returned as a
// *RecordError naming its line.
func ReadClearingFile(r io.Reader) (*ClearingFile, error) {
	return readClearing(r, true, nil)
}

// ScanClearingFile reads and checks a decompressed clearing file as
// ReadClearingFile does, but calls each for every detail record, in file
// order, with the header of its batch, instead of keeping them: the file's
// batches come back without their Details, so a reader's memory does not
// grow with the file. each must not keep its arguments, which are reused;
// it is called before the file is known to be whole, so a caller that
// counts must drop its counts when an error comes back.
func ScanClearingFile(r io.Reader, each func(*BatchHeader, *Detail)) (*ClearingFile, error) {
	return readClearing(r, false, each)
}

// readClearing is ReadClearingFile; with keep false it holds no details,
// so a verifier's memory does not grow with the file. each, when not nil,
// is called for every detail read (ScanClearingFile).
func readClearing(rd io.Reader, keep bool, each func(*BatchHeader, *Detail)) (*ClearingFile, error) {
	r := &clearingReader{lr: newLineReader(rd), keep: keep, each: each}
	f := &ClearingFile{}
	line, err := r.next()
	if err != nil {
		return nil, err
	}
	if err := f.Header.Parse(line); err != nil {
		return nil, r.fail(err)
	}
	if err := f.Header.Validate(); err != nil {
		return nil, r.fail(err)
	}
	fileHash := sha256.New()
	var sum controlTotals // of the batches read, recomputed
	for {
		line, err := r.next()
		if err != nil {
			return nil, err
		}
		if len(line) > 0 && line[0] == RecordFileControl {
			if err := f.Control.Parse(line); err != nil {
				return nil, r.fail(err)
			}
			break
		}
		b, err := r.readBatch(f, line)
		if err != nil {
			return nil, err
		}
		fileHash.Write(b.Control.DetailHash[:])
		sum.Add(b.Control.totals().Amounts)
		f.Batches = append(f.Batches, b)
	}
	fileHash.Sum(sum.hash[:0])
	if err := checkFileControl(f, sum); err != nil {
		return nil, r.fail(err)
	}
	if _, err := r.lr.next(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, &RecordError{Line: r.lr.line, Reason: "data after the file control record"}
	}
	return f, nil
}

// clearingReader holds the state readClearing shares with the readers of
// a batch and of the file control record.
type clearingReader struct {
	lr   *lineReader
	keep bool                        // keep the details in ClearingBatch.Details
	each func(*BatchHeader, *Detail) // called for every detail (ScanClearingFile)
	line []byte                      // a detail appended again, for the batch's hash
}

// next returns the next line, or an error naming the missing file control
// record at the end of the file.
func (r *clearingReader) next() ([]byte, error) {
	line, err := r.lr.next()
	if errors.Is(err, io.EOF) {
		return nil, &RecordError{Line: r.lr.line + 1, Reason: "file ends before its file control record"}
	}
	return line, err
}

// fail places err on the line just read.
func (r *clearingReader) fail(err error) error { return atLine(err, r.lr.line) }

// readBatch reads the batch that line, its header, opens: the details and
// the batch control record, checked against f, which holds the batches
// before it.
func (r *clearingReader) readBatch(f *ClearingFile, line []byte) (ClearingBatch, error) {
	var b ClearingBatch
	bh, bc := &b.Header, &b.Control
	if err := bh.Parse(line); err != nil {
		return b, r.fail(err)
	}
	switch {
	case bh.Batch != len(f.Batches)+1:
		return b, r.fail(mismatch("batch_number", bh.Batch, len(f.Batches)+1))
	case bh.Issuer != f.Header.Issuer || bh.Day != f.Header.Day:
		return b, r.fail(fieldError("", "issuer or day differs from the file header"))
	}
	if err := bh.Validate(); err != nil {
		return b, r.fail(err)
	}
	if len(f.Batches) > 0 && !batchAfter(bh, &f.Batches[len(f.Batches)-1].Header) {
		return b, r.fail(fieldError("", "batches must be in acquirer, class, then mode order, one per acquirer, class and mode"))
	}
	var sum controlTotals // of the details read, recomputed
	h := sha256.New()
	var d, prev Detail
	for {
		line, err := r.next()
		if err != nil {
			return b, err
		}
		if len(line) > 0 && line[0] == RecordBatchControl {
			if err := bc.Parse(line); err != nil {
				return b, r.fail(err)
			}
			break
		}
		if err := d.Parse(line); err != nil {
			return b, r.fail(err)
		}
		if err := checkDetail(&d, &prev, bh, sum.Count); err != nil {
			return b, r.fail(err)
		}
		r.line = d.Append(r.line[:0])
		h.Write(r.line)
		sum.addDetail(&d)
		if r.keep {
			b.Details = append(b.Details, d)
		}
		if r.each != nil {
			r.each(bh, &d)
		}
		prev = d
	}
	h.Sum(sum.hash[:0])
	if err := checkBatchControl(bh, bc, sum); err != nil {
		return b, r.fail(err)
	}
	return b, nil
}

// checkBatchControl checks batch control c of the batch that h opens
// against the totals recomputed from its details.
func checkBatchControl(h *BatchHeader, c *BatchControl, sum controlTotals) error {
	if err := c.Validate(); err != nil {
		return err
	}
	switch {
	case sum.Count == 0:
		return fieldMismatch("entry_count", "a batch holds at least one entry")
	case c.Batch != h.Batch:
		return mismatch("batch_number", c.Batch, h.Batch)
	case c.Mode != h.Mode:
		return mismatch("mode", c.Mode, h.Mode)
	}
	return checkTotals(c.totals(), sum, "entry_hash")
}

// checkFileControl checks the file control record of f against the
// totals recomputed from its batches.
func checkFileControl(f *ClearingFile, sum controlTotals) error {
	c := &f.Control
	if err := c.Validate(); err != nil {
		return err
	}
	switch {
	case len(f.Batches) == 0:
		return fieldError("batch_count", "a clearing file holds at least one batch")
	case c.Batches != len(f.Batches):
		return mismatch("batch_count", c.Batches, len(f.Batches))
	}
	return checkTotals(c.totals(), sum, "file_hash")
}

// controlTotals are what a control record repeats of the details it
// closes: their count, the sums of their amounts, and a hash.
type controlTotals struct {
	Amounts
	hash [32]byte
}

// addDetail counts d and adds its amounts.
func (t *controlTotals) addDetail(d *Detail) {
	t.Add(Amounts{Count: 1, Gross: d.Gross, Discount: d.Discount, Charged: d.Charged})
}

// batchControl is the control record of the batch h opens whose details
// sum to t: the inverse of BatchControl.totals.
func (t *controlTotals) batchControl(h *BatchHeader) BatchControl {
	return BatchControl{Batch: h.Batch, Mode: h.Mode, Details: t.Count,
		Gross: t.Gross, Discount: t.Discount, Charged: t.Charged, DetailHash: t.hash}
}

// fileControl is the control record of a file of n batches whose details
// sum to t: the inverse of FileControl.totals.
func (t *controlTotals) fileControl(n int) FileControl {
	return FileControl{Batches: n, Details: t.Count,
		Gross: t.Gross, Discount: t.Discount, Charged: t.Charged, Hash: t.hash}
}

func (c *BatchControl) totals() controlTotals {
	return controlTotals{Amounts{c.Details, c.Gross, c.Discount, c.Charged}, c.DetailHash}
}

func (c *FileControl) totals() controlTotals {
	return controlTotals{Amounts{c.Details, c.Gross, c.Discount, c.Charged}, c.Hash}
}

// checkTotals compares the totals a control record states with those
// recomputed from the records it closes, naming the first field that
// differs; hashField is the name of the record's hash field.
func checkTotals(stated, recomputed controlTotals, hashField string) error {
	switch {
	case stated.Count != recomputed.Count:
		return mismatch("entry_count", stated.Count, recomputed.Count)
	case stated.Gross != recomputed.Gross:
		return mismatch("gross_fen", stated.Gross, recomputed.Gross)
	case stated.Discount != recomputed.Discount:
		return mismatch("discount_fen", stated.Discount, recomputed.Discount)
	case stated.Charged != recomputed.Charged:
		return mismatch("charged_fen", stated.Charged, recomputed.Charged)
	case stated.hash != recomputed.hash:
		return mismatch(hashField, fmt.Sprintf("%x", stated.hash), fmt.Sprintf("%x", recomputed.hash))
	}
	return nil
}

// mismatch is the error of a field whose value, got, differs from its
// recomputation, want.
func mismatch(field string, got, want any) *RecordError {
	return &RecordError{Field: field, Reason: fmt.Sprintf("%v, recomputed %v", got, want), Err: ErrMismatch}
}

// batchAfter reports whether batch b may follow batch prev: acquirers in
// code order, then journeys before adjustments, then modes in order.
func batchAfter(b, prev *BatchHeader) bool {
	return cmp.Or(cmp.Compare(b.Acquirer, prev.Acquirer), cmp.Compare(b.Class, prev.Class), cmp.Compare(b.Mode, prev.Mode)) > 0
}

// checkDetail checks one detail against the rules of its batch, which h
// opens; n details precede it, the last being prev.
func checkDetail(d, prev *Detail, h *BatchHeader, n int64) error {
	switch {
	case d.Seq != n+1:
		return fieldError("seq", fmt.Sprintf("%d, want %d", d.Seq, n+1))
	case d.Mode != h.Mode:
		return fieldError("mode", "differs from the batch's mode")
	case classOf(d.Status) != h.Class:
		return fieldError("status", d.Status.String()+" in a batch of "+h.Class.String())
	case d.RefDay > h.Day:
		return fieldError("ref_day", "after the settlement day that books the adjustment")
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if n > 0 && cmp.Or(cmp.Compare(d.Time, prev.Time), bytes.Compare(d.TapID[:], prev.TapID[:])) < 0 {
		return fieldError("", "entries out of (time, tap_id) order")
	}
	return nil
}
