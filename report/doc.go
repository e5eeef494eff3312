// Package report reads a settled day folder (the files settle, run and
// clear write) and presents it for people: the day at a glance as text
// for a terminal, and one self-contained HTML page with charts for those
// who would rather look than read.
//
// It reads the day with package settlement's readers, checks every file
// it reads against the manifest's size and SHA-256, and holds what it
// shows to the summary: the status counts must add up to the records and,
// where the day has a ledger, equal the ledger's own counts; the net
// positions must sum to zero. A report is not a verification (tapsettle
// verify checks far more); it refuses to show figures that do not
// reconcile.
//
// Money stays integer fen throughout and is printed as CNY with two
// decimals by integer arithmetic (transit.Fen). Only the charts convert
// amounts to floating point, at the very edge, to place bars.
package report
