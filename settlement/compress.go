package settlement

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/internal/durable"
)

// Every data file is zstd. The output must be byte-identical from run to
// run, so the encoder settings are fixed here and nowhere else: one level,
// one goroutine per encoder (the block split of a concurrent encoder is
// deterministic too, but one goroutine removes the question), frame
// checksums on (a second line of defence under the manifest's SHA-256).
// Changing any of them changes every file's bytes and must bump the
// manifest version.
var encoderOptions = []zstd.EOption{
	zstd.WithEncoderLevel(zstd.SpeedDefault),
	zstd.WithEncoderConcurrency(1),
	zstd.WithEncoderCRC(true),
	zstd.WithZeroFrames(true),
}

// encoders reuses encoders across files: building one allocates its
// match tables. Get/Put pairs live in compress only.
var encoders = sync.Pool{New: newEncoder}

// bufPool hands out byte buffers and takes them back. A day's files are
// written a few at a time (WriteOptions.concurrency), so a handful of
// buffers serve all of them, where a buffer per file would map fresh
// memory for each: 250 MB for the 3 MB of a 2,000,000-tap day's 341
// clearing files, mostly a block of text and a spool each. A pool with a
// size holds buffers of that capacity; one without (size 0) holds
// buffers of any, kept at what they grew to.
type bufPool struct {
	size int
	pool sync.Pool // of *[]byte
}

// get returns an empty buffer: of capacity p.size, or, in a pool without
// a size, one given back (nil when there is none).
func (p *bufPool) get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	if p.size == 0 {
		return nil
	}
	return make([]byte, 0, p.size)
}

// put takes b back for a later get; in a pool with a size, a buffer that
// grew past it (or is not the pool's) is left to the garbage collector.
func (p *bufPool) put(b []byte) {
	if cap(b) == 0 || (p.size != 0 && cap(b) != p.size) {
		return
	}
	b = b[:0]
	p.pool.Put(&b)
}

// newEncoder builds an encoder with encoderOptions, for the pools.
func newEncoder() any {
	e, err := zstd.NewWriter(nil, encoderOptions...)
	if err != nil {
		panic(fmt.Sprintf("settlement: zstd encoder options: %v", err)) // fixed options: cannot fail
	}
	return e
}

// compress appends src as one zstd frame to dst.
func compress(dst, src []byte) []byte {
	e := encoders.Get().(*zstd.Encoder)
	dst = e.EncodeAll(src, dst)
	encoders.Put(e)
	return dst
}

// maxDecoderWindow bounds the window a stream may ask the decoder for. Our
// encoder's windows are at most 8 MiB; a larger request is damage or an
// attack on memory.
const maxDecoderWindow = 64 << 20

// newDecoder returns a streaming decoder over r that checks frame
// checksums. The caller must Close it.
func newDecoder(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
		zstd.WithDecoderMaxMemory(maxDecoderWindow),
	)
}

// blockSize is the encoder's block: compress encodes a text of at most
// this many bytes as one block without history, a longer one as blocks of
// this size with history, the last one marked.
const blockSize = 128 << 10

// A frameWriter writes the bytes that compress(nil, text) makes of the
// whole text written to it, without holding the text: a clearing file of
// tens of millions of records is written as its records come. It holds at
// most one block of text and an encoder's window; the compressed blocks
// wait in a spool (memory, then a temporary file) for the frame header,
// which states the text's length and so is written last, at Close.
//
// compress is one frame made by EncodeAll. A text that fits in one block
// is given to compress as it is. A longer one goes through the streaming
// encoder, whose blocks are EncodeAll's (the same encoder, history and
// block split, concurrency 1): frameWriter hands it a full block only
// when more text follows, and the last block through ReadFrom, so that
// the last block is marked last even when it is full; it drops the
// streaming encoder's frame header (it does not know the length) and
// writes EncodeAll's in its place. TestFrameWriter holds the two equal
// at the sizes where their framing could part.
type frameWriter struct {
	w     io.Writer
	text  []byte // at most blockSize bytes not yet given to enc
	enc   *zstd.Encoder
	out   *frameSpool // enc's output, less its frame header
	n     int64       // text bytes written
	dir   string      // where the spool's temporary file goes
	limit int         // spool bytes held in memory before a file is used
}

