package stream

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/internal/brokertest"
	"github.com/tapsettle/tapsettle/internal/cputime"
	"github.com/tapsettle/tapsettle/internal/redistest"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/transit"
)

// benchTaps is the size of BenchmarkStream's topic; benchCheckpointTaps
// makes each partition checkpoint about three times during the stream
// (the default, 200,000, would checkpoint only at the close);
// benchTapsPerMessage is how many taps a message holds (1: one JSON tap a
// message, the feed's simplest form). They can be set with
// $BENCH_STREAM_TAPS, $BENCH_STREAM_CHECKPOINT_TAPS and
// $BENCH_STREAM_TAPS_PER_MESSAGE.
var (
	benchTaps           = envInt("BENCH_STREAM_TAPS", 600_000)
	benchCheckpointTaps = envInt("BENCH_STREAM_CHECKPOINT_TAPS", 50_000)
	benchTapsPerMessage = envInt("BENCH_STREAM_TAPS_PER_MESSAGE", 64)
	// benchCompress ($BENCH_STREAM_S2=1) has the service compress its
	// segments (Config.CompressSegments), to compare the two.
	benchCompress = os.Getenv("BENCH_STREAM_S2") == "1"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkStream compares, side by side on one topic of a local broker
// (kfake, in a process of its own), a bare kafka-go consume loop of the
// topic (bench.ConsumeAll: the cost of reading the messages; bare-reader,
// the kafka.Reader loop a kafka-go user writes, for reference), the same
// loop decoding each message's taps, then pricing them too (in memory,
// nothing durable), and the streaming service consuming the same topic,
// with local state and with Redis state. Pricing and the service run cold
// (a service's first day) and warm (a day in steady state, after two
// days; see run). One op is the whole topic.
//
// For the service, taps/s is the stream phase: until every message of
// the day measured has been decoded, priced, written to segments and
// checkpointed every benchCheckpointTaps taps. close-s is
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
	// The warm cases stream the same riders' next days after this one:
	// as many as a partition keeps tap_ids of (engine.DefaultDedupDays),
	// so that the day measured, the last, is one whose tap_id log is
	// recycled from a day dropped, as on every day of a long-running
	// service.
	type day struct {
		taps []transit.Tap
		last transit.Day
	}
	days := []day{{taps, e.cal.LastDay(taps)}}
	for len(days) <= engine.DefaultDedupDays {
		prev := days[len(days)-1]
		next, err := bench.Generate(e.book, e.cal, bench.GenOptions{Taps: benchTaps, Seed: 7, Day: prev.last + 1, Late: -1, Malformed: -1, FirstID: len(days) * benchTaps})
		if err != nil {
			b.Fatal(err)
		}
		taps := next.Taps()
		days = append(days, day{taps, e.cal.LastDay(taps)})
	}
	ids := []int{0, 1, 2, 3}
	addrs := brokerProcess(b)
	ctx := context.Background()
	// publish publishes taps to topic name, creating it first unless it
	// is the benchmark's own.
	publish := func(b *testing.B, name string, taps []transit.Tap) {
		if name != topic {
			if err := feed.CreateTopic(ctx, addrs, feed.Security{}, name, partitions); err != nil {
				b.Fatal(err)
			}
		}
		pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: addrs, Topic: name, TapsPerMessage: benchTapsPerMessage})
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		if err := pub.Publish(ctx, taps); err != nil {
			b.Fatal(err)
		}
	}
	closeDay := func(b *testing.B, name string, day transit.Day) {
		pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: addrs, Topic: name})
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		if err := pub.CloseDay(ctx, day.String()); err != nil {
			b.Fatal(err)
		}
	}
	// fill publishes the day to a new topic and returns its message count.
	fill := func(b *testing.B, name string) int64 {
		publish(b, name, taps)
		msgs, _, err := bench.ConsumeAll(ctx, addrs, feed.Security{}, name, ids, func(feed.Message) {})
		if err != nil {
			b.Fatal(err)
		}
		return msgs
	}
	msgs := fill(b, topic)

	b.Run("bare-consume", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := bench.ConsumeAll(ctx, addrs, feed.Security{}, topic, ids, func(feed.Message) {}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(taps))*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	})
	// bare-reader is the loop a kafka-go user writes: a kafka.Reader per
	// partition, FetchMessage until the partition's end. It allocates a
	// key and a value per message where bench.ConsumeAll reads pooled
	// pages through feed.PartitionReader (what the service fetches with),
	// so it is the slower of the two bare reads.
	b.Run("bare-reader", func(b *testing.B) {
		for b.Loop() {
			if n := readerLoop(b, addrs, topic, ids); n != msgs {
				b.Fatalf("read %d messages of the %d published", n, msgs)
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
	// priceDays prices days in memory, a topic a day, each partition's
	// taps by an engine.Partition as the service's are, the rows
	// discarded; it times the last day alone and checks that it gave a
	// row for every tap.
	priceDays := func(b *testing.B, topics []string, days []day) {
		measured := days[len(days)-1].taps
		for b.Loop() {
			b.StopTimer()
			parts := make([]*engine.Partition, len(ids))
			rows := make([]int, len(ids))
			for i, p := range ids {
				var err error
				if parts[i], err = engine.NewPartition(e.book, countRows{n: &rows[i]}, p, engine.Options{Calendar: e.cal}); err != nil {
					b.Fatal(err)
				}
			}
			n := 0
			for i, d := range days {
				if i == len(days)-1 {
					b.StartTimer()
				}
				n = consumeEach(b, addrs, topics[i], ids, func(p int) (func([]transit.Tap), func() int) {
					before := rows[p]
					return parts[p].Submit, func() int { parts[p].CloseDay(d.last); return rows[p] - before }
				})
			}
			if n < len(measured) {
				b.Fatalf("priced %d rows for the %d taps of the day measured", n, len(measured))
			}
		}
		b.ReportMetric(float64(len(measured))*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	}
	// consume-decode-price adds the engine to consume-decode, on a
	// service's first day. The service's cost beyond it is what makes the
	// stream durable: the segments, the checkpoints, the offsets.
	b.Run("consume-decode-price", func(b *testing.B) { priceDays(b, []string{topic}, days[:1]) })
	// consume-decode-price-warm prices the last of the warm days (see run)
	// by partitions that priced and closed the days before it: the
	// in-memory stage to hold the warm service against.
	b.Run("consume-decode-price-warm", func(b *testing.B) {
		names := make([]string, len(days))
		for i, d := range days {
			names[i] = fmt.Sprintf("%s-warm-day%d", topic, i+1)
			publish(b, names[i], d.taps)
			defer deleteTopic(b, addrs, names[i])
		}
		priceDays(b, names, days)
	})
	runs := 0
	// run measures the service on a topic of its own (and so a consumer
	// group of its own, with no committed offsets). Cold, the topic holds
	// the day and the service starts on it with no state: the stream phase
	// is from Run (group join included) until every message is consumed,
	// and the close-day message follows. Warm, the topic holds the days,
	// each but the last followed by its close-day message: the service
	// streams and closes the first days untimed, and the stream phase is
	// the last day's, from the moment the day before is cleared (its close
	// is over) until every message is consumed. That is a service in
	// steady state: card tables, tap_id logs, buffers and the heap
	// already sized by the days before, as on every day but a service's
	// first two.
	run := func(b *testing.B, store func(i int) state.Store, warm bool) {
		var stream, closing, cpu time.Duration
		streamed := 0 // taps in the stream phases
		for b.Loop() {
			// runs keeps the names apart under -count, which repeats b.Run.
			runs++
			name := fmt.Sprintf("%s-%s-%d", topic, b.Name()[len("BenchmarkStream/"):], runs)
			b.StopTimer()
			streams := days[:1]
			if warm {
				streams = days
			}
			for i, d := range streams {
				if i > 0 {
					closeDay(b, name, streams[i-1].last)
				}
				publish(b, name, d.taps)
			}
			// The day measured, and how many close-day messages come
			// before it in every partition.
			measured, until, closes := streams[len(streams)-1].taps, streams[len(streams)-1].last, len(streams)-1
			tapsAt, controls := tapsByOffset(b, addrs, name, ids)
			msgs := int64(0)
			for _, p := range tapsAt {
				msgs += int64(len(p) - 1)
			}
			b.StartTimer()
			reg := prometheus.NewRegistry()
			cfg := Config{
				Book: e.book, Calendar: e.cal, Participants: e.book.Participants(),
				Topic: name, Partitions: partitions, Store: store(runs), OutDir: b.TempDir(),
				CheckpointInterval: DefaultCheckpointInterval, CheckpointTaps: benchCheckpointTaps,
				UntilClosed: until, Metrics: metrics.New(reg, nil), CompressSegments: benchCompress,
			}
			var hold *holdAfter
			if warm {
				hold = newHoldAfter(controls, closes)
				cfg.BeforeFetch = hold.beforeFetch
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
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx, g) }()
			start, cpu0, before := time.Now(), processCPU(), 0
			if warm {
				// Every partition is held before its first batch past the
				// last close-day message; once all are held and the day
				// before is cleared, they are let go together and the
				// stream phase starts. The taps of the day measured that
				// came in the batches with the close-day messages are
				// counted out of it.
				for range partitions {
					select {
					case <-hold.arrived:
					case err := <-done:
						b.Fatalf("service stopped before the days before closed: %v", err)
					case <-time.After(time.Minute):
						b.Fatal("the partitions did not all reach the day measured in a minute")
					}
				}
				if prev := streams[len(streams)-2].last; svc.Cleared()[prev] == nil {
					b.Fatalf("every partition is past the close of %v, but the day is not cleared", prev)
				}
				start, cpu0 = time.Now(), processCPU()
				close(hold.release)
				for i, p := range tapsAt {
					before += p[hold.at[i]] - p[controls[i][closes-1]]
				}
			}
			stopProfile := profileStream(b, name)
			// A stream that stops moving fails the benchmark instead of
			// hanging it.
			if err := bench.AwaitConsumed(reg, float64(msgs), done); err != nil {
				b.Fatal(err)
			}
			end := time.Now()
			cpu += processCPU() - cpu0
			stopProfile()
			closeDay(b, name, until)
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			// Every tap measured is in the files of the days it spans.
			var cleared int64
			for d, day := range svc.Cleared() {
				if len(streams) == 1 || d > streams[len(streams)-2].last {
					cleared += day.Records
				}
			}
			if cleared != int64(len(measured)) {
				b.Fatalf("%d records in the files of the days to %v, want %d", cleared, until, len(measured))
			}
			stream += end.Sub(start)
			closing += time.Since(end)
			streamed += len(measured) - before
			g.Close()
			// Drop the run's topic, so the broker's heap (and its
			// garbage collector, on the same cores) does not grow run
			// after run.
			b.StopTimer()
			deleteTopic(b, addrs, name)
			b.StartTimer()
		}
		b.ReportMetric(float64(streamed)/stream.Seconds(), "taps/s")
		b.ReportMetric(closing.Seconds()/float64(b.N), "close-s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(streamed), "cpu-ns/tap")
	}
	local := func(b *testing.B) func(int) state.Store {
		return func(int) state.Store {
			st, err := state.NewLocal(b.TempDir(), state.LocalOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}
	}
	// redisState's stores share one client, each under a prefix of its own.
	redisState := func(b *testing.B) func(int) state.Store {
		client := redis.NewClient(&redis.Options{Addr: redistest.Addr(b)})
		b.Cleanup(func() { client.Close() })
		return func(i int) state.Store {
			st, err := state.NewRedis(client, state.RedisOptions{Prefix: fmt.Sprintf("%s-%d", redistest.Prefix(b), i), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}
	}
	b.Run("service-local-state", func(b *testing.B) { run(b, local(b), false) })
	b.Run("service-redis-state", func(b *testing.B) { run(b, redisState(b), false) })
	b.Run("service-local-state-warm", func(b *testing.B) { run(b, local(b), true) })
	b.Run("service-redis-state-warm", func(b *testing.B) { run(b, redisState(b), true) })
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
			_, _, errs[i] = bench.ConsumeAll(context.Background(), addrs, feed.Security{}, topic, []int{p}, func(m feed.Message) {
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

// tapsByOffset reads the given partitions of topic and returns, for each,
// the taps held by the messages before each offset, and the offsets of
// its control messages: at[p][k] is the taps in partition p's first k
// messages (control messages hold none), and len(at[p])-1 is the
// partition's message count.
func tapsByOffset(b *testing.B, addrs []string, topic string, ids []int) (at [][]int, controls [][]int64) {
	at = make([][]int, len(ids))
	controls = make([][]int64, len(ids))
	var dec feed.Decoder
	var buf []transit.Tap
	for i, p := range ids {
		at[i] = []int{0}
		_, _, err := bench.ConsumeAll(context.Background(), addrs, feed.Security{}, topic, []int{p}, func(m feed.Message) {
			n := 0
			if m.Control == "" {
				buf = dec.Decode(buf[:0], m.Value, nil)
				n = len(buf)
			} else {
				controls[i] = append(controls[i], m.Offset)
			}
			at[i] = append(at[i], at[i][len(at[i])-1]+n)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return at, controls
}

// holdAfter holds each partition of a service before its first batch past
// an offset (Config.BeforeFetch) until released, and notes where it held
// each.
type holdAfter struct {
	after   []int64       // by partition: hold once the next offset is past after[p]
	mu      sync.Mutex    // guards at
	at      []int         // the next offset of each partition held; -1 until then
	arrived chan struct{} // one per partition held
	release chan struct{} // closed to let them go
}

// newHoldAfter holds partition p past the n-th of offsets[p] (n >= 1).
func newHoldAfter(offsets [][]int64, n int) *holdAfter {
	h := &holdAfter{arrived: make(chan struct{}, len(offsets)), release: make(chan struct{})}
	for _, o := range offsets {
		h.after = append(h.after, o[n-1])
		h.at = append(h.at, -1)
	}
	return h
}

func (h *holdAfter) beforeFetch(p int, next int64) {
	h.mu.Lock()
	first := next > h.after[p] && h.at[p] < 0
	if first {
		h.at[p] = int(next)
	}
	h.mu.Unlock()
	if first {
		h.arrived <- struct{}{}
		<-h.release
	}
}

// readerLoop reads the given partitions of topic with a kafka.Reader each,
// concurrently, from the first offset to the high-water mark, and returns
// how many messages it read.
func readerLoop(b *testing.B, addrs []string, topic string, ids []int) int64 {
	var wg sync.WaitGroup
	counts := make([]int64, len(ids))
	errs := make([]error, len(ids))
	for i, p := range ids {
		wg.Go(func() {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: addrs, Topic: topic, Partition: p,
				MinBytes: 1, MaxBytes: feed.DefaultFetchMaxBytes, MaxWait: 10 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.FetchMessage(context.Background())
				if err != nil {
					errs[i] = err
					return
				}
				counts[i]++
				if m.Offset+1 >= m.HighWaterMark {
					return
				}
			}
		})
	}
	wg.Wait()
	var n int64
	for i := range ids {
		if errs[i] != nil {
			b.Fatal(errs[i])
		}
		n += counts[i]
	}
	return n
}

// deleteTopic deletes topic from the broker.
func deleteTopic(b *testing.B, addrs []string, topic string) {
	c := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 10 * time.Second}
	res, err := c.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		b.Fatalf("delete topic %s: %v", topic, err)
	}
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
