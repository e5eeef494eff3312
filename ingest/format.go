package ingest

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is the record format of a tap file.
type Format uint8

// Formats. The zero value asks the reader to detect the format from the
// content, and the file writer to choose it from the file name.
const (
	FormatAuto  Format = iota
	FormatCSV          // RFC 4180 CSV with a header row
	FormatJSONL        // one flat JSON object per line
)

var formatNames = [...]string{FormatAuto: "auto", FormatCSV: "csv", FormatJSONL: "jsonl"}

// String returns "auto", "csv" or "jsonl".
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ParseFormat parses a format name as written in configuration and flags:
// "auto", "csv", or "jsonl" (also "ndjson" and "json").
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return FormatAuto, nil
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson", "json":
		return FormatJSONL, nil
	}
	return 0, fmt.Errorf("ingest: unknown format %q: want auto, csv or jsonl", s)
}

// Compression is the compression of a tap file.
type Compression uint8

// Compressions. Readers always detect compression from the stream's magic
// bytes; the constants choose what writers produce. The zero value asks the
// file writer to choose from the file name's extension.
const (
	CompressionAuto Compression = iota
	CompressionNone
	CompressionZstd
	CompressionGzip
)

var compressionNames = [...]string{CompressionAuto: "auto", CompressionNone: "none", CompressionZstd: "zstd", CompressionGzip: "gzip"}

// String returns "auto", "none", "zstd" or "gzip".
func (c Compression) String() string {
	if int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// ParseCompression parses "auto", "none", "zstd" (or "zst") or "gzip" (or
// "gz").
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return CompressionAuto, nil
	case "none":
		return CompressionNone, nil
	case "zstd", "zst":
		return CompressionZstd, nil
	case "gzip", "gz":
		return CompressionGzip, nil
	}
	return 0, fmt.Errorf("ingest: unknown compression %q: want auto, none, zstd or gzip", s)
}

// CompressionFromPath returns the compression that path's extension names:
// ".zst" or ".zstd" for zstd, ".gz" for gzip, none otherwise. It is for
// writers only; readers trust the magic bytes, not the name.
func CompressionFromPath(path string) Compression {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".zst", ".zstd":
		return CompressionZstd
	case ".gz":
		return CompressionGzip
	}
	return CompressionNone
}

// FormatFromPath returns the format that path's extension names, looking
// through a compression extension: "taps.jsonl.zst" is JSON lines. Names
// ending in ".jsonl", ".ndjson" or ".json" are JSON lines; anything else is
// CSV.
func FormatFromPath(path string) Format {
	switch recordExt(path) {
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL
	}
	return FormatCSV
}

// recordExt is the extension of path that names its record format, in
// lower case: the one before .zst or .gz when it is compressed.
func recordExt(path string) string {
	if CompressionFromPath(path) != CompressionNone {
		path = strings.TrimSuffix(path, filepath.Ext(path))
	}
	return strings.ToLower(filepath.Ext(path))
}

// KnownRecordExt reports whether path's name says its record format:
// .csv, .jsonl, .ndjson or .json, before an optional .zst or .gz.
// FormatFromPath takes any other name for CSV, which a writer should not
// assume silently.
func KnownRecordExt(path string) bool {
	switch recordExt(path) {
	case ".csv", ".jsonl", ".ndjson", ".json":
		return true
	}
	return false
}

// Magic numbers of the compressed formats (RFC 8878 section 3.1.1, RFC
// 1952 section 2.3.1).
var (
	zstdMagic = [4]byte{0x28, 0xB5, 0x2F, 0xFD}
	gzipMagic = [2]byte{0x1F, 0x8B}
)

// sniffCompression names the compression whose magic bytes start head.
func sniffCompression(head []byte) Compression {
	if len(head) >= 4 && [4]byte(head[:4]) == zstdMagic {
		return CompressionZstd
	}
	if len(head) >= 2 && [2]byte(head[:2]) == gzipMagic {
		return CompressionGzip
	}
	return CompressionNone
}
