package stream

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/internal/redistest"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/state"
)

// TestSecondInstanceJoinsBusyOne: instance A consumes a backlog slowly
// (its partition readers fill up ahead of it), then instance B joins the
// group. A must hand partitions back and rejoin, so that each instance
// ends owning some and the partition_assigned gauges over both add up to
// the partition count; and both stop promptly afterwards. This is the
// whole service's view of what feed's TestGroupRebalanceWithBacklog and
// TestPartitionReaderCloseBacklog reproduce deterministically (a claim
// that never returned because its reader blocked on a full queue kept A
// out of the group while its gauges still said it owned partitions).
func TestSecondInstanceJoinsBusyOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two instances against Redis")
	}
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	e := newEnv(t)
	f := newFixture(t, e, 40000)
	b, pub := startBroker(t, 1) // one tap a message: a long backlog
	ctx := context.Background()
	if err := pub.Publish(ctx, f.taps); err != nil {
		t.Fatal(err)
	}
	type instance struct {
		reg  *prometheus.Registry
		stop context.CancelFunc
		done chan error
	}
	start := func() *instance {
		client := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { client.Close() })
		st, err := state.NewRedis(client, state.RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		in := &instance{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
		cfg := serviceConfig(e, st, t.TempDir(), 0)
		cfg.Metrics = metrics.New(in.reg, nil)
		cfg.Log = slog.New(slog.DiscardHandler)
		// A slow consumer: the readers fetch ahead and fill their queues.
		cfg.BeforeFetch = func(int, int64) { time.Sleep(100 * time.Millisecond) }
		svc, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		in.stop = cancel
		// Small fetches: a partition's backlog is many responses, so its
		// reader's queue is full while the consumer is busy.
		g, err := feed.NewGroup(feed.GroupConfig{Brokers: b.Addrs(), Topic: topic, GroupID: "g-busy",
			SessionTimeout: 2 * time.Second, HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 4 * time.Second,
			Fetch: feed.FetchConfig{MaxBytes: 4096, Prefetch: 2}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		go func() { in.done <- svc.Run(runCtx, g) }()
		t.Cleanup(cancel)
		return in
	}
	sum := func(in *instance) (owned int) {
		for p, v := range assigned(t, in.reg) {
			if _, err := strconv.Atoi(p); err == nil && v == 1 {
				owned++
			}
		}
		return owned
	}
	a := start()
	for deadline := time.Now().Add(30 * time.Second); sum(a) != partitions; {
		if time.Now().After(deadline) {
			t.Fatalf("A owns %d partitions after 30 s, want all %d", sum(a), partitions)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // A is busy; its readers are full
	bb := start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		na, nb := sum(a), sum(bb)
		if na > 0 && nb > 0 && na+nb == partitions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after B joined: A owns %d, B owns %d partitions; want both some, %d in all", na, nb, partitions)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, in := range map[string]*instance{"A": a, "B": bb} {
		in.stop()
		select {
		case err := <-in.done:
			if err != nil {
				t.Errorf("%s: Run: %v", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not stop within 20 s of its context's end", name)
		}
	}
}
