package settlement

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tapsettle/tapsettle/transit"
)

// ClearingFile is the content of one clearing file: the transactions that
// one issuer's cards owe every acquirer for a settlement day, in one batch
// per acquirer and mode (acquirers in code order, bus before metro).
type ClearingFile struct {
	Header  FileHeader
	Batches []ClearingBatch
	Control FileControl
}

// ClearingBatch is a batch header, its entries and its control record.
type ClearingBatch struct {
	Header  BatchHeader
	Entries []Detail
	Control BatchControl
}

// AcquirerDetails are the transactions an issuer owes one acquirer.
type AcquirerDetails struct {
	Acquirer transit.City
	Entries  []Detail
}

// BuildClearingFile makes one batch per acquirer and mode, in that order,
// keeping the entries' order within a batch, and computes every derived
// field: batch numbers, sequence numbers, counts, sums and hashes. The
// entries are copied; groups may come in any order, and groups naming the
// same acquirer are merged in the order given.
//
// It returns an error, rather than a file no reader accepts, for an entry
// whose mode is not bus or metro and for anything ReadClearingFile refuses
// (it validates the result: an acquirer equal to the issuer, entries that
// are not clearing rows or not in time order, too many batches).
func BuildClearingFile(h FileHeader, groups []AcquirerDetails) (*ClearingFile, error) {
	groups = slices.Clone(groups)
	slices.SortStableFunc(groups, func(a, b AcquirerDetails) int { return cmp.Compare(a.Acquirer, b.Acquirer) })
	for _, g := range groups {
		for i := range g.Entries {
			if m := g.Entries[i].Mode; m < 1 || m >= transit.NumModes {
				return nil, fmt.Errorf("settlement: clearing file of issuer %v: acquirer %v entry %d (%s): mode %d is not bus or metro", h.Issuer, g.Acquirer, i+1, g.Entries[i].TapID, m)
			}
		}
	}
	f := &ClearingFile{Header: h}
	for lo, hi := range runs(groups, func(g *AcquirerDetails) transit.City { return g.Acquirer }) {
		var entries []Detail // the run's groups, merged
		for _, g := range groups[lo:hi] {
			entries = append(entries, g.Entries...)
		}
		f.addBatches(groups[lo].Acquirer, len(entries), func(i int, e *Detail) { *e = entries[i] })
	}
	f.seal()
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("settlement: clearing file of issuer %v: %w", h.Issuer, err)
	}
	return f, nil
}

// addBatches appends acquirer's batches, one per mode, of n entries that
// entry fills in; call seal once all are added.
func (f *ClearingFile) addBatches(acquirer transit.City, n int, entry func(i int, e *Detail)) {
	var byMode [transit.NumModes][]Detail
	for i := 0; i < n; i++ {
		var e Detail
		entry(i, &e)
		byMode[e.Mode] = append(byMode[e.Mode], e)
	}
	for m := transit.Mode(1); m < transit.NumModes; m++ {
		if len(byMode[m]) > 0 {
			f.Batches = append(f.Batches, ClearingBatch{
				Header:  BatchHeader{Batch: len(f.Batches) + 1, Mode: m, Issuer: f.Header.Issuer, Acquirer: acquirer, Day: f.Header.Day},
				Entries: byMode[m],
			})
		}
	}
}

// seal recomputes sequence numbers and control records.
func (f *ClearingFile) seal() {
	fileHash := sha256.New()
	f.Control = FileControl{Batches: len(f.Batches)}
	var line []byte
	for bi := range f.Batches {
		b := &f.Batches[bi]
		c := BatchControl{Batch: b.Header.Batch, Mode: b.Header.Mode}
		h := sha256.New()
		for i := range b.Entries {
			e := &b.Entries[i]
			e.Seq = int64(i + 1)
			line = e.Append(line[:0])
			h.Write(line)
			c.Entries++
			c.Gross += e.Gross
			c.Discount += e.Discount
			c.Charged += e.Charged
		}
		h.Sum(c.EntryHash[:0])
		b.Control = c
		fileHash.Write(c.EntryHash[:])
		f.Control.Entries += c.Entries
		f.Control.Gross += c.Gross
		f.Control.Discount += c.Discount
		f.Control.Charged += c.Charged
	}
	fileHash.Sum(f.Control.Hash[:0])
}

