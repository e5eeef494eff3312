package main

import (
	"encoding/hex"
	"path/filepath"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/internal/buildinfo"
	"github.com/tapsettle/tapsettle/settlement"
)

// settleDoc is settle's --output json document (schema
// tapsettle.settle/1): the run's inputs and timings, each day's summary
// exactly as its summary.json.zst holds it, and the sums over the days.
type settleDoc struct {
	Schema string `json:"schema"`
	// Out is the output root (--out); each day's folder is in Days.
	Out    string        `json:"out"`
	Inputs []settleInput `json:"inputs"`
	// Records, Taps and Malformed sum the inputs (records = taps +
	// malformed).
	Records   int64 `json:"records"`
	Taps      int64 `json:"taps"`
	Malformed int64 `json:"malformed"`
	// PricedSeconds is the time until the last tap was priced,
	// ElapsedSeconds the whole run's (files written);
	// RecordsPerSecond is Records over ElapsedSeconds.
	PricedSeconds    float64 `json:"priced_seconds"`
	ElapsedSeconds   float64 `json:"elapsed_seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
	// Days are the settlement days written, in order.
	Days []settleDay `json:"days"`
	// Total sums the days (the text's "all" row).
	Total settleTotal `json:"total"`
	// Corrections counts what became of the corrections (--corrections;
	// zeros without).
	Corrections settleCorrections `json:"corrections"`
	// State is the state folder after the run; absent without --state.
	State *settleState `json:"state,omitempty"`
	// Partitioned says how a run larger than its memory budget was
	// priced (batch.PartitionReport); zeros for a run priced in memory.
	Partitioned settlePartitioned `json:"partitioned"`
}

// settlePartitioned is batch.PartitionReport: groups 0 means the run was
// priced in memory.
type settlePartitioned struct {
	Taps   int64 `json:"taps"`
	Groups int   `json:"groups"`
	Splits int   `json:"splits"`
	Bytes  int64 `json:"bytes"`
}

// settleInput is one input file.
type settleInput struct {
	Name        string `json:"name"`
	Format      string `json:"format"`
	Compression string `json:"compression"`
	Records     int64  `json:"records"`
	Taps        int64  `json:"taps"`
	Malformed   int64  `json:"malformed"`
	// Bytes counts the uncompressed bytes read.
	Bytes int64 `json:"bytes"`
}

// settleDay is one settlement day written.
type settleDay struct {
	// Dir is the day's folder.
	Dir string `json:"dir"`
	// ManifestSHA256 is the hash of the day's manifest.txt (its last
	// line), hex.
	ManifestSHA256 string `json:"manifest_sha256"`
	// Summary is the day's summary, field for field what the day's
	// summary.json.zst holds (its own schema, "tapsettle-summary/3":
	// docs/clearing-format.md).
	Summary *settlement.Summary `json:"summary"`
}

// settleTotal sums the days' summaries: the figures of the text's "all"
// row. Money is integer fen, net of adjustments as in the summaries.
type settleTotal struct {
	Days          int                       `json:"days"`
	Records       int64                     `json:"records"`
	Malformed     int64                     `json:"malformed"`
	Counts        settlement.StatusCounts   `json:"counts"`
	Totals        settlement.SummaryAmounts `json:"totals"`
	Interregional settlement.SummaryAmounts `json:"interregional"`
	Adjustments   settlement.SummaryAmounts `json:"adjustments"`
	NingboJoinIn  int64                     `json:"ningbo_joinin_product_discount_fen"`
}

// settleCorrections is batch.CorrectionsReport on the wire.
type settleCorrections struct {
	Read      int64 `json:"read"`
	Applied   int64 `json:"applied"`
	Duplicate int64 `json:"duplicate"`
	Rejected  int64 `json:"rejected"`
	Malformed int64 `json:"malformed"`
}

// settleState is what the text says of the state folder.
type settleState struct {
	Dir string `json:"dir"`
	// Closed is the last settlement day closed (YYYY-MM-DD).
	Closed string `json:"closed"`
	// Carried counts the metro journeys open at Closed's cut-off, carried
	// into the next day; Held the taps of later days waiting in the
	// state.
	Carried int64 `json:"carried"`
	Held    int64 `json:"held"`
}

// newSettleDoc returns the document of the run rep, which wrote under
// out with the fare book book and, when stateDir is set, kept its state
// there.
func newSettleDoc(rep *batch.Report, out, stateDir string, book *fares.Book) *settleDoc {
	doc := &settleDoc{
		Schema:         schemaSettle,
		Out:            out,
		Inputs:         make([]settleInput, 0, len(rep.Inputs)),
		Records:        rep.Records,
		Taps:           rep.Taps,
		Malformed:      rep.Rejected,
		PricedSeconds:  rep.Priced.Seconds(),
		ElapsedSeconds: rep.Elapsed.Seconds(),
		Days:           make([]settleDay, 0, len(rep.Days)),
		Corrections: settleCorrections{Read: rep.Corrections.Read, Applied: rep.Corrections.Applied,
			Duplicate: rep.Corrections.Duplicate, Rejected: rep.Corrections.Rejected, Malformed: rep.Corrections.Malformed},
		Partitioned: settlePartitioned{Taps: rep.Partitioned.Taps, Groups: rep.Partitioned.Groups,
			Splits: rep.Partitioned.Splits, Bytes: rep.Partitioned.Bytes},
	}
	if rep.Elapsed > 0 {
		doc.RecordsPerSecond = float64(rep.Records) / rep.Elapsed.Seconds()
	}
	for _, in := range rep.Inputs {
		doc.Inputs = append(doc.Inputs, settleInput{Name: in.Name, Format: in.Format.String(), Compression: in.Compression.String(),
			Records: in.Stats.Records, Taps: in.Stats.Taps, Malformed: in.Stats.Rejected, Bytes: in.Stats.Bytes})
	}
	// The summaries as WriteDay writes them: this build, this book (the
	// test holds them to the files).
	producer := buildinfo.Read().Producer()
	for i, d := range rep.Days {
		s := settlement.NewSummary(d, book.Fingerprint(), producer)
		day := settleDay{Dir: filepath.Join(out, s.Day), Summary: s}
		if i < len(rep.Manifests) {
			day.ManifestSHA256 = hex.EncodeToString(rep.Manifests[i].SHA256[:])
		}
		doc.Days = append(doc.Days, day)
		doc.Total.add(s)
	}
	if st := rep.State; st != nil {
		doc.State = &settleState{Dir: stateDir, Closed: st.Closed, Carried: st.Carried, Held: st.Held}
	}
	return doc
}

// add adds the summary s to the total.
func (t *settleTotal) add(s *settlement.Summary) {
	t.Days++
	t.Records += s.Records
	t.Malformed += s.Malformed
	c := &t.Counts
	c.Charged += s.Counts.Charged
	c.Open += s.Counts.Open
	c.Duplicate += s.Counts.Duplicate
	c.Rejected += s.Counts.Rejected
	c.Incomplete += s.Counts.Incomplete
	addAmounts(&t.Totals, s.Totals)
	addAmounts(&t.Interregional, s.Interregional)
	addAmounts(&t.Adjustments, s.Adjustments)
	t.NingboJoinIn += s.NingboJoinIn
}

func addAmounts(a *settlement.SummaryAmounts, b settlement.SummaryAmounts) {
	a.Count += b.Count
	a.GrossFen += b.GrossFen
	a.DiscountFen += b.DiscountFen
	a.ChargedFen += b.ChargedFen
}