// spoolMemory is how much compressed output a frameWriter holds in memory
// before it moves to a temporary file: a clearing file compresses about
// tenfold, so the text of some 10 MiB (50,000 records) stays in memory.
const spoolMemory = 1 << 20

// textBufs and spoolBufs hold frameWriters' blocks of text and spools.
var (
	textBufs  = bufPool{size: blockSize}
	spoolBufs = bufPool{size: spoolMemory}
)

// newFrameWriter returns a frameWriter that writes to w at Close; a
// spool file, if one is needed, is made in dir with durable.TempPrefix,
// so that WriteDay removes one a crash left behind.
func newFrameWriter(w io.Writer, dir string) *frameWriter {
	return &frameWriter{w: w, dir: dir, limit: spoolMemory}
}

// streamEncoders reuses the streaming encoders, as encoders does
// EncodeAll's: a pool of its own, so that an encoder holds the buffers
// of one use, not of both.
var streamEncoders = sync.Pool{New: newEncoder}

// Write buffers p, compressing each block once text beyond it arrives.
func (f *frameWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(f.text) == blockSize {
			if err := f.flush(); err != nil {
				return n - len(p), err
			}
		}
		k := min(len(p), blockSize-len(f.text))
		if f.text == nil {
			f.text = textBufs.get()
		}
		f.text = append(f.text, p[:k]...)
		p = p[k:]
		f.n += int64(k)
	}
	return n, nil
}

// flush gives the encoder a full block, which it compresses at once and
// writes to the spool, unmarked: more text follows.
func (f *frameWriter) flush() error {
	if f.enc == nil {
		f.out = &frameSpool{dir: f.dir, limit: f.limit, skip: -1}
		f.enc = streamEncoders.Get().(*zstd.Encoder)
		f.enc.Reset(f.out)
	}
	if _, err := f.enc.Write(f.text); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	f.text = f.text[:0]
	return nil
}

// Close compresses the rest and writes the frame to w. It releases what
// the writer holds, whether or not it succeeds; call it once.
func (f *frameWriter) Close() error {
	if f.enc == nil {
		_, err := f.w.Write(compress(nil, f.text))
		textBufs.put(f.text)
		f.text = nil
		return err
	}
	defer f.release()
	// ReadFrom keeps a last full block for Close to mark, where Write
	// would compress it unmarked at once.
	if _, err := f.enc.ReadFrom(&finalReader{b: f.text}); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	if err := f.enc.Close(); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	if f.out.skip != 0 {
		return fmt.Errorf("compress: the streaming encoder wrote no frame header")
	}
	var hdr [maxFrameHeader]byte
	if _, err := f.w.Write(appendFrameHeader(hdr[:0], f.n)); err != nil {
		return err
	}
	return f.out.writeTo(f.w)
}

// discard releases what the writer holds without writing the frame.
func (f *frameWriter) discard() {
	if f.enc != nil {
		f.release()
	}
	textBufs.put(f.text)
	f.text = nil
}

// release returns the encoder and removes the spool.
func (f *frameWriter) release() {
	f.enc.Reset(nil)
	streamEncoders.Put(f.enc)
	f.enc = nil
	f.out.close()
	textBufs.put(f.text)
	f.text = nil
}

// finalReader returns b and io.EOF from the one Read, so that
// Encoder.ReadFrom keeps it as the last block.
type finalReader struct{ b []byte }

