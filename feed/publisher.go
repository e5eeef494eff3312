package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// Publisher defaults and limits.
const (
	// DefaultBatchBytes is the default PublisherConfig.BatchBytes: Kafka's
	// default message.max.bytes (1 MiB plus record-batch overhead), which a
	// produce request's record batch must not exceed.
	DefaultBatchBytes = 1 << 20
	// DefaultBatchTimeout is the default PublisherConfig.BatchTimeout.
	// kafka-go's own default (1 s) would hold the last, partly filled batch
	// of every partition for a second on each synchronous Publish.
	DefaultBatchTimeout = 2 * time.Millisecond
	// MaxTapsPerMessage bounds PublisherConfig.TapsPerMessage. A tap is at
	// most about 400 bytes of JSON, so 1024 of them stay well under
	// DefaultBatchBytes.
	MaxTapsPerMessage = 1024
	// tapBytesEstimate is a typical tap's JSON size plus key and record
	// overhead, used only to size the Writer's batches in messages.
	tapBytesEstimate = 260
)

// PublisherConfig configures a Publisher. The zero value of each optional
// field means its default.
type PublisherConfig struct {
	// Brokers are the bootstrap brokers, "host:port". Required.
	Brokers []string
	// Topic is the tap feed's topic. Required; it must exist (CreateTopic).
	Topic string
	// Security configures TLS and SASL. Default: plaintext.
	Security Security
	// TapsPerMessage is how many taps a message holds: 1 writes one JSON
	// object per message; more writes JSON-lines batches of up to that
	// many taps, all of whose cards map to the message's partition, which
	// costs the broker and both clients far less per tap. Default: 1; at
	// most MaxTapsPerMessage.
	TapsPerMessage int
	// BatchBytes bounds the bytes of one produce request per partition; it
	// must not exceed the topic's max.message.bytes. Default:
	// DefaultBatchBytes.
	BatchBytes int64
	// BatchTimeout is how long a partly filled batch waits for more
	// messages before it is sent. Default: DefaultBatchTimeout.
	BatchTimeout time.Duration
	// Compression compresses record batches (kafka.Gzip, Snappy, Lz4,
	// Zstd). JSON taps shrink several-fold. Default: none.
	Compression kafka.Compression
	// Logger receives kafka-go's diagnostics (debug) and errors (warn).
	// Default: discard.
	Logger *slog.Logger
}

// EnsureDefaults fills the fields left zero with their defaults.
func (c *PublisherConfig) EnsureDefaults() {
	if c.TapsPerMessage == 0 {
		c.TapsPerMessage = 1
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.Logger == nil {
		c.Logger = discardLogger
	}
}

// Validate reports the first invalid field.
func (c *PublisherConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("feed: publisher: Brokers is empty")
	case c.Topic == "":
		return errors.New("feed: publisher: Topic is empty")
	case c.TapsPerMessage < 1 || c.TapsPerMessage > MaxTapsPerMessage:
		return fmt.Errorf("feed: publisher: TapsPerMessage %d, want 1..%d", c.TapsPerMessage, MaxTapsPerMessage)
	case c.BatchBytes < 4096:
		return fmt.Errorf("feed: publisher: BatchBytes %d, want at least 4096", c.BatchBytes)
	case c.BatchTimeout < 0:
		return fmt.Errorf("feed: publisher: negative BatchTimeout %v", c.BatchTimeout)
	}
	return nil
}

// Publisher writes taps to the feed topic, keyed by card. It is safe for
// concurrent use; each Publish is synchronous.
//
// Delivery is at least once: kafka-go retries a failed produce request
// (up to 10 attempts), and a caller that gets an error should publish the
// same taps again, so a tap may be written twice. The engine settles a
// repeated tap_id once (StatusDuplicate), which is what makes this safe.
type Publisher struct {
	cfg    PublisherConfig
	w      *kafka.Writer
	tr     *kafka.Transport
	client *kafka.Client
	pool   sync.Pool // *encoder
	closed atomic.Bool
}

// NewPublisher returns a Publisher for cfg. It does not connect: the
// first Publish does.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := cfg.Security.transport()
	// The Writer's batch size is a message count. kafka-go preallocates a
	// slice of that many Messages for every batch, so size it to what
	// BatchBytes can hold rather than "large".
	perMessage := int64(cfg.TapsPerMessage) * tapBytesEstimate
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     presetBalancer{},
		BatchSize:    int(cfg.BatchBytes/perMessage) + 1,
		BatchBytes:   cfg.BatchBytes,
		BatchTimeout: cfg.BatchTimeout,
		RequiredAcks: kafka.RequireAll,
		Compression:  cfg.Compression,
		Transport:    tr,
		Logger:       kafkaLogger(cfg.Logger, slog.LevelDebug, "kafka-writer"),
		ErrorLogger:  kafkaLogger(cfg.Logger, slog.LevelWarn, "kafka-writer"),
	}
	return &Publisher{
		cfg:    cfg,
		w:      w,
		tr:     tr,
		client: newClient(cfg.Brokers, tr),
	}, nil
}

