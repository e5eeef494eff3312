package spill

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/s2"

	"github.com/tapsettle/tapsettle/internal/durable"
)

// blockSize is the S2 block size of run files: a reader holds about two
// blocks, so a merge of many runs stays small (64 runs: ~10 MiB), and
// blocks of 64 KiB still compress well.
const blockSize = 64 << 10

// MaxRecord bounds one record. A section that claims a longer one is
// damaged, and its reader says so rather than allocate it.
const MaxRecord = 16 << 20

// ErrCorrupt is wrapped by the errors of a section that does not read back
// as it was written.
var ErrCorrupt = errors.New("spill: damaged run file")

// Section locates a sequence of records in a run file.
type Section struct {
	// Path is the run file's path.
	Path string
	// Off and Len are the section's bytes in the file.
	Off, Len int64
	// Records is the number of records in the section.
	Records int64
}

// File writes sections to a new run file in a Dir. A File belongs to one
// goroutine.
type File struct {
	f     *os.File
	w     durable.CountWriter
	zw    *s2.Writer
	start int64  // offset of the open section
	n     int64  // records in the open section; -1 when no section is open
	buf   []byte // records not yet handed to zw
}

// Create creates a new run file in d.
func (d *Dir) Create() (*File, error) {
	f, err := os.CreateTemp(d.path, "run-*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	sf := &File{f: f, n: -1}
	sf.w.W = f
	return sf, nil
}

// Name returns the file's path.
func (f *File) Name() string { return f.f.Name() }

// Append appends rec to the open section, opening one if none is.
func (f *File) Append(rec []byte) error {
	if len(rec) > MaxRecord {
		return fmt.Errorf("spill: a record of %d bytes, at most %d", len(rec), MaxRecord)
	}
	f.begin()
	// The length is stored plus one: zero ends the section.
	f.buf = binary.AppendUvarint(f.buf, uint64(len(rec))+1)
	f.buf = append(f.buf, rec...)
	f.n++
	if len(f.buf) >= blockSize {
		return f.flush()
	}
	return nil
}

// flush hands the records gathered to the compressor: one call per block
// rather than two per record (each call takes the S2 writer's lock).
func (f *File) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	_, err := f.zw.Write(f.buf)
	f.buf = f.buf[:0]
	if err != nil {
		return fmt.Errorf("spill: write %s: %w", f.f.Name(), err)
	}
	return nil
}

// begin opens a section unless one is open: a new S2 stream from here.
func (f *File) begin() {
	if f.n >= 0 {
		return
	}
	f.start, f.n = f.w.N, 0
	if f.zw == nil {
		f.zw = s2.NewWriter(&f.w, s2.WriterBlockSize(blockSize), s2.WriterConcurrency(1))
	} else {
		f.zw.Reset(&f.w)
	}
}

// EndSection closes the open section (an empty one if none is open) and
// returns where it lies.
func (f *File) EndSection() (Section, error) {
	f.begin()
	f.buf = binary.AppendUvarint(f.buf, 0)
	f.buf = binary.AppendUvarint(f.buf, uint64(f.n))
	if err := f.flush(); err != nil {
		return Section{}, err
	}
	if err := f.zw.Close(); err != nil {
		return Section{}, fmt.Errorf("spill: write %s: %w", f.f.Name(), err)
	}
	s := Section{Path: f.f.Name(), Off: f.start, Len: f.w.N - f.start, Records: f.n}
	f.n = -1
	return s, nil
}

// Close closes the file. Its sections stay readable until its Dir is
// closed or the file removed.
func (f *File) Close() error {
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("spill: close %s: %w", f.f.Name(), err)
	}
	return nil
}

// Reader reads the records of a section back, in the order written.
type Reader struct {
	s    Section
	f    *os.File
	zr   *s2.Reader
	rec  []byte
	seen int64
	done bool
}

// OpenSection opens s for reading. The caller must Close the reader.
func OpenSection(s Section) (*Reader, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	zr := s2.NewReader(io.NewSectionReader(f, s.Off, s.Len), s2.ReaderMaxBlockSize(blockSize))
	return &Reader{s: s, f: f, zr: zr}, nil
}

// Next returns the next record, valid until the next call, or io.EOF after
// the last one. Any other error wraps ErrCorrupt or is an I/O error.
func (r *Reader) Next() ([]byte, error) {
	if r.done {
		return nil, io.EOF
	}
	n, err := binary.ReadUvarint(r.zr)
	if err != nil {
		return nil, r.damaged("record %d: %v", r.seen+1, err)
	}
	if n == 0 {
		count, err := binary.ReadUvarint(r.zr)
		if err != nil {
			return nil, r.damaged("record count: %v", err)
		}
		if int64(count) != r.seen || count != uint64(r.s.Records) {
			return nil, r.damaged("%d records read, the section ends with %d, its index says %d", r.seen, count, r.s.Records)
		}
		if _, err := r.zr.ReadByte(); err != io.EOF {
			return nil, r.damaged("data after the end of the section")
		}
		r.done = true
		return nil, io.EOF
	}
	n--
	if n > MaxRecord {
		return nil, r.damaged("record %d claims %d bytes", r.seen+1, n)
	}
	if uint64(cap(r.rec)) < n {
		r.rec = make([]byte, n)
	}
	r.rec = r.rec[:n]
	if _, err := io.ReadFull(r.zr, r.rec); err != nil {
		return nil, r.damaged("record %d: %v", r.seen+1, err)
	}
	r.seen++
	return r.rec, nil
}

func (r *Reader) damaged(format string, args ...any) error {
	return fmt.Errorf("%w: %s at %d: %s", ErrCorrupt, r.s.Path, r.s.Off, fmt.Sprintf(format, args...))
}

// Close closes the reader's file.
func (r *Reader) Close() error { return r.f.Close() }
