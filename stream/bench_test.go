package stream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/internal/brokertest"
	"github.com/tapsettle/tapsettle/internal/cputime"
	"github.com/tapsettle/tapsettle/internal/redistest"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/pipeline"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/transit"
)

// benchTaps is the size of BenchmarkStream's topic; benchCheckpointTaps
// makes each partition checkpoint about three times during the stream
// (the default, 200,000, would checkpoint only at the close). Both can be
// set with $BENCH_STREAM_TAPS and $BENCH_STREAM_CHECKPOINT_TAPS.
var (
	benchTaps           = envInt("BENCH_STREAM_TAPS", 600_000)
	benchCheckpointTaps = envInt("BENCH_STREAM_CHECKPOINT_TAPS", 50_000)
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkStream compares, side by side on one topic of a local broker
// (kfake, in a process of its own), a bare kafka-go consume loop of the
// topic (feed.ConsumeAll: the cost of reading the messages), the same loop
// decoding each message's taps, then pricing them too (in memory, nothing
// durable), and the streaming service consuming the same topic, with local
// state and with Redis state. One op is the whole topic.
//
// For the service, taps/s is the stream phase: from Run (group join
// included) until every message has been decoded, priced, written to
// segments and checkpointed every benchCheckpointTaps taps. close-s is
// the day close that follows the close-day message: the last checkpoint,
// the parts, and reading the segments back into the day's ~2,000 files.
// The close is a fixed cost per settlement day, not per tap, which is why
// it is reported on its own. cpu-ns/tap is the CPU time the service's
// process spent in the stream phase per tap (the broker runs in a process
// of its own): on a shared machine it is the steadier figure to compare two
// builds by.
//
//	go test -run '^$' -bench BenchmarkStream -benchtime 1x ./stream
//
// BENCH_STREAM_PROFILE=DIR writes a CPU profile of each stream phase.
func BenchmarkStream(b *testing.B) {
	e := newEnv(b)
	d, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: benchTaps, Seed: 7, Day: testDay, Late: -1, Malformed: -1})
	if err != nil {
		b.Fatal(err)
	}
	taps := d.Taps()
	last := testDay
	for _, tp := range taps {
		last = max(last, e.cal.DayOf(tp.Time))
	}
	ids := []int{0, 1, 2, 3}
	addrs := brokerProcess(b)
	ctx := context.Background()
	// fill publishes the day to a new topic and returns its message count.
	fill := func(b *testing.B, name string) int64 {
		if name != topic {
			if err := feed.CreateTopic(ctx, addrs, feed.Security{}, name, partitions); err != nil {
				b.Fatal(err)
			}
		}
		pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: addrs, Topic: name, TapsPerMessage: 64})
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		if err := pub.Publish(ctx, taps); err != nil {
			b.Fatal(err)
		}
		msgs, _, err := feed.ConsumeAll(ctx, addrs, feed.Security{}, name, ids, func(feed.Message) {})
		if err != nil {
			b.Fatal(err)
		}
		return msgs
	}
	closeDay := func(b *testing.B, name string) {
		pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: addrs, Topic: name})
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		if err := pub.CloseDay(ctx, last.String()); err != nil {
			b.Fatal(err)
		}
	}
	fill(b, topic)

	b.Run("bare-consume", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := feed.ConsumeAll(ctx, addrs, feed.Security{}, topic, ids, func(feed.Message) {}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(taps))*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	})
	// consume-decode adds to the bare loop what any consumer of the feed
	// must do next: decode every message's taps (feed.Decoder, one per
	// partition as the service has). The service's cost beyond it is the
	// pricing, the segments and the checkpoints.
	b.Run("consume-decode", func(b *testing.B) {
		for b.Loop() {
			n := consumeEach(b, addrs, topic, ids, func(int) (func([]transit.Tap), func() int) {
				decoded := 0
				return func(taps []transit.Tap) { decoded += len(taps) }, func() int { return decoded }
			})
			if n != len(taps) {
				b.Fatalf("decoded %d taps of the %d published", n, len(taps))
			}
		}
		b.ReportMetric(float64(len(taps))*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	})
	// consume-decode-price adds the engine: each partition's taps priced
	// by an engine.Partition as the service's are, the rows discarded. The
	// service's cost beyond it is what makes the stream durable: the
	// segments, the checkpoints, the offsets.
	b.Run("consume-decode-price", func(b *testing.B) {
		for b.Loop() {
			n := consumeEach(b, addrs, topic, ids, func(p int) (func([]transit.Tap), func() int) {
				var rows int
				part, err := engine.NewPartition(e.book, countRows{n: &rows}, p, engine.Options{Calendar: e.cal})
				if err != nil {
					b.Fatal(err)
				}
				return part.Submit, func() int { part.CloseDay(last); return rows }
			})
			if n < len(taps) {
				b.Fatalf("priced %d rows for the %d taps published", n, len(taps))
			}
		}
		b.ReportMetric(float64(len(taps))*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	})
	runs := 0
	run := func(b *testing.B, store func(i int) state.Store) {
		var stream, closing, cpu time.Duration
		for b.Loop() {
			// Each run reads a topic of its own (and so a consumer group
			// of its own, with no committed offsets), without the
			// close-day message until the stream is consumed. runs keeps
			// the names apart under -count, which repeats b.Run.
			runs++
			name := fmt.Sprintf("%s-%s-%d", topic, b.Name()[len("BenchmarkStream/"):], runs)
			b.StopTimer()
			msgs := fill(b, name)
			b.StartTimer()
			reg := prometheus.NewRegistry()
			cfg := Config{
				Book: e.book, Calendar: e.cal, Participants: pipeline.Participants(e.book),
				Topic: name, Partitions: partitions, Store: store(runs), OutDir: b.TempDir(),
				CheckpointInterval: DefaultCheckpointInterval, CheckpointTaps: benchCheckpointTaps,
				UntilClosed: last, Metrics: metrics.New(reg, nil),
			}
			svc, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			g, err := feed.NewGroup(feed.GroupConfig{Brokers: addrs, Topic: name, GroupID: "bench-" + name,
				SessionTimeout: 2 * time.Second, HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 4 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			stopProfile := profileStream(b, name)
			start, cpu0 := time.Now(), processCPU()
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx, g) }()
			// A stream that stops moving fails the benchmark instead of
			// hanging it.
			seen, moved := 0.0, time.Now()
			for n := consumed(b, reg); n < float64(msgs); n = consumed(b, reg) {
				if n > seen {
					seen, moved = n, time.Now()
				} else if time.Since(moved) > time.Minute {
					b.Fatalf("the service consumed %.0f of %d messages and then nothing for a minute", n, msgs)
				}
				select {
				case err := <-done:
					b.Fatalf("service stopped before the stream was consumed: %v", err)
				case <-time.After(time.Millisecond):
				}
			}
			streamed := time.Now()
			cpu += processCPU() - cpu0
			stopProfile()
			closeDay(b, name)
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			stream += streamed.Sub(start)
			closing += time.Since(streamed)
			g.Close()
		}
		b.ReportMetric(float64(len(taps))*float64(b.N)/stream.Seconds(), "taps/s")
		b.ReportMetric(closing.Seconds()/float64(b.N), "close-s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(taps))/float64(b.N), "cpu-ns/tap")
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

// consumeEach reads the given partitions of topic, each on a goroutine of
// its own as the service does, and decodes every message's taps with a
// decoder of the partition's. open, called before the goroutines start,
// returns for partition p what takes its taps and what, called on the
// partition's goroutine once it is read, finishes and says how many it
// counted; consumeEach returns the sum.
func consumeEach(b *testing.B, addrs []string, topic string, ids []int, open func(p int) (take func([]transit.Tap), done func() int)) int {
	counts := make([]int, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, p := range ids {
		take, done := open(p)
		wg.Go(func() {
			var dec feed.Decoder
			var buf []transit.Tap
			_, _, errs[i] = feed.ConsumeAll(context.Background(), addrs, feed.Security{}, topic, []int{p}, func(m feed.Message) {
				buf = dec.Decode(buf[:0], m.Value, nil)
				take(buf)
			})
			counts[i] = done()
		})
	}
	wg.Wait()
	n := 0
	for i := range ids {
		if errs[i] != nil {
			b.Fatal(errs[i])
		}
		n += counts[i]
	}
	return n
}

// countRows is an engine.Sink that counts the rows and drops them.
type countRows struct{ n *int }

func (c countRows) Emit(_ int, rows []transit.Priced) { *c.n += len(rows) }

// consumed is the service's messages_consumed_total, summed over
// partitions.
func consumed(b *testing.B, g prometheus.Gatherer) float64 {
	fams, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n float64
	for _, f := range fams {
		if f.GetName() == metrics.Namespace+"_messages_consumed_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// profileStream writes a CPU profile of the stream phase alone to the
// folder named by $BENCH_STREAM_PROFILE, if set (run without
// -cpuprofile, which holds the one profiler).
func profileStream(b *testing.B, name string) (stop func()) {
	dir := os.Getenv("BENCH_STREAM_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".prof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// brokerProcess starts an embedded broker in a child process (the test
// binary again, see TestMain) and returns its addresses: a local broker
// in a process of its own, as in production, so that its allocations and
// garbage collection are not the service's. It stops with the benchmark.
func brokerProcess(b *testing.B) []string {
	b.Helper()
	return brokertest.Start(b, "STREAM_CHILD=broker")
}

// processCPU is the CPU time this process (the service; the broker is a
// process of its own) has used; 0 where the platform does not say, and
// cpu-ns/tap then reads 0.
func processCPU() time.Duration {
	d, _ := cputime.Process()
	return d
}
