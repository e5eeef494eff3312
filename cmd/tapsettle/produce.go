package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

func newProduce() *cobra.Command {
	var perMessage int
	var closeDay string
	var create bool
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "produce [--brokers HOST:PORT,...] [--topic T] [--close-day YYYY-MM-DD] INPUT...",
		Short: "Publish tap files to the topic, keyed by card",
		Long: `produce reads tap files (any format settle reads) and publishes every tap to the
topic, keyed by card_id (murmur2 partitioner, as the Java client), one JSON object per
message or --per-message taps of one partition as JSON lines. Malformed records are
reported and not published. --close-day then tells every partition that the day's feed
is complete.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			if len(args) == 0 && closeDay == "" {
				return errors.New("nothing to publish: give input files or --close-day")
			}
			sec, err := kafkaSecurity(e)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if create {
				if err := feed.CreateTopic(ctx, e.cfg.Kafka.Brokers, sec, e.cfg.Kafka.Topic, e.cfg.Kafka.Partitions); err != nil {
					return err
				}
			}
			n, rejected, err := produce(ctx, e.cfg.Kafka.Brokers, sec, e.cfg.Kafka.Topic, perMessage, args, closeDay, e)
			if err != nil {
				return err
			}
			doc := produceDoc{Schema: schemaProduce, Topic: e.cfg.Kafka.Topic, Published: n, Malformed: rejected}
			if output.format == outputText {
				fmt.Fprintf(cmd.OutOrStdout(), "published %d taps to %s (%d malformed records not published)\n", n, e.cfg.Kafka.Topic, rejected)
			}
			if closeDay != "" {
				// CloseDay returned once every partition's message was
				// acknowledged (RequiredAcks all): say so, and to how many.
				parts, err := feed.PartitionCount(ctx, e.cfg.Kafka.Brokers, sec, e.cfg.Kafka.Topic)
				if err != nil {
					return fmt.Errorf("close-day %s was sent, but counting the partitions failed: %w", closeDay, err)
				}
				doc.CloseDay = &produceCloseDay{Day: closeDay, Partitions: parts}
				if output.format == outputText {
					fmt.Fprintf(cmd.OutOrStdout(), "close-day %s sent to all %d partitions of %s, acknowledged by every in-sync replica\n", closeDay, parts, e.cfg.Kafka.Topic)
				}
			}
			if output.format == outputJSON {
				return writeJSON(cmd.OutOrStdout(), doc)
			}
			return nil
		},
	}
	output = addOutputFlag(cmd, outputJSON)
	addKafkaFlags(cmd)
	cmd.Flags().IntVar(&perMessage, "per-message", 64, "taps per message (1: one JSON object per message)")
	cmd.Flags().StringVar(&closeDay, "close-day", "", "after publishing, send the close-day message for this day to every partition")
	cmd.Flags().BoolVar(&create, "create", false, "create the topic if it does not exist")
	cmd.Flags().Int("partitions", 0, "partitions of a topic created with --create (default 8)")
	return cmd
}

// produce publishes the taps of inputs, then the close-day message.
func produce(ctx context.Context, brokers []string, sec feed.Security, topic string, perMessage int, inputs []string, closeDay string, e *env) (int64, int64, error) {
	pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: brokers, Topic: topic, Security: sec, TapsPerMessage: perMessage, Logger: e.log})
	if err != nil {
		return 0, 0, err
	}
	defer pub.Close()
	var n, rejected int64
	buf := make([]transit.Tap, 16384)
	for _, in := range inputs {
		r, err := ingest.Open(in, ingest.Options{OnReject: func(r transit.Reject) {
			rejected++
			e.log.Debug("malformed record not published", "source", r.Source, "line", r.Line, "field", r.Field, "reason", r.Reason)
		}})
		if err != nil {
			return n, rejected, err
		}
		for {
			k, err := r.Read(buf)
			if k > 0 {
				if err := pub.Publish(ctx, buf[:k]); err != nil {
					r.Close()
					return n, rejected, err
				}
				n += int64(k)
			}
			if err != nil {
				r.Close()
				if errors.Is(err, io.EOF) {
					break
				}
				return n, rejected, err
			}
		}
	}
	if closeDay != "" {
		if err := pub.CloseDay(ctx, closeDay); err != nil {
			return n, rejected, err
		}
	}
	return n, rejected, nil
}

// produceDoc is produce's --output json document (schema
// tapsettle.produce/1).
type produceDoc struct {
	Schema string `json:"schema"`
	// Topic is the topic published to.
	Topic string `json:"topic"`
	// Published counts the taps published; Malformed the input records
	// that could not be read as taps, not published.
	Published int64 `json:"published"`
	Malformed int64 `json:"malformed"`
	// CloseDay is the close-day message sent (--close-day), absent
	// without one. Present, it was acknowledged by every in-sync replica
	// of every partition: a failure is an error (exit status 1) and no
	// document.
	CloseDay *produceCloseDay `json:"close_day,omitempty"`
}

// produceCloseDay says that the close-day message of Day went to every
// partition.
type produceCloseDay struct {
	// Day is the settlement day closed (YYYY-MM-DD).
	Day string `json:"day"`
	// Partitions is the number of partitions of the topic, each of which
	// received the message.
	Partitions int `json:"partitions"`
}
