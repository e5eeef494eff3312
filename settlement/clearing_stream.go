package settlement

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/tapsettle/tapsettle/transit"
)

// A clearingWriter writes one issuer's clearing file as its details come,
// in batch order (acquirer, class, mode, then the details' order), and
// holds none of them: the format puts every count, sum and hash in a
// control record after what it closes, so the batch and file controls
// are totals accumulated on the way, and nothing before a detail depends
// on the details that follow. Its bytes are those of a ClearingFile built
// from the same details (addBatches, seal, Append) and compressed whole;
// TestClearingWriterSameBytes holds the two equal. What it holds is a
// frameWriter's block and window and the 64 KiB of lines it passes on at
// a time, whatever the file's size.
type clearingWriter struct {
	fw  *frameWriter
	hdr FileHeader
	buf []byte // lines not yet given to fw

	open  bool        // a batch is open: bh and bt are its
	bh    BatchHeader // the open or last batch's header; its Batch counts those opened
	bt    controlTotals
	bhash hash.Hash // of the open batch's detail lines

	sum   controlTotals // of the batches closed
	fhash hash.Hash     // of the closed batches' hashes
}

// clearingChunk is how many bytes of lines a clearingWriter gathers
// before it passes them on.
const clearingChunk = 64 << 10

// lineBufs holds clearingWriters' lines: a chunk, and room for the line
// that passes it.
var lineBufs = bufPool{size: clearingChunk + 1024}

// newClearingWriter starts the clearing file of header h on w, which
// receives the compressed file at close; dir takes a temporary spool
// file for a large one (see frameWriter). h.Producer must be set.
func newClearingWriter(w io.Writer, dir string, h FileHeader) *clearingWriter {
	cw := &clearingWriter{fw: newFrameWriter(w, dir), hdr: h, bhash: sha256.New(), fhash: sha256.New()}
	cw.buf = h.Append(lineBufs.get())
	return cw
}

// addRow adds the detail of clearing row r, owed to acquirer r.City.
func (cw *clearingWriter) addRow(r *transit.Priced) error {
	d := detailFromRow(r, 0)
	return cw.add(r.City, &d)
}

// add adds detail d, owed to acquirer, setting its Seq: it closes the
// open batch and opens the next when d belongs to another (acquirer,
// class, mode), which must come after it.
func (cw *clearingWriter) add(acquirer transit.City, d *Detail) error {
	if d.Mode < 1 || d.Mode >= transit.NumModes {
		return fmt.Errorf("settlement: clearing file of issuer %v: acquirer %v (%s): mode %d is not bus or metro", cw.hdr.Issuer, acquirer, d.TapID, d.Mode)
	}
	class := classOf(d.Status)
	if !cw.open || acquirer != cw.bh.Acquirer || class != cw.bh.Class || d.Mode != cw.bh.Mode {
		if err := cw.openBatch(acquirer, class, d.Mode); err != nil {
			return err
		}
	}
	d.Seq = cw.bt.Count + 1
	start := len(cw.buf)
	cw.buf = d.Append(cw.buf)
	cw.bhash.Write(cw.buf[start:])
	cw.bt.addDetail(d)
	if len(cw.buf) >= clearingChunk {
		return cw.flush()
	}
	return nil
}

// openBatch closes the open batch, if any, and opens the next.
func (cw *clearingWriter) openBatch(acquirer transit.City, class BatchClass, mode transit.Mode) error {
	next := BatchHeader{Batch: cw.bh.Batch + 1, Mode: mode, Issuer: cw.hdr.Issuer, Acquirer: acquirer, Day: cw.hdr.Day, Class: class}
	if cw.open {
		if !batchAfter(&next, &cw.bh) {
			return fmt.Errorf("settlement: clearing file of issuer %v: a detail of acquirer %v, %v %v after the batch of %v, %v %v: details not in batch order", cw.hdr.Issuer, acquirer, class, mode, cw.bh.Acquirer, cw.bh.Class, cw.bh.Mode)
		}
		cw.closeBatch()
	}
	if next.Batch > maxBatches {
		return fmt.Errorf("settlement: clearing file of issuer %v: more than %d batches", cw.hdr.Issuer, maxBatches)
	}
	cw.bh, cw.bt, cw.open = next, controlTotals{}, true
	cw.bhash.Reset()
	cw.buf = cw.bh.Append(cw.buf)
	return nil
}

// closeBatch appends the open batch's control record.
func (cw *clearingWriter) closeBatch() {
	t := &cw.bt
	cw.bhash.Sum(t.hash[:0])
	c := t.batchControl(&cw.bh)
	cw.buf = c.Append(cw.buf)
	cw.fhash.Write(t.hash[:])
	cw.sum.Add(t.Amounts)
	cw.open = false
}

// flush passes the gathered lines on.
func (cw *clearingWriter) flush() error {
	_, err := cw.fw.Write(cw.buf)
	cw.buf = cw.buf[:0]
	return err
}

// close closes the last batch, writes the file control record and the
// compressed file, and returns the file control. A file needs a batch.
// Call close or discard once.
func (cw *clearingWriter) close() (FileControl, error) {
	if !cw.open {
		cw.discard()
		return FileControl{}, fmt.Errorf("settlement: clearing file of issuer %v: no details", cw.hdr.Issuer)
	}
	cw.closeBatch()
	cw.fhash.Sum(cw.sum.hash[:0])
	c := cw.sum.fileControl(cw.bh.Batch)
	cw.buf = c.Append(cw.buf)
	if err := cw.flush(); err != nil {
		cw.discard()
		return c, err
	}
	lineBufs.put(cw.buf)
	cw.buf = nil
	return c, cw.fw.Close()
}

// discard releases what the writer holds without writing the file.
func (cw *clearingWriter) discard() {
	cw.fw.discard()
	lineBufs.put(cw.buf)
	cw.buf = nil
}
