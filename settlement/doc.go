// Package settlement turns the engine's priced rows into a settlement day:
// per-day aggregates (status counts, totals, bilateral interregional
// totals, multilateral net positions, discount claims), the day's output
// files, and a verifier that recomputes every checksum and control total.
//
// # Data flow
//
// The engine's shard goroutines hand batches of [transit.Priced] rows to
// [Collector.Emit]; each shard writes only its own accumulators, so the hot
// path takes no lock and allocates nothing per row. Malformed input records
// arrive through [Collector.Reject]. [Collector.Day] merges the shards'
// parts into a [Day] whose content does not depend on the shard count or on
// the order in which rows were emitted: rows are put in one total order
// (see [ComparePriced]) and every aggregate is an integer sum. [Merge]
// combines partial Days of the same settlement day.
//
// [WriteDay] writes root/<YYYY-MM-DD>/ (root/undated/ for rejects whose time
// could not be parsed):
//
//	manifest.txt                       file list, sizes, SHA-256, totals; self-hashed
//	summary.json.zst                   counts, totals, bilateral totals, net positions, discounts
//	rejects.csv.zst                    malformed input records
//	ledger.csv.zst                     every row (WriteOptions.Ledger)
//	clearing/<issuer>.clr.zst          one per issuer whose cards rode elsewhere: every
//	                                   transaction, a batch per acquirer and mode
//
// The clearing record format is specified in docs/clearing-format.md. All
// data files are zstd streams written with fixed settings, so the same day
// always produces the same bytes. [Verify] re-reads a day folder (or a root
// of day folders) and reports the first file and record that disagree as a
// [*VerifyError].
//
// # Money
//
// Amounts are integer fen. A clearing row (status charged or incomplete,
// not a paired metro entry) owes its Charged amount from the card's issuer
// to the acquirer (the city of the tap); Charged = Gross - Discount and
// Discount = ProductDiscount + TransferDiscount + CapDiscount on every row.
// Rows that settle nothing (open, duplicate, rejected, paired metro
// entries) must carry zero amounts; a row that breaks these rules makes
// [Day.Validate], and therefore [WriteDay], fail.
package settlement