// Append appends the file's lines.
func (f *ClearingFile) Append(b []byte) []byte {
	b = f.Header.Append(b)
	for bi := range f.Batches {
		bt := &f.Batches[bi]
		b = bt.Header.Append(b)
		for i := range bt.Entries {
			b = bt.Entries[i].Append(b)
		}
		b = bt.Control.Append(b)
	}
	return f.Control.Append(b)
}

// Validate recomputes every control record and checks every entry (see
// ReadClearingFile); it never modifies f. Errors are *RecordError with the
// line the record would have in the file.
func (f *ClearingFile) Validate() error {
	_, err := readClearing(bytes.NewReader(f.Append(nil)), false)
	return err
}

// ReadClearingFile parses a decompressed clearing file and checks it: the
// record grammar (1, then per batch 5, 6..., 8, then 9), every line in the
// writer's exact form, batch numbers in order, batches in ascending
// (acquirer, mode) order with no acquirer equal to the issuer, consecutive
// sequence numbers, entries that are clearing rows of the batch's mode
// with Charged = Gross - Discount, in time order, and every count, sum and
// hash of the control records. The first problem is returned as a
// *RecordError naming its line.
func ReadClearingFile(r io.Reader) (*ClearingFile, error) {
	return readClearing(r, true)
}

// readClearing is ReadClearingFile; with keep false it holds no entries,
// so a verifier's memory does not grow with the file.
func readClearing(r io.Reader, keep bool) (*ClearingFile, error) {
	lr := newLineReader(r)
	f := &ClearingFile{}
	fail := func(err error) (*ClearingFile, error) { return nil, atLine(err, lr.line) }
	mismatch := func(field string, got, want any) (*ClearingFile, error) {
		return nil, &RecordError{Line: lr.line, Field: field, Reason: fmt.Sprintf("%v, recomputed %v", got, want), Err: ErrMismatch}
	}
	next := func() ([]byte, error) {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil, &RecordError{Line: lr.line + 1, Reason: "file ends before its file control record"}
		}
		return line, err
	}

	line, err := next()
	if err != nil {
		return nil, err
	}
	if err := f.Header.Parse(line); err != nil {
		return fail(err)
	}
	h := &f.Header
	fileHash := sha256.New()
	var sum FileControl
	var entry []byte
	for {
		line, err := next()
		if err != nil {
			return nil, err
		}
		if len(line) > 0 && line[0] == RecordFileControl {
			if err := f.Control.Parse(line); err != nil {
				return fail(err)
			}
			break
		}
		var b ClearingBatch
		if err := b.Header.Parse(line); err != nil {
			return fail(err)
		}
		bh := &b.Header
		switch {
		case bh.Batch != len(f.Batches)+1:
			return mismatch("batch_number", bh.Batch, len(f.Batches)+1)
		case bh.Issuer != h.Issuer || bh.Day != h.Day:
			return fail(fieldError("", "issuer or day differs from the file header"))
		case bh.Acquirer == h.Issuer:
			return fail(fieldError("acquirer", "equals the issuer: a local ride is not cleared"))
		case len(f.Batches) > 0 && !batchAfter(bh, &f.Batches[len(f.Batches)-1].Header):
			return fail(fieldError("", "batches must be in acquirer, then mode order, one per acquirer and mode"))
		}
		var c BatchControl
		eh := sha256.New()
		var e, prev Detail
		for {
			line, err := next()
			if err != nil {
				return nil, err
			}
			if len(line) > 0 && line[0] == RecordBatchControl {
				if err := b.Control.Parse(line); err != nil {
					return fail(err)
				}
				break
			}
			if err := e.Parse(line); err != nil {
				return fail(err)
			}
			if err := checkEntry(&e, &prev, bh.Mode, c.Entries); err != nil {
				return fail(err)
			}
			entry = e.Append(entry[:0])
			eh.Write(entry)
			c.Entries++
			c.Gross += e.Gross
			c.Discount += e.Discount
			c.Charged += e.Charged
			if keep {
				b.Entries = append(b.Entries, e)
			}
			prev = e
		}
		c.Batch, c.Mode = bh.Batch, bh.Mode
		eh.Sum(c.EntryHash[:0])
		bc := &b.Control
		switch {
		case c.Entries == 0:
			return fail(fieldMismatch("entry_count", "a batch holds at least one entry"))
		case bc.Batch != c.Batch:
			return mismatch("batch_number", bc.Batch, c.Batch)
		case bc.Mode != c.Mode:
			return mismatch("mode", bc.Mode, c.Mode)
		case bc.Entries != c.Entries:
			return mismatch("entry_count", bc.Entries, c.Entries)
		case bc.Gross != c.Gross:
			return mismatch("gross_fen", bc.Gross, c.Gross)
		case bc.Discount != c.Discount:
			return mismatch("discount_fen", bc.Discount, c.Discount)
		case bc.Charged != c.Charged:
			return mismatch("charged_fen", bc.Charged, c.Charged)
		case bc.EntryHash != c.EntryHash:
			return mismatch("entry_hash", fmt.Sprintf("%x", bc.EntryHash), fmt.Sprintf("%x", c.EntryHash))
		}
		fileHash.Write(c.EntryHash[:])
		sum.Batches++
		sum.Entries += c.Entries
		sum.Gross += c.Gross
		sum.Discount += c.Discount
		sum.Charged += c.Charged
		f.Batches = append(f.Batches, b)
	}
	fileHash.Sum(sum.Hash[:0])
	fc := &f.Control
	switch {
	case sum.Batches == 0:
		return fail(fieldError("batch_count", "a clearing file holds at least one batch"))
	case fc.Batches != sum.Batches:
		return mismatch("batch_count", fc.Batches, sum.Batches)
	case fc.Entries != sum.Entries:
		return mismatch("entry_count", fc.Entries, sum.Entries)
	case fc.Gross != sum.Gross:
		return mismatch("gross_fen", fc.Gross, sum.Gross)
	case fc.Discount != sum.Discount:
		return mismatch("discount_fen", fc.Discount, sum.Discount)
	case fc.Charged != sum.Charged:
		return mismatch("charged_fen", fc.Charged, sum.Charged)
	case fc.Hash != sum.Hash:
		return mismatch("file_hash", fmt.Sprintf("%x", fc.Hash), fmt.Sprintf("%x", sum.Hash))
	}
	if _, err := lr.next(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, &RecordError{Line: lr.line, Reason: "data after the file control record"}
	}
	return f, nil
}

