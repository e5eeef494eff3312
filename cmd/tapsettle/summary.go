package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// printReport prints the summary table of a settle run.
func printReport(w io.Writer, rep *batch.Report, out string) {
	printDays(w, rep.Days)
	fmt.Fprintf(w, "\n%d records from %d input(s): %d taps, %d malformed; priced in %v, done in %v",
		rep.Records, len(rep.Inputs), rep.Taps, rep.Rejected, rep.Priced.Round(1e6), rep.Elapsed.Round(1e6))
	if rep.Elapsed > 0 {
		fmt.Fprintf(w, " (%.0f records/s)", float64(rep.Records)/rep.Elapsed.Seconds())
	}
	fmt.Fprintln(w)
	if c := rep.Corrections; c.Read+c.Malformed > 0 {
		fmt.Fprintf(w, "corrections: %d read: %d applied (adjustments), %d duplicate, %d refused (in the rejects with the reason), %d malformed\n",
			c.Read, c.Applied, c.Duplicate, c.Rejected, c.Malformed)
	}
	if st := rep.State; st != nil {
		fmt.Fprintf(w, "state: days up to %s closed; %d open metro journey(s) carried into the next day, %d tap(s) of later days held\n", st.Closed, st.Carried, st.Held)
	}
	if out != "" && len(rep.Manifests) > 0 {
		fmt.Fprintf(w, "wrote %d settlement day(s) under %s; check them with: tapsettle verify %s\n", len(rep.Manifests), out, out)
	}
}

// printDays prints the table of the settled days, a total row when there
// are several, and the adjustments apart from the records.
func printDays(w io.Writer, days []*settlement.Day) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "day\trecords\tcharged\topen\tduplicate\trejected\tincomplete\tgross CNY\tdiscount CNY\tcharged CNY\tinterregional\tNingbo Join in discount CNY\t\n")
	var all settlement.Day
	for _, d := range days {
		row(tw, settlement.DirName(d.Day), d)
		all.Records += d.Records
		for i := range d.Counts {
			all.Counts[i] += d.Counts[i]
		}
		all.Totals.Add(d.Totals)
		all.Interregional.Add(d.Interregional)
		all.Adjustments.Add(d.Adjustments)
		all.Discounts = append(all.Discounts, d.Discounts...)
	}
	if len(days) > 1 {
		row(tw, "all", &all)
	}
	tw.Flush()
	if a := all.Adjustments; a.Count > 0 {
		// Adjustments are not records: the table counts records, and its
		// amounts are net of the adjustments, which this line gives apart.
		fmt.Fprintf(w, "\nadjustments (not records; the amounts above are net of them): %d, gross %s, discount %s, charged %s CNY\n",
			a.Count, a.Gross, a.Discount, a.Charged)
	}
}

func row(w io.Writer, name string, d *settlement.Day) {
	share := 0.0
	if d.Totals.Charged > 0 {
		share = 100 * float64(d.Interregional.Charged) / float64(d.Totals.Charged)
	}
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.2f%%\t%s\t\n", name, d.Records,
		d.Counts[transit.StatusCharged], d.Counts[transit.StatusOpen], d.Counts[transit.StatusDuplicate],
		d.Counts[transit.StatusRejected], d.Counts[transit.StatusIncomplete],
		d.Totals.Gross, d.Totals.Discount, d.Totals.Charged, share, d.NingboJoinInDiscount())
}
