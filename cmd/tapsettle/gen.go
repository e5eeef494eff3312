package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

func newGen() *cobra.Command {
	var o bench.GenOptions
	var day, out, format, compression string
	cmd := &cobra.Command{
		Use:   "gen --taps N --seed S --day YYYY-MM-DD -o FILE",
		Short: "Generate a realistic synthetic day of taps",
		Long: `gen writes a synthetic day: riders concentrated in large metro cities, morning
and evening peaks, metro journeys whose duration follows their distance, transfers,
visitors from other cities, Join in Cards in Ningbo, riders whose day exercises the
fare rules (Ningbo bus chains of three or four buses, bus->bus->metro within 90
minutes, Ningbo seniors around the peaks' edges, journeys around Beijing's and
Ningbo's time-in-system limits), and small shares of duplicate, late and malformed
records. Format and compression follow the file name (.csv,
.jsonl; .zst, .gz) unless given. The same flags give the same bytes.

A share not given takes its default; 0 (or a negative share) means none. The default
late and malformed records are there to exercise late adjustments and rejects:
streamed, they settle differently from the batch job by design (the batch job
sorts a whole day before pricing, the stream prices a tap that arrives later
than engine.window out of order; a reject names its partition and offset, not
its file and line). For a day that streams to the batch job's exact files,
pass --late 0 --malformed 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			if o.Day, err = transit.ParseDay(day); err != nil {
				return err
			}
			f, err := ingest.ParseFormat(format)
			if err != nil {
				return err
			}
			if f == ingest.FormatAuto && out != "-" && !ingest.KnownRecordExt(out) {
				return fmt.Errorf("cannot tell the record format from the name %q: name it .csv or .jsonl (then .zst or .gz to compress), or pass --format", out)
			}
			// Given as 0, a share means none (GenOptions reads 0 as its
			// default, which a flag not given keeps).
			for name, share := range map[string]*float64{
				"interregional": &o.Interregional, "joinin": &o.JoinIn, "duplicates": &o.Duplicates,
				"late": &o.Late, "malformed": &o.Malformed, "fare-rules": &o.FareRules,
			} {
				if cmd.Flags().Changed(name) && *share == 0 {
					*share = -1
				}
			}
			c, err := ingest.ParseCompression(compression)
			if err != nil {
				return err
			}
			start := time.Now()
			d, err := bench.Generate(e.book, e.cal, o)
			if err != nil {
				return err
			}
			if err := bench.WriteFile(out, f, c, d); err != nil {
				return err
			}
			if out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d records (%d riders, %d interregional, %d Join in Cards, %d fare rules riders, %d duplicates, %d late, %d malformed) in %v\n",
					out, len(d.Records), d.Riders, d.Interregional, d.JoinIn, d.FareRules, d.Duplicates, d.Late, d.Malformed, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Taps, "taps", 100_000, "number of records")
	fl.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fl.StringVar(&day, "day", "2025-03-03", "settlement day")
	fl.IntVar(&o.FirstID, "first-id", 0, "number the tap_ids from N+1: the next day of the same riders (same --seed) takes a first id past the previous day's records, or its taps repeat tap_ids, which are duplicates within engine.dedup_days")
	fl.StringVarP(&out, "out", "o", "taps.csv.zst", "the file to write, - for stdout")
	// gen's first name for --out, kept working: elsewhere --output says
	// what a command prints (text, json, csv).
	fl.StringVar(&out, "output", "taps.csv.zst", "the file to write")
	_ = fl.MarkDeprecated("output", "use --out (or -o): --output names the format a command prints elsewhere")
	fl.StringVar(&format, "format", "auto", "csv, jsonl or auto (from the file name)")
	fl.StringVar(&compression, "compression", "auto", "none, zstd, gzip or auto (from the file name)")
	fl.Float64Var(&o.Interregional, "interregional", 0, "share of riders with cards from another city (default 0.04; 0: none)")
	fl.Float64Var(&o.JoinIn, "joinin", 0, "share of Ningbo-issued cards that are Join in Cards (default 0.05; 0: none)")
	fl.Float64Var(&o.Duplicates, "duplicates", 0, "share of taps sent twice (default 0.002; 0: none)")
	fl.Float64Var(&o.Late, "late", 0, "share of taps delivered at the end, after their day's cut-off (default 0.001; 0: none)")
	fl.Float64Var(&o.Malformed, "malformed", 0, "share of malformed records (default 0.001; 0: none)")
	fl.Float64Var(&o.FareRules, "fare-rules", 0, "share of riders following a fare rules pattern: Ningbo bus chains and seniors, journeys around the time-in-system limits (default 1/64; 0: none)")
	return cmd
}
