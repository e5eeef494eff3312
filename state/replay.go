package state

import (
	"bufio"
	"fmt"
	"io"
)

// replayResult is what replaying a log found.
type replayResult struct {
	snap       *Snapshot
	good       int64  // bytes up to the end of the last good record
	fileSize   int64  // size of the file as found
	tornAt     int64  // offset where a torn tail starts, or -1
	tornReason string // why the tail was judged torn
}

// replay reads a whole log file and folds its records into a snapshot.
//
// A torn tail is the one way a log may legitimately end badly: each Commit
// writes one record and syncs it before acknowledging, and Full checkpoints
// are never appended (they go to a new file that is renamed in complete), so
// only the final record can be incomplete. The tail starting at offset off
// is judged torn when:
//   - fewer bytes than a frame header remain;
//   - the frame header is intact but the payload runs past the end of file;
//   - the record ends exactly at the end of file and its payload checksum
//     fails (pages of an unsynced write never reached the disk);
//   - the frame header is damaged (zero-filled or garbage) and no intact
//     record follows anywhere after it.
//
// Anything else — a damaged record followed by more data, a bad file
// header, an intact record that does not decode, a sequence that skips — is
// corruption: a *CorruptError naming the file and offset. Damage to the
// final record cannot be told from a torn write, so it is dropped too (with
// a warning from the caller); the checkpoint before it stays, with its
// Kafka offset, so the records are consumed again rather than lost.
func replay(f io.ReaderAt, size int64, path string) (replayResult, error) {
	res := replayResult{snap: newSnapshot(), tornAt: -1, fileSize: size}
	corrupt := func(off int64, format string, args ...any) (replayResult, error) {
		return res, &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	readErr := func(err error) (replayResult, error) {
		return res, fmt.Errorf("state: read %s: %w: %w", path, ErrUnavailable, err)
	}

	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	var hdr [fileHeaderLen]byte
	if size < fileHeaderLen {
		return corrupt(0, "file is %d bytes, shorter than its %d-byte header", size, fileHeaderLen)
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return readErr(err)
	}
	if err := checkFileHeader(hdr[:]); err != nil {
		return corrupt(0, "%v", err)
	}

	off := int64(fileHeaderLen)
	res.good = off
	torn := func(reason string) (replayResult, error) {
		res.tornAt, res.tornReason = off, reason
		return res, nil
	}
	var (
		cp    Checkpoint
		frame [frameHeaderLen]byte
		first = true
	)
	for off < size {
		rem := size - off
		if rem < frameHeaderLen {
			return torn("partial frame header")
		}
		if _, err := io.ReadFull(r, frame[:]); err != nil {
			return readErr(err)
		}
		fh, ok := parseFrameHeader(frame[:])
		if !ok {
			found, err := intactRecordAfter(f, off+1, size)
			if err != nil {
				return readErr(err)
			}
			if found {
				return corrupt(off, "damaged frame header followed by intact records")
			}
			return torn("damaged frame header with nothing intact after it")
		}
		end := off + frameHeaderLen + int64(fh.length)
		if end > size {
			return torn("record runs past the end of file")
		}
		// A fresh buffer per record: the snapshot keeps slices of it.
		payload := make([]byte, fh.length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return readErr(err)
		}
		if !fh.payloadOK(payload) {
			if end == size {
				return torn("checksum mismatch in the final record")
			}
			return corrupt(off, "payload checksum mismatch")
		}
		if err := decodePayload(payload, &cp); err != nil {
			return corrupt(off, "%v", err)
		}
		switch {
		case cp.Seq == 0:
			return corrupt(off, "record has seq 0")
		case !first && cp.Seq != res.snap.Seq+1:
			return corrupt(off, "seq %d follows seq %d", cp.Seq, res.snap.Seq)
		}
		first = false
		res.snap.apply(&cp)
		off = end
		res.good = off
	}
	return res, nil
}

// intactRecordAfter reports whether any intact record (valid frame header
// and payload checksum) starts in [from, size). It is the error path only.
// A remainder larger than one record can be is reported as found: it cannot
// be a single torn write.
func intactRecordAfter(f io.ReaderAt, from, size int64) (bool, error) {
	n := size - from
	if n < frameHeaderLen+minPayloadLen {
		return false, nil
	}
	if n > frameHeaderLen+maxRecordPayload {
		return true, nil
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, from); err != nil && err != io.EOF {
		return false, err
	}
	for i := 0; i+frameHeaderLen <= len(buf); i++ {
		fh, ok := parseFrameHeader(buf[i:])
		if !ok {
			continue
		}
		end := i + frameHeaderLen + int(fh.length)
		if end <= len(buf) && fh.payloadOK(buf[i+frameHeaderLen:end]) {
			return true, nil
		}
	}
	return false, nil
}