// Publish writes taps and returns once every one of them is acknowledged
// by all in-sync replicas (RequiredAcks all), or with the first error. It
// validates every tap first (ingest.Validate) and publishes nothing if one
// is invalid, since consumers would reject it. Taps of one card keep their
// order among themselves; taps of different partitions are written in
// parallel.
func (p *Publisher) Publish(ctx context.Context, taps []transit.Tap) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if len(taps) == 0 {
		return nil
	}
	for i := range taps {
		if fe := ingest.Validate(&taps[i]); fe != nil {
			return fmt.Errorf("feed: publish: tap %d (tap_id %q): %w", i, taps[i].ID.Bytes(), fe)
		}
	}
	n, err := partitionCount(ctx, p.client, p.cfg.Topic)
	if err != nil {
		return fmt.Errorf("feed: publish: %w", err)
	}
	enc, _ := p.pool.Get().(*encoder)
	if enc == nil {
		enc = new(encoder)
	}
	msgs := enc.encode(taps, p.cfg.TapsPerMessage, n, time.Now())
	err = p.w.WriteMessages(ctx, msgs...)
	// On a cancelled context WriteMessages returns before kafka-go is done
	// with the messages, which still point into enc; let it go to the
	// garbage collector rather than back to the pool.
	if ctx.Err() == nil {
		p.pool.Put(enc)
	}
	if err != nil {
		return fmt.Errorf("feed: publish %d taps in %d messages to %s: %w", len(taps), len(msgs), p.cfg.Topic, writeError(err))
	}
	return nil
}

// CloseDay sends a close-day control message for day (YYYY-MM-DD) to
// every partition of the topic, after every tap already published: it
// tells each consumer that the authority's feed for that settlement day
// is complete. Call it once every Publish of the day has returned.
func (p *Publisher) CloseDay(ctx context.Context, day string) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if _, err := transit.ParseDay(day); err != nil {
		return fmt.Errorf("feed: close day: %w", err)
	}
	n, err := partitionCount(ctx, p.client, p.cfg.Topic)
	if err != nil {
		return fmt.Errorf("feed: close day %s: %w", day, err)
	}
	now := time.Now()
	headers := []kafka.Header{{Key: HeaderControl, Value: []byte(ControlCloseDay)}}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Partition: i, Value: []byte(day), Headers: headers, Time: now}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("feed: close day %s on %d partitions of %s: %w", day, n, p.cfg.Topic, writeError(err))
	}
	return nil
}

// Close flushes what is buffered and releases the connections. Publish
// and CloseDay fail with ErrClosed afterwards.
func (p *Publisher) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("feed: close publisher: %w", err)
	}
	return nil
}

// writeError reduces kafka-go's WriteErrors, one entry per message, to the
// first error and a count, which is what a person can read.
func writeError(err error) error {
	var werr kafka.WriteErrors
	if !errors.As(err, &werr) {
		return err
	}
	var first error
	failed := 0
	for _, e := range werr {
		if e != nil {
			failed++
			if first == nil {
				first = e
			}
		}
	}
	if first == nil {
		return err
	}
	return fmt.Errorf("%d of %d messages failed: %w", failed, len(werr), first)
}

// PublishCorrections writes correction records to the partitions of their
// cards (keyed by card, like taps, so that a correction follows the card's
// taps published before it), one JSON object (ingest.AppendCorrectionJSON)
// per message marked by the ControlCorrection header, and returns once
// every one is acknowledged. It validates every correction first and
// publishes nothing if one is invalid.
func (p *Publisher) PublishCorrections(ctx context.Context, recs []ingest.CorrectionRecord) error {
	if p.closed.Load() {
		return ErrClosed
	}
	for i := range recs {
		if err := recs[i].Correction.Validate(); err != nil {
			return fmt.Errorf("feed: publish: correction %d (correction_id %q): %w", i, recs[i].Correction.ID.String(), err)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	n, err := partitionCount(ctx, p.client, p.cfg.Topic)
	if err != nil {
		return fmt.Errorf("feed: publish corrections: %w", err)
	}
	now := time.Now()
	headers := []kafka.Header{{Key: HeaderControl, Value: []byte(ControlCorrection)}}
	msgs := make([]kafka.Message, len(recs))
	for i := range recs {
		key := recs[i].Correction.Card.Bytes()
		msgs[i] = kafka.Message{Partition: PartitionOf(key, n), Key: key, Value: ingest.AppendCorrectionJSON(nil, &recs[i]), Headers: headers, Time: now}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("feed: publish %d corrections to %s: %w", len(recs), p.cfg.Topic, writeError(err))
	}
	return nil
}
