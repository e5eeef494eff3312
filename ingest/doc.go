// Package ingest decodes tap files into transit.Tap values and encodes
// them back: the first stage of the tapsettle pipeline.
//
// A tap file is CSV with a header row or JSON lines (one flat object per
// line), plain or compressed with zstd or gzip. Compression is recognised
// by its magic bytes and the format by the first byte that is not blank,
// so a file's name never decides how it is read. The schema, the limits
// and the reject rules are documented in docs/tap-format.md; tap.schema.json
// beside this file is the JSON Schema of one JSON-lines record.
//
// # Rejects, not errors
//
// A malformed record never stops a Reader. It is counted, handed to
// Options.OnReject as a transit.Reject naming the file, the 1-based
// physical line, the schema field and a reason for people, and reading
// continues with the next line. Every record ends as exactly one tap or
// one reject, so Stats.Records == Stats.Taps + Stats.Rejected, which the
// settlement stage reconciles against. Errors are kept for what stops
// reading altogether: a file that cannot be opened, a CSV header without a
// required column, an I/O error, a compressed stream that breaks off.
//
// # Performance
//
// Read does not allocate in steady state. Lines are sliced out of a
// reused 1 MiB buffer, CSV fields and JSON strings without escapes alias
// that buffer, and values are validated and copied straight into the
// caller's transit.Tap, whose identifiers are fixed-size arrays. Times are
// parsed by a hand-written RFC 3339 parser. The reason text of a reject is
// only built when there is a reject.
//
// # Corrections
//
// CorrectionReader and DecodeCorrectionJSON read operators' corrections
// (transit.Correction, with the reason given, as CorrectionRecord) from
// files of the same containers and with the same reject rules; their
// schema is strict, a column or key outside it being an error. See
// docs/corrections-format.md.
//
// # Writing
//
// Writer, AppendCSV and AppendJSON encode taps in the same schema; the
// synthetic generator and stream producers use them. Writer validates
// each tap so that whatever it writes reads back as the identical Tap, a
// property the fuzz tests check in both directions.
package ingest
