package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/transit"
)

// NewCompressor returns a writer that compresses into w with c
// (CompressionAuto and CompressionNone write through unchanged). Closing it
// ends the compressed stream; it does not close w.
func NewCompressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case CompressionAuto, CompressionNone:
		return nopCloser{w}, nil
	case CompressionZstd:
		// The default level: a good ratio on repetitive tap records at
		// a speed well ahead of record encoding.
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("ingest: zstd writer: %w", err)
		}
		return zw, nil
	case CompressionGzip:
		return gzip.NewWriter(w), nil
	}
	return nil, fmt.Errorf("ingest: unknown compression %d", c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// FileWriter writes taps to a file through a Writer and an optional
// compressor. Close must be called: it flushes both and closes the file.
type FileWriter struct {
	*Writer
	path string
	comp io.WriteCloser
	file *os.File // nil for standard output
}

// Create creates (or truncates) the file at path, "-" meaning standard
// output, and returns a FileWriter of format f compressed with c. With
// FormatAuto the format comes from the name (FormatFromPath), with
// CompressionAuto the compression (CompressionFromPath: ".zst", ".gz").
// The file is written in place, not atomically.
func Create(path string, f Format, c Compression) (*FileWriter, error) {
	if f == FormatAuto {
		f = FormatFromPath(path)
	}
	if c == CompressionAuto {
		c = CompressionFromPath(path)
	}
	var out io.Writer = os.Stdout
	var file *os.File
	if path != "-" {
		var err error
		if file, err = os.Create(path); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		out = file
	}
	comp, err := NewCompressor(out, c)
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, err
	}
	return &FileWriter{Writer: NewWriter(comp, f), path: path, comp: comp, file: file}, nil
}

// Write validates t and writes it; see Writer.Write.
func (fw *FileWriter) Write(t *transit.Tap) error { return fw.Writer.Write(t) }

// Close flushes the records, ends the compressed stream and closes the
// file, returning the first error.
func (fw *FileWriter) Close() error {
	err := fw.Writer.Flush()
	if cerr := fw.comp.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("ingest: close compressor of %s: %w", fw.path, cerr))
	}
	if fw.file != nil {
		if cerr := fw.file.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("ingest: %w", cerr))
		}
	}
	return err
}