// batchAfter reports whether batch b may follow batch prev: acquirers in
// code order, modes in order within an acquirer.
func batchAfter(b, prev *BatchHeader) bool {
	return cmp.Or(cmp.Compare(b.Acquirer, prev.Acquirer), cmp.Compare(b.Mode, prev.Mode)) > 0
}

// checkEntry checks one entry against the rules of its batch; n entries
// precede it, the last being prev.
func checkEntry(e, prev *Detail, mode transit.Mode, n int64) error {
	switch {
	case e.Seq != n+1:
		return fieldError("seq", fmt.Sprintf("%d, want %d", e.Seq, n+1))
	case e.Mode != mode:
		return fieldError("mode", "differs from the batch's mode")
	case e.Status != transit.StatusCharged && e.Status != transit.StatusIncomplete:
		return fieldError("status", "only charged and incomplete journeys are cleared")
	case e.Rules&transit.RuleMetroEntry != 0:
		return fieldError("rule", "a paired metro entry is not a transaction")
	case e.Gross < 0 || e.Discount < 0 || e.Charged < 0:
		return fieldError("", "negative amount")
	case e.Charged != e.Gross-e.Discount:
		return fieldMismatch("charged_fen", fmt.Sprintf("%d is not gross %d - discount %d", e.Charged, e.Gross, e.Discount))
	case n > 0 && cmp.Or(cmp.Compare(e.Time, prev.Time), bytes.Compare(e.TapID[:], prev.TapID[:])) < 0:
		return fieldError("", "entries out of (time, tap_id) order")
	}
	return nil
}
