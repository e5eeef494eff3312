package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/transit"
)

// Buffer sizes. Lines are sliced straight out of the line buffer, never
// copied, so it must hold the longest line accepted; 1 MiB also makes each
// read system call (or decompressed block) feed thousands of records. The
// raw buffer only needs to show the magic bytes and smooth small reads
// into the decompressor.
const (
	lineBufferSize = 1 << 20
	rawBufferSize  = 64 << 10
)

// maxZstdWindow bounds the window a zstd input may ask the decoder for,
// which it allocates whole: 128 MiB, the reference zstd tool's own limit
// without --memory (so a file it decompresses by default, --long=27
// included, is read here). tapsettle's writers use 8 MiB; a larger request
// is a file to recompress, or an attack on memory.
const maxZstdWindow = 1 << 27

// utf8BOM is the byte order mark some tools put at the start of a UTF-8
// file; it is skipped.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("ingest: reader closed")

// Reader decodes taps from a CSV or JSON-lines stream, plain or compressed
// with zstd or gzip. Malformed records never stop it: each is counted and
// handed to Options.OnReject, and reading goes on with the next line.
//
// In steady state Read allocates nothing: lines are sliced out of a reused
// buffer and decoded straight into the caller's taps. A Reader belongs to
// one goroutine.
type Reader struct {
	name string
	opts Options
	file *os.File // opened by Open; closed by Close

	src *bufio.Reader // raw bytes: magic detection, decompressor input
	zr  *zstd.Decoder // kept across Reset: it owns goroutines and buffers
	gr  *gzip.Reader
	br  *bufio.Reader // uncompressed bytes, split into lines

	format Format
	comp   Compression
	csv    csvDecoder
	json   jsonDecoder
	stats  Stats
	// longRaw keeps the head of a line too long for the line buffer, for
	// its reject's Raw.
	longRaw []byte
	// err is sticky: io.EOF at the end of input, or the wrapped error
	// that stopped reading.
	err error
	// headerless leaves a CSV header to the owner: a CorrectionReader
	// uses a Reader only as its source of lines, and parses its own
	// header with headerLine.
	headerless bool
}

