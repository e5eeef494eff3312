package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/internal/redistest"
	"github.com/tapsettle/tapsettle/state"
)

// BenchmarkStream compares, side by side on one topic of an in-process
// broker, a bare kafka-go consume loop of the topic (feed.ConsumeAll: the
// cost of reading the messages) with the streaming service consuming the
// same topic to the day's files, with local state and with Redis state.
// One op is the whole topic; taps/s is the figure to compare.
//
//	go test -run '^$' -bench BenchmarkStream -benchtime 3x ./stream
func BenchmarkStream(b *testing.B) {
	e := newEnv(b)
	f := newFixture(b, e, 200000)
	broker, err := feed.StartEmbedded(topic, partitions)
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: broker.Addrs(), Topic: topic, TapsPerMessage: 64})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := pub.Publish(ctx, f.taps); err != nil {
		b.Fatal(err)
	}
	if err := pub.CloseDay(ctx, f.last.String()); err != nil {
		b.Fatal(err)
	}
	pub.Close()
	taps := float64(len(f.taps))

	b.Run("bare-consume", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := feed.ConsumeAll(ctx, broker.Addrs(), feed.Security{}, topic, []int{0, 1, 2, 3}, func(feed.Message) {}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(taps*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	})
	run := func(b *testing.B, store func(i int) state.Store) {
		for i := 0; b.Loop(); i++ {
			cfg := serviceConfig(e, store(i), b.TempDir(), f.last)
			cfg.Ledger = false
			cfg.CheckpointInterval, cfg.CheckpointTaps = 2*time.Second, DefaultCheckpointTaps
			svc, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			g := newGroup(b, broker.Addrs(), fmt.Sprintf("bench-%s-%d", b.Name(), i))
			if err := svc.Run(ctx, g); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(taps*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	}
	b.Run("service-local-state", func(b *testing.B) {
		run(b, func(int) state.Store {
			st, err := state.NewLocal(b.TempDir(), state.LocalOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return st
		})
	})
	b.Run("service-redis-state", func(b *testing.B) {
		addr := redistest.Addr(b)
		client := redis.NewClient(&redis.Options{Addr: addr})
		defer client.Close()
		run(b, func(i int) state.Store {
			st, err := state.NewRedis(client, state.RedisOptions{Prefix: fmt.Sprintf("%s-%d", redistest.Prefix(b), i)})
			if err != nil {
				b.Fatal(err)
			}
			return st
		})
	})
}
