package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

func newCorrect() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "correct [--brokers HOST:PORT,...] [--topic T] [--check] FILE...",
		Short: "Publish corrections (refunds, partial refunds, re-prices) to the stream's topic",
		Long: `correct reads correction files (CSV or JSON lines, plain, zstd or gzip; columns
correction_id, card, tap_id, kind (refund, partial-refund, reprice), amount (fen) and
reason; see docs/corrections-format.md) and publishes each correction to the topic, keyed by
card, where the streaming service (run) applies it in its first open day: a refund or
re-price of a settled charge is booked as an adjustment, once per correction_id; a
correction that points at nothing, at a charge not settled yet, or refunds more than
was charged is quarantined in the day's rejects with the reason.

The batch job takes corrections as an input of a day-by-day run instead:
  tapsettle settle --state DIR --day D --corrections FILE [INPUT...]

With --check the files are only read: malformed records are listed and nothing is
published. Exit status is 1 when a record is malformed.`,
		Args: wantArgs(1, -1, "the corrections files (FILE...)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			var recs []ingest.CorrectionRecord
			var bad int64
			for _, path := range args {
				got, st, err := ingest.ReadCorrections(path, ingest.Options{OnReject: func(r transit.Reject) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: %s: %s\n", r.Source, r.Line, r.Field, r.Reason)
				}})
				if err != nil {
					return err
				}
				recs = append(recs, got...)
				bad += st.Rejected
			}
			out := cmd.OutOrStdout()
			if check {
				fmt.Fprintf(out, "%d correction(s) read, %d malformed record(s)\n", len(recs), bad)
				if bad > 0 {
					return fmt.Errorf("%d malformed correction record(s)", bad)
				}
				return nil
			}
			sec, err := kafkaSecurity(e)
			if err != nil {
				return err
			}
			if err := publishCorrections(cmd.Context(), e, sec, recs); err != nil {
				return err
			}
			fmt.Fprintf(out, "published %d correction(s) to %s (%d malformed record(s) not published)\n", len(recs), e.cfg.Kafka.Topic, bad)
			if bad > 0 {
				return fmt.Errorf("%d malformed correction record(s) not published", bad)
			}
			return nil
		},
	}
	addKafkaFlags(cmd)
	cmd.Flags().BoolVar(&check, "check", false, "only read the files and report malformed records; publish nothing")
	return cmd
}

func publishCorrections(ctx context.Context, e *env, sec feed.Security, recs []ingest.CorrectionRecord) error {
	pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: e.cfg.Kafka.Brokers, Topic: e.cfg.Kafka.Topic, Security: sec, Logger: e.log})
	if err != nil {
		return err
	}
	if err := pub.PublishCorrections(ctx, recs); err != nil {
		pub.Close()
		return err
	}
	return pub.Close()
}