// Open opens the file at path ("-" for standard input) and returns a
// Reader over it. Compression is detected from magic bytes (zstd
// 28 B5 2F FD, gzip 1F 8B), never from the name; the format is detected
// from the content unless opts.Format forces it. Close closes the file.
func Open(path string, opts Options) (*Reader, error) {
	if path == "-" {
		return NewReader("-", os.Stdin, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	r, err := NewReader(path, f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewReader returns a Reader over src; name identifies src in rejects and
// errors. It reads the start of src to detect compression and format and,
// for CSV, the header row, so a missing required column is reported here as
// a *HeaderError. An empty input (or one of blank lines only) is not an
// error: it holds zero records. The caller keeps ownership of src.
func NewReader(name string, src io.Reader, opts Options) (*Reader, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	r := &Reader{opts: opts}
	if err := r.Reset(name, src); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Reset makes r read src as if it were new, keeping its buffers and
// decompressors so that reading many files allocates nothing per file. It
// closes a file that Open opened, and resets Stats.
func (r *Reader) Reset(name string, src io.Reader) error {
	if r.zr != nil && r.comp == CompressionZstd {
		// The zstd decoder reads ahead in goroutines of its own, from
		// r.src: stop the previous stream and wait for them before its
		// file is closed and r.src is reset to the new input (a file not
		// read to its end left them running; the race detector caught one
		// reading the reset buffer). Close stops them first too.
		_ = r.zr.Reset(nil)
	}
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
	r.name, r.stats, r.err = name, Stats{}, nil
	r.format, r.comp = r.opts.Format, CompressionNone
	if err := r.open(src); err != nil {
		r.err = err
		return err
	}
	return nil
}

func (r *Reader) open(src io.Reader) error {
	if r.src == nil {
		r.src = bufio.NewReaderSize(src, rawBufferSize)
	} else {
		r.src.Reset(src)
	}
	head, err := r.src.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		return r.wrap(err)
	}
	err = nil // a stream shorter than the magic is fine
	r.comp = sniffCompression(head)
	var in io.Reader = r.src
	switch r.comp {
	case CompressionZstd:
		if r.zr == nil {
			// Lowmem off: buffers are kept for the next block and file.
			// Concurrency stays at the package default (GOMAXPROCS, at
			// most 4), so the next blocks are decompressed while this
			// one is parsed; the window is one history buffer, shared.
			r.zr, err = zstd.NewReader(r.src, zstd.WithDecoderLowmem(false),
				zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxZstdWindow))
		} else {
			err = r.zr.Reset(r.src)
		}
		in = r.zr
	case CompressionGzip:
		if r.gr == nil {
			r.gr, err = gzip.NewReader(r.src)
		} else {
			err = r.gr.Reset(r.src)
		}
		in = r.gr
	}
	if err != nil {
		return r.wrap(err)
	}
	if r.br == nil {
		r.br = bufio.NewReaderSize(in, max(lineBufferSize, r.opts.MaxLine+2))
	} else {
		r.br.Reset(in)
	}
	if err := r.sniffFormat(); err != nil {
		return err
	}
	if r.format == FormatCSV && !r.headerless {
		return r.readHeader()
	}
	return nil
}

// sniffFormat skips a byte order mark and, unless the format is forced,
// detects it from the first byte that is not blank. It peeks one byte at a
// time so that a slow stream (standard input) is never waited on for more
// than it has to give.
func (r *Reader) sniffFormat() error {
	if b, _ := r.br.Peek(len(utf8BOM)); string(b) == string(utf8BOM) {
		r.br.Discard(len(utf8BOM))
		r.stats.Bytes += int64(len(utf8BOM))
	}
	if r.format != FormatAuto {
		return nil
	}
	r.format = FormatCSV // also for an empty input, which then has no header
	for i := 0; i < r.br.Size(); i++ {
		b, err := r.br.Peek(i + 1)
		if len(b) <= i {
			if err != nil && err != io.EOF {
				return r.wrap(err)
			}
			return nil
		}
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			r.format = FormatJSONL
		}
		return nil
	}
	return nil
}

// readHeader reads and parses the tap CSV header.
func (r *Reader) readHeader() error {
	line, err := r.headerLine()
	if err != nil || line == nil {
		return err
	}
	return r.csv.parseHeader(r.name, r.stats.Lines, line)
}

// headerLine returns the CSV header: the first line that is not blank, its
// number in r.stats.Lines. It returns nil and no error for an input without
// one (empty, or blank lines only), which holds zero records.
func (r *Reader) headerLine() ([]byte, error) {
	for {
		line, size, long, ok := r.readLine()
		if !ok {
			if r.err == io.EOF {
				return nil, nil
			}
			return nil, r.err
		}
		if long {
			return nil, &HeaderError{Source: r.name, Line: r.stats.Lines, Err: ErrHeaderSyntax,
				Detail: fmt.Sprintf("line too long: %d bytes, at most %d", size, r.opts.MaxLine)}
		}
		if !isBlank(line) {
			return line, nil
		}
	}
}

// Read decodes up to len(dst) taps into dst and returns how many it
// decoded. Like io.Reader, it returns n > 0 with a nil error while taps
// remain, then 0 and io.EOF. An I/O error, or a compressed stream that
// breaks off, is returned (wrapped, naming the file) once the taps decoded
// before it have been returned; a partial last line before such an error
// is dropped, not decoded.
//
// Malformed records are not errors: each is counted in Stats.Rejected and
// passed to Options.OnReject before Read returns. Entries of dst beyond n
// may have been written to.
func (r *Reader) Read(dst []transit.Tap) (int, error) {
	// The record and fault live on the stack: stores of the slices they
	// hold need no write barriers there, unlike in the heap-allocated
	// Reader, and they only matter until the next line.
	var rec record
	var ft fault
	n := 0
	for n < len(dst) {
		line, size, long, ok := r.readLine()
		if !ok {
			break
		}
		if long {
			r.stats.Records++
			ft = fault{code: faultLineTooLong, field: noField, size: size, limit: r.opts.MaxLine}
			r.reject(line, nil, &ft)
			continue
		}
		if isBlank(line) {
			continue
		}
		r.stats.Records++
		t := &dst[n]
		var good bool
		if r.format == FormatJSONL {
			good = r.json.decodeTap(line, &rec, t, &ft)
		} else {
			good = r.csv.decode(line, &rec, &ft) && rec.fill(t, &ft)
		}
		if good {
			n++
			r.stats.Taps++
			continue
		}
		r.reject(line, &rec, &ft)
	}
	if n > 0 || len(dst) == 0 {
		return n, nil
	}
	return 0, r.err
}

// readLine returns the next physical line without its terminator, and its
// length. A line longer than MaxLine comes back with long set and only its
// first bytes (enough for a reject's Raw). ok is false at the end of input
// or on an error, which is then in r.err.
func (r *Reader) readLine() (line []byte, size int64, long, ok bool) {
	if r.err != nil {
		return nil, 0, false, false
	}
	line, err := r.br.ReadSlice('\n')
	r.stats.Bytes += int64(len(line))
	if err == bufio.ErrBufferFull {
		return r.skipLongLine(line)
	}
	if err != nil {
		if err != io.EOF {
			r.err = r.wrap(err)
			return nil, 0, false, false
		}
		r.err = io.EOF
		if len(line) == 0 {
			return nil, 0, false, false
		}
	}
	r.stats.Lines++
	line = trimEOL(line)
	return line, int64(len(line)), len(line) > r.opts.MaxLine, true
}

// skipLongLine discards the rest of a line that overflowed the line
// buffer, keeping its head in r.longRaw.
func (r *Reader) skipLongLine(head []byte) ([]byte, int64, bool, bool) {
	r.longRaw = append(r.longRaw[:0], head[:min(len(head), transit.MaxRejectRaw)]...)
	size := int64(len(head))
	var chunk []byte
	err := bufio.ErrBufferFull
	for err == bufio.ErrBufferFull {
		chunk, err = r.br.ReadSlice('\n')
		size += int64(len(chunk))
		r.stats.Bytes += int64(len(chunk))
	}
	if err != nil {
		if err != io.EOF {
			r.err = r.wrap(err)
			return nil, 0, false, false
		}
		r.err = io.EOF
	}
	r.stats.Lines++
	size -= int64(len(chunk) - len(trimEOL(chunk)))
	return r.longRaw, size, true, true
}

// reject counts a record that failed with ft and reports it. rec, when
// not nil, holds the record's values, for its time.
func (r *Reader) reject(line []byte, rec *record, ft *fault) {
	r.stats.Rejected++
	if r.opts.OnReject == nil {
		return
	}
	rj := transit.Reject{
		Source: r.name,
		Line:   r.stats.Lines,
		Field:  ft.field.name(),
		Reason: ft.reason(),
		Raw:    string(line[:min(len(line), transit.MaxRejectRaw)]),
	}
	if rec != nil && ft.field != fTime {
		rj.Time, rj.HasTime = rec.time()
	}
	r.opts.OnReject(rj)
}

func (r *Reader) wrap(err error) error {
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return fmt.Errorf("ingest: read %s: its zstd window is larger than the %d MiB accepted (compressed with --long=28 or more?); recompress it with zstd --long=27 or less: %w", r.name, maxZstdWindow>>20, err)
	}
	return fmt.Errorf("ingest: read %s: %w", r.name, err)
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Name returns the name the Reader reports in rejects and errors.
func (r *Reader) Name() string { return r.name }

// Format returns the record format read (detected or forced).
func (r *Reader) Format() Format { return r.format }

// Compression returns the compression detected from the magic bytes.
func (r *Reader) Compression() Compression { return r.comp }

// Close releases the decompressors and closes the file that Open opened.
// It does not close a reader passed to NewReader or Reset.
func (r *Reader) Close() error {
	if r.zr != nil {
		r.zr.Close() // stops its goroutines
		r.zr = nil
	}
	if r.gr != nil {
		r.gr.Close()
		r.gr = nil
	}
	r.err = ErrClosed
	if r.file != nil {
		err := r.file.Close()
		r.file = nil
		if err != nil {
			return fmt.Errorf("ingest: close %s: %w", r.name, err)
		}
	}
	return nil
}

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// isBlank reports whether a line holds only spaces, tabs and carriage
// returns. Blank lines are skipped and are not records.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
