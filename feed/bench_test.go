package feed

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tapsettle/tapsettle/transit"
)

// Benchmark topics: benchMessages messages of benchTapsPerMessage taps,
// published once per benchmark into a broker in a child process.
const (
	benchMessages       = 1000
	benchTapsPerMessage = 64
)

// fillTopic publishes benchMessages messages of benchTapsPerMessage taps
// spread over partitions and returns the taps' total and the bytes
// (keys and values) per partition... in total.
func fillTopic(b *testing.B, brokers []string, topic string, partitions int) (taps, bytes int64) {
	b.Helper()
	p, err := NewPublisher(PublisherConfig{Brokers: brokers, Topic: topic, TapsPerMessage: benchTapsPerMessage})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	// One card per message's worth of taps keeps every message full.
	all := makeTaps(benchMessages*benchTapsPerMessage, benchMessages)
	slicesSortByCard(all)
	if err := p.Publish(context.Background(), all); err != nil {
		b.Fatal(err)
	}
	var enc encoder
	for _, m := range enc.encode(all, benchTapsPerMessage, partitions, time.Now()) {
		bytes += int64(len(m.Key) + len(m.Value))
	}
	return int64(len(all)), bytes
}

// slicesSortByCard orders taps by card, keeping each card's order, so
// that the encoder fills messages from one card at a time.
func slicesSortByCard(taps []transit.Tap) {
	byCard := map[transit.CardID][]transit.Tap{}
	var order []transit.CardID
	for _, t := range taps {
		if _, ok := byCard[t.Card]; !ok {
			order = append(order, t.Card)
		}
		byCard[t.Card] = append(byCard[t.Card], t)
	}
	taps = taps[:0]
	for _, c := range order {
		taps = append(taps, byCard[c]...)
	}
}

// reportRates reports messages, taps and allocations per message from a
// MemStats reading taken before the loop.
func reportRates(b *testing.B, before *runtime.MemStats, msgs, taps int64) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	sec := b.Elapsed().Seconds()
	total := float64(msgs) * float64(b.N)
	b.ReportMetric(total/sec, "msgs/s")
	b.ReportMetric(float64(taps)*float64(b.N)/sec, "taps/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/msg")
}

// BenchmarkFetch reads a one-partition topic of 64-tap messages through a
// PartitionReader, one full pass per op; "decode" also decodes every tap.
func BenchmarkFetch(b *testing.B) {
	const topic = "taps"
	brokers := startBrokerProcess(b, topic, 1)
	taps, size := fillTopic(b, brokers, topic, 1)
	tr := Security{}.transport()
	defer tr.CloseIdleConnections()
	client := newClient(brokers, tr)
	var fc FetchConfig
	fc.EnsureDefaults()
	for _, decode := range []bool{false, true} {
		name := "fetch"
		if decode {
			name = "fetch+decode"
		}
		b.Run(name, func(b *testing.B) {
			buf := make([]Message, 256)
			var dec Decoder
			decoded := make([]transit.Tap, 0, 256*benchTapsPerMessage)
			b.ReportAllocs()
			b.SetBytes(size)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			for b.Loop() {
				r := newPartitionReader(client, topic, 0, 0, fc, discardLogger)
				for read := 0; read < benchMessages; {
					n, err := r.Fetch(context.Background(), buf)
					if err != nil {
						b.Fatal(err)
					}
					if decode {
						decoded = decoded[:0]
						for i := range buf[:n] {
							decoded = dec.Decode(decoded, buf[i].Value, nil)
						}
					}
					read += n
				}
				r.Close()
			}
			reportRates(b, &ms, benchMessages, taps)
		})
	}
}

// BenchmarkPublish publishes 8192 taps per op, one per message or 64 per
// message.
func BenchmarkPublish(b *testing.B) {
	const (
		topic      = "taps"
		partitions = 4
		perOp      = 8192
	)
	brokers := startBrokerProcess(b, topic, partitions)
	taps := makeTaps(perOp, 512)
	for _, perMessage := range []int{1, 64} {
		b.Run(fmt.Sprintf("taps_per_message=%d", perMessage), func(b *testing.B) {
			p, err := NewPublisher(PublisherConfig{Brokers: brokers, Topic: topic, TapsPerMessage: perMessage})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Publish(context.Background(), taps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
		})
	}
}

// BenchmarkKafkaGoFetchPaths compares the three ways kafka-go can read a
// partition, one full pass of the topic per op: a partition Reader
// (FetchMessage), Conn.ReadBatch (ReadMessage), and Client.Fetch, which
// PartitionReader uses. Reader and Conn allocate a key and a value per
// message; Client.Fetch hands out references into pooled pages.
func BenchmarkKafkaGoFetchPaths(b *testing.B) {
	const topic = "taps"
	brokers := startBrokerProcess(b, topic, 1)
	taps, size := fillTopic(b, brokers, topic, 1)
	// A short MaxWait keeps the fetch that each pass leaves waiting at the
	// end of the partition from holding up Reader.Close; while records
	// are available (MinBytes 1) it plays no part.
	const (
		maxBytes = DefaultFetchMaxBytes
		maxWait  = 10 * time.Millisecond
	)
	run := func(b *testing.B, pass func(b *testing.B)) {
		b.ReportAllocs()
		b.SetBytes(size)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		for b.Loop() {
			pass(b)
		}
		reportRates(b, &ms, benchMessages, taps)
	}
	b.Run("reader", func(b *testing.B) {
		run(b, func(b *testing.B) {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: maxBytes, MaxWait: maxWait})
			defer r.Close()
			for range benchMessages {
				if _, err := r.FetchMessage(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("conn", func(b *testing.B) {
		run(b, func(b *testing.B) {
			c, err := kafka.DialLeader(context.Background(), "tcp", brokers[0], topic, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Seek(0, kafka.SeekAbsolute); err != nil {
				b.Fatal(err)
			}
			for read := 0; read < benchMessages; {
				batch := c.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: maxBytes, MaxWait: maxWait})
				for {
					if _, err := batch.ReadMessage(); err != nil {
						break
					}
					read++
				}
				if err := batch.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("client", func(b *testing.B) {
		tr := Security{}.transport()
		defer tr.CloseIdleConnections()
		client := newClient(brokers, tr)
		key, value := make([]byte, 0, 64), make([]byte, 0, 64<<10)
		run(b, func(b *testing.B) {
			for offset := int64(0); offset < benchMessages; {
				res, err := client.Fetch(context.Background(), &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: offset, MinBytes: 1, MaxBytes: maxBytes, MaxWait: maxWait})
				if err == nil {
					err = res.Error
				}
				if err != nil {
					b.Fatal(err)
				}
				for {
					rec, err := res.Records.ReadRecord()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					key, _ = readBytes(key, rec.Key)
					value, _ = readBytes(value, rec.Value)
					closeRecord(rec)
					offset = rec.Offset + 1
				}
			}
		})
	})
}