func (r *finalReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	if len(r.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// maxFrameHeader is the longest zstd frame header without a dictionary:
// magic, descriptor, window and an 8-byte content size.
const maxFrameHeader = 4 + 1 + 1 + 8

// appendFrameHeader appends the frame header that EncodeAll writes for a
// text of n bytes (n > blockSize) with encoderOptions (RFC 8878, 3.1.1.1):
// a single segment, without window descriptor, when the text fits the
// 8 MiB window, and the content size in the fewest bytes that hold it.
func appendFrameHeader(b []byte, n int64) []byte {
	const window = 8 << 20 // SpeedDefault's
	single := n <= window
	b = append(b, 0x28, 0xb5, 0x2f, 0xfd)
	fhd := byte(1 << 2) // a checksum
	if single {
		fhd |= 1 << 5
	}
	var fcs byte
	switch {
	case n >= 0xffffffff:
		fcs = 3
	case n >= 65536+256:
		fcs = 2
	case n >= 256:
		fcs = 1
	}
	b = append(b, fhd|fcs<<6)
	if !single {
		b = append(b, byte((bits.Len32(window-1)-10)<<3))
	}
	switch fcs {
	case 0:
		b = append(b, byte(n))
	case 1:
		b = binary.LittleEndian.AppendUint16(b, uint16(n-256))
	case 2:
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	case 3:
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// frameSpool keeps a streaming encoder's output less its frame header:
// limit bytes in memory, then in a temporary file in dir.
type frameSpool struct {
	dir   string
	limit int
	skip  int // header bytes still to drop; -1 until the header's first bytes are seen
	head  []byte
	buf   []byte
	file  *os.File
}

// Write drops the frame header, then keeps what follows.
func (s *frameSpool) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip != 0 {
		var err error
		if p, err = s.dropHeader(p); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return n, nil
	}
	if s.file == nil && len(s.buf)+len(p) > s.limit {
		f, err := os.CreateTemp(s.dir, durable.TempPrefix+"spool-*")
		if err != nil {
			return 0, fmt.Errorf("compress: spool: %w", err)
		}
		s.file = f
		// The temporary file is removed at once; the open file stays
		// readable, and nothing is left behind by a crash.
		os.Remove(f.Name())
		if _, err := f.Write(s.buf); err != nil {
			return 0, fmt.Errorf("compress: spool: %w", err)
		}
		spoolBufs.put(s.buf)
		s.buf = nil
	}
	if s.file != nil {
		if _, err := s.file.Write(p); err != nil {
			return 0, fmt.Errorf("compress: spool: %w", err)
		}
		return n, nil
	}
	if s.buf == nil {
		s.buf = spoolBufs.get()
	}
	s.buf = append(s.buf, p...)
	return n, nil
}

// dropHeader removes the frame header from the start of the output,
// however the encoder's writes split it, and returns the rest of p.
func (s *frameSpool) dropHeader(p []byte) ([]byte, error) {
	if s.skip < 0 {
		k := min(len(p), 5-len(s.head))
		s.head = append(s.head, p[:k]...)
		p = p[k:]
		if len(s.head) < 5 {
			return p, nil
		}
		if binary.LittleEndian.Uint32(s.head) != 0xfd2fb528 {
			return nil, fmt.Errorf("compress: the streaming encoder wrote no frame header")
		}
		fhd := s.head[4]
		s.skip = [4]int{0, 1, 2, 4}[fhd&3] // dictionary id
		if fhd&(1<<5) == 0 {
			s.skip++ // window descriptor
		}
		switch fcs := fhd >> 6; {
		case fcs > 0:
			s.skip += 1 << fcs
		case fhd&(1<<5) != 0:
			s.skip++
		}
	}
	k := min(len(p), s.skip)
	s.skip -= k
	return p[k:], nil
}

// writeTo copies what the spool holds to w.
func (s *frameSpool) writeTo(w io.Writer) error {
	if s.file == nil {
		_, err := w.Write(s.buf)
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("compress: spool: %w", err)
	}
	buf := make([]byte, 256<<10)
	_, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{s.file}, buf)
	return err
}

// close removes the spool's file (already unlinked where the system
// allows it).
func (s *frameSpool) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
		s.file = nil
	}
	spoolBufs.put(s.buf)
	s.buf = nil
}
