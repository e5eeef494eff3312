package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/stream"
	"github.com/tapsettle/tapsettle/transit"
)

func addKafkaFlags(cmd *cobra.Command) {
	cmd.Flags().StringSlice("brokers", nil, "Kafka bootstrap brokers host:port (default localhost:9092)")
	cmd.Flags().String("topic", "", "topic of taps (default \"taps\")")
}

func newRun() *cobra.Command {
	var until string
	cmd := &cobra.Command{
		Use:   "run [--config FILE] [--brokers HOST:PORT,...] [--out DIR] [--until-closed YYYY-MM-DD]",
		Short: "Run the streaming settlement service on a Kafka topic",
		Long: `run consumes the topic of taps in a consumer group, prices each partition as it
arrives, checkpoints state and offsets together (local state folder by default, or
Redis), closes settlement days on the feed's close-day messages or by event time,
and writes each day's files when this instance holds every partition's part
(otherwise "tapsettle clear" merges the instances' folders). SIGTERM or Ctrl-C:
finish the batch in hand, checkpoint, commit, exit 0. SIGHUP, or a change to the
policy files of --policies, reloads the fare policies: a valid book is priced with
from each partition's next batch, a bad file keeps the running one (see
docs/operations.md, "Changing fares while running").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			var day transit.Day
			if until != "" {
				if day, err = transit.ParseDay(until); err != nil {
					return fmt.Errorf("--until-closed: %w", err)
				}
			}
			svc, err := runService(cmd.Context(), e, e.cfg.Kafka.Brokers, day, serviceRegistry())
			if err != nil {
				return err
			}
			for d, v := range svc.Cleared() {
				fmt.Fprintf(cmd.OutOrStdout(), "cleared %s: %d records into %s\n", settlement.DirName(d), v.Records, filepath.Join(e.cfg.Output.Dir, settlement.DirName(d)))
			}
			return nil
		},
	}
	addKafkaFlags(cmd)
	cmd.Flags().String("group", "", "consumer group (default \"tapsettle\")")
	cmd.Flags().String("out", "", "output root: segments, parts and settlement days (default \"out\")")
	cmd.Flags().Bool("ledger", false, "also write the priced ledger of each day")
	cmd.Flags().String("state-backend", "", "local or redis (default local)")
	cmd.Flags().String("state-dir", "", "local state folder (default \"state\")")
	cmd.Flags().String("redis-addr", "", "Redis host:port when state.backend is redis")
	cmd.Flags().String("metrics-listen", "", "address of /metrics, /healthz, /readyz (default 127.0.0.1:9464; \"\" disables)")
	cmd.Flags().Duration("window", 0, "reorder window (default 2m)")
	cmd.Flags().Duration("checkpoint-interval", 0, "checkpoint every (default 2s)")
	cmd.Flags().Duration("close-after", 0, "close a day this long after its cut-off in event time (default 2h)")
	cmd.Flags().Duration("clearing-interval", 0, "intraday provisional clearing cycle under OUT/provisional/ (default 15m; 0 off)")
	cmd.Flags().StringVar(&until, "until-closed", "", "exit once this day's files are written")
	addCalendarFlags(cmd)
	return cmd
}

// openStore opens the configured state backend.
func openStore(e *env) (state.Store, func(), error) {
	switch e.cfg.State.Backend {
	case config.BackendRedis:
		opts, err := e.cfg.Redis.Options()
		if err != nil {
			return nil, nil, err
		}
		client := redis.NewClient(opts)
		prefix := e.cfg.Redis.Prefix + ":" + e.cfg.Kafka.Topic + ":" + e.cfg.Kafka.Group
		st, err := state.NewRedis(client, state.RedisOptions{Prefix: prefix, Logger: e.log})
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return st, func() { st.Close(); client.Close() }, nil
	default:
		dir := filepath.Join(e.cfg.State.Dir, e.cfg.Kafka.Topic)
		st, err := state.NewLocal(dir, state.LocalOptions{})
		if err != nil {
			return nil, nil, err
		}
		return st, func() { st.Close() }, nil
	}
}

func kafkaSecurity(e *env) (feed.Security, error) {
	t, err := e.cfg.Kafka.TLSConfig()
	if err != nil {
		return feed.Security{}, err
	}
	m, err := e.cfg.Kafka.SASL.Mechanism()
	if err != nil {
		return feed.Security{}, err
	}
	return feed.Security{TLS: t, SASL: m, ClientID: e.cfg.Kafka.ClientID}, nil
}

// serviceRegistry is the registry that run serves on /metrics: the Go
// runtime's and the process's collectors, to which newService adds the
// service's metrics.
func serviceRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// runService runs the streaming service until ctx ends or until day's
// files are written, with its metrics registered in reg (serviceRegistry)
// and served as configured.
func runService(ctx context.Context, e *env, brokers []string, until transit.Day, reg *prometheus.Registry) (*stream.Service, error) {
	sec, err := kafkaSecurity(e)
	if err != nil {
		return nil, err
	}
	parts, err := waitForTopic(ctx, e, brokers, sec)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", e.cfg.Kafka.Topic, err)
	}
	store, closeStore, err := openStore(e)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	svc, err := newService(e, parts, store, until, reg)
	if err != nil {
		return nil, err
	}
	defer watchPolicies(ctx, e, svc)() // SIGHUP and policies.dir reload the fare policies
	if addr := e.cfg.Metrics.Listen; addr != "" {
		srv, err := metrics.Serve(ctx, addr, reg, svc.Ready, e.log)
		if err != nil {
			return nil, fmt.Errorf("metrics.listen %s: %w", addr, err)
		}
		defer srv.Close()
		e.log.Info("serving metrics", "addr", "http://"+srv.Addr()+"/metrics")
	}
	group, err := feed.NewGroup(feed.GroupConfig{
		Brokers: brokers, Topic: e.cfg.Kafka.Topic, GroupID: e.cfg.Kafka.Group, Security: sec,
		SessionTimeout: e.cfg.Kafka.SessionTimeout, Logger: e.log, OnJoin: svc.Joined,
	})
	if err != nil {
		return nil, err
	}
	defer group.Close()
	e.log.Info("streaming", "topic", e.cfg.Kafka.Topic, "partitions", parts, "group", e.cfg.Kafka.Group,
		"state", e.cfg.State.Backend, "out", e.cfg.Output.Dir)
	// On SIGTERM or SIGINT (ctx ends), say what happens next: the service
	// stops reading, prices what it read and checkpoints each partition
	// it owns before it releases it.
	stopLog := context.AfterFunc(ctx, func() {
		e.log.Info("shutting down: no more messages are read; each owned partition is priced and checkpointed before it is released", "cause", context.Cause(ctx))
	})
	defer stopLog()
	if err := svc.Run(ctx, group); err != nil {
		e.log.Error("stopped with an error", "err", err)
		return svc, err
	}
	if ctx.Err() != nil {
		e.log.Info("stopped: final checkpoints written", "cleared_days", len(svc.Cleared()))
	}
	return svc, nil
}

// Backoff while the topic does not exist yet.
const (
	topicWaitFirst = time.Second
	topicWaitMax   = 30 * time.Second
)

// waitForTopic returns the partition count of the configured topic,
// waiting, with a log line and a backoff, while the brokers do not know
// it: under an orchestrator the service often starts before whatever
// creates the topic. Other errors, and ctx's end, stop it.
func waitForTopic(ctx context.Context, e *env, brokers []string, sec feed.Security) (int, error) {
	delay := topicWaitFirst
	for {
		n, err := feed.PartitionCount(ctx, brokers, sec, e.cfg.Kafka.Topic)
		if !errors.Is(err, feed.ErrUnknownTopic) {
			return n, err
		}
		e.log.Warn("the topic does not exist yet; waiting for it", "topic", e.cfg.Kafka.Topic, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w; gave up waiting: %w", err, context.Cause(ctx))
		case <-time.After(delay):
		}
		delay = min(2*delay, topicWaitMax)
	}
}

// newService is the streaming service of the configuration, on a topic of
// parts partitions, with its metrics registered in reg.
func newService(e *env, parts int, store state.Store, until transit.Day, reg prometheus.Registerer) (*stream.Service, error) {
	parties := e.book.Participants()
	cities := make([]transit.City, len(parties))
	for i, p := range parties {
		cities[i] = p.Code
	}
	return stream.New(stream.Config{
		Book: e.book, Calendar: e.cal, Participants: parties,
		Engine:             engineOptions(e),
		Topic:              e.cfg.Kafka.Topic,
		Partitions:         parts,
		Store:              store,
		OutDir:             e.cfg.Output.Dir,
		Ledger:             e.cfg.Output.Ledger,
		CheckpointInterval: e.cfg.Checkpoint.Interval,
		CheckpointTaps:     e.cfg.Checkpoint.Taps,
		CompressSegments:   e.cfg.Checkpoint.CompressSegments,
		CloseAfter:         e.cfg.Clearing.CloseAfter,
		ClearingInterval:   e.cfg.Clearing.Interval,
		ClearingTaps:       e.cfg.Clearing.Taps,
		KeepCycles:         e.cfg.Clearing.Keep,
		KeepDays:           e.cfg.Clearing.KeepDays,
		UntilClosed:        until,
		Metrics:            metrics.New(reg, cities),
		Log:                e.log,
	})
}

// engineOptions are the engine settings of the configuration.
func engineOptions(e *env) engine.Options {
	return engine.Options{BatchSize: e.cfg.Engine.BatchSize, Window: e.cfg.Engine.Window, DedupDays: e.cfg.Engine.DedupDays, Calendar: e.cal}
}
