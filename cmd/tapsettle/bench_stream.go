package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/stream"
	"github.com/tapsettle/tapsettle/transit"
)

// streamOptions configures benchStream. Zero fields take the defaults.
type streamOptions struct {
	// Partitions of the topic (and so partition workers). Default: 4.
	Partitions int
	// TapsPerMessage is how many taps a message holds. Default: 64.
	TapsPerMessage int
	// CheckpointTaps is how many taps a partition prices between
	// checkpoints. Default: 50,000, a few checkpoints a partition even on
	// a small day (the service's default, 200,000, would checkpoint only
	// at the close).
	CheckpointTaps int
}

func (o *streamOptions) ensureDefaults() {
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	if o.TapsPerMessage == 0 {
		o.TapsPerMessage = 64
	}
	if o.CheckpointTaps == 0 {
		o.CheckpointTaps = 50_000
	}
}

// streamTopic is the topic benchStream publishes to, on a broker of its own.
const streamTopic = "bench-taps"

// benchStream publishes taps to a topic of an embedded broker started in this
// process (embedded.Start), then measures side by side on that topic
// a bare kafka-go consume loop (bench.ConsumeAll: reading the messages,
// nothing decoded) and the streaming service (package stream: decoding,
// pricing, segments, checkpoints with fsync, local state in a temporary
// folder), cold: a fresh consumer group and no state. The service's run
// is its stream phase, from Run (group join included) until every message
// is consumed; the day close that follows is not timed, but benchStream checks
// that the day's files hold every tap.
//
// The broker shares the process, its cores and its garbage collector with
// what is measured, as it does in `tapsettle demo`; BenchmarkStream in
// package stream runs it in a process of its own and adds the stages in
// between.
func benchStream(book *fares.Book, cal *transit.Calendar, taps []transit.Tap, opts streamOptions) (read, service bench.Result, err error) {
	opts.ensureDefaults()
	if len(taps) == 0 {
		return read, service, errors.New("bench stream: no taps")
	}
	last := cal.LastDay(taps)
	broker, err := embedded.Start(streamTopic, opts.Partitions)
	if err != nil {
		return read, service, fmt.Errorf("bench stream: %w", err)
	}
	defer broker.Close()
	ctx := context.Background()
	pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: broker.Addrs(), Topic: streamTopic, TapsPerMessage: opts.TapsPerMessage})
	if err != nil {
		return read, service, fmt.Errorf("bench stream: %w", err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, taps); err != nil {
		return read, service, fmt.Errorf("bench stream: publish: %w", err)
	}
	var msgs int64
	read = bench.Measure(func() {
		msgs, _, err = bench.ConsumeAll(ctx, broker.Addrs(), feed.Security{}, streamTopic, nil, func(feed.Message) {})
	})
	if err != nil {
		return read, service, fmt.Errorf("bench stream: bare read: %w", err)
	}
	read.Name, read.Shards, read.Taps = "stream read", opts.Partitions, int64(len(taps))

	dir, err := os.MkdirTemp("", "tapsettle-bench-stream-")
	if err != nil {
		return read, service, err
	}
	defer os.RemoveAll(dir)
	st, err := state.NewLocal(filepath.Join(dir, "state"), state.LocalOptions{})
	if err != nil {
		return read, service, err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	svc, err := stream.New(stream.Config{
		Book: book, Calendar: cal, Participants: book.Participants(),
		Topic: streamTopic, Partitions: opts.Partitions, Store: st,
		OutDir:             filepath.Join(dir, "out"),
		CheckpointInterval: stream.DefaultCheckpointInterval, CheckpointTaps: opts.CheckpointTaps,
		UntilClosed: last, Metrics: metrics.New(reg, nil), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return read, service, fmt.Errorf("bench stream: %w", err)
	}
	g, err := feed.NewGroup(feed.GroupConfig{Brokers: broker.Addrs(), Topic: streamTopic, GroupID: "bench",
		SessionTimeout: 2 * time.Second, HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 4 * time.Second})
	if err != nil {
		return read, service, fmt.Errorf("bench stream: %w", err)
	}
	defer g.Close()
	// Whatever happens, the service is stopped before its folder goes.
	runCtx, cancel := context.WithCancel(ctx)
	done, stopped := make(chan error, 1), make(chan struct{})
	defer func() { cancel(); <-stopped }()
	service = bench.Measure(func() {
		go func() { done <- svc.Run(runCtx, g); close(stopped) }()
		err = bench.AwaitConsumed(reg, float64(msgs), done)
	})
	if err != nil {
		return read, service, fmt.Errorf("bench stream: %w", err)
	}
	service.Name, service.Shards, service.Taps = "stream run", opts.Partitions, int64(len(taps))
	if err := pub.CloseDay(ctx, last.String()); err != nil {
		return read, service, fmt.Errorf("bench stream: %w", err)
	}
	if err := <-done; err != nil {
		return read, service, fmt.Errorf("bench stream: service: %w", err)
	}
	var records int64
	for _, d := range svc.Cleared() {
		records += d.Records
	}
	if records != int64(len(taps)) {
		return read, service, fmt.Errorf("bench stream: the days cleared hold %d records, want the %d taps published", records, len(taps))
	}
	return read, service, nil
}
