package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/report"
)

func newReport() *cobra.Command {
	var htmlPath string
	var top int
	cmd := &cobra.Command{
		Use:   "report DIR/DAY",
		Short: "Show a settled day at a glance: counts, totals, flows, net positions, subsidy claims",
		Long: `report reads one settled day folder (DIR/YYYY-MM-DD as settle, run and clear
write it) and prints the day at a glance: records by status (reconciled with the
summary and, where the day has a ledger, recounted from it), totals, the largest
bilateral flows between cities, the largest creditors and debtors, the subsidy
claim per city and card product, and the Ningbo Join in Card discount given.
Amounts are CNY with two decimals.

With --html FILE it also writes one self-contained HTML page with charts (net
positions of every participant, the top flows, discounts per city, taps per
hour): no script, and nothing fetched from elsewhere, so it opens offline.

Every file read is checked against the manifest; figures that do not reconcile
are an error (then run tapsettle verify).`,
		Args: wantArgs(1, 1, "the settled day folder (DIR/DAY)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 1 {
				return fmt.Errorf("--top %d: want at least 1", top)
			}
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			d, err := report.Read(args[0], report.Options{Cities: e.book.Cities(), Calendar: e.cal})
			if err != nil {
				return err
			}
			if err := report.WriteText(cmd.OutOrStdout(), d, top); err != nil {
				return err
			}
			if htmlPath == "" {
				return nil
			}
			var page bytes.Buffer
			if err := report.WriteHTML(&page, d, top); err != nil {
				return err
			}
			if _, err := durable.WriteFile(htmlPath, page.Bytes(), true); err != nil {
				return fmt.Errorf("--html: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nwrote %s (%d bytes): open it in a browser, offline\n", htmlPath, page.Len())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&htmlPath, "html", "", "also write one self-contained HTML page with charts to FILE")
	fl.IntVar(&top, "top", 10, "flows, creditors and debtors to list (the page's flow chart shows twice as many)")
	return cmd
}
