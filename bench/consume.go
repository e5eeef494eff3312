package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/metrics"
)

// consumeAllBuffer is how many messages each partition's loop takes from
// Fetch at a time.
const consumeAllBuffer = 64

// ConsumeAll reads the given partitions of topic (all of them when
// partitions is empty) from the earliest retained offset up to their
// high-water marks as of the call, concurrently, one feed.PartitionReader
// per partition, without a consumer group, and calls fn for every message.
// It returns how many messages and key+value bytes it read.
//
// It is the baseline that the streaming benchmarks (tapsettle bench,
// BenchmarkStream in package stream) measure the service against: the cost
// of moving the feed's bytes out of Kafka with kafka-go and nothing else.
// fn is called from one goroutine per partition at once, so it must be
// safe for concurrent use; the Message and its Key and Value are valid
// only during the call.
func ConsumeAll(ctx context.Context, brokers []string, sec feed.Security, topic string, partitions []int, fn func(feed.Message)) (msgs int64, bytes int64, err error) {
	if len(brokers) == 0 {
		return 0, 0, errors.New("consume all: no brokers")
	}
	tr := feed.NewTopicReader(brokers, sec, topic)
	defer tr.Close()
	if len(partitions) == 0 {
		n, err := tr.PartitionCount(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("consume all: %w", err)
		}
		partitions = make([]int, n)
		for i := range partitions {
			partitions[i] = i
		}
	}
	ends, err := tr.Offsets(ctx, partitions)
	if err != nil {
		return 0, 0, fmt.Errorf("consume all: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, p := range partitions {
		r := ends[p]
		if r.First >= r.End {
			continue
		}
		wg.Go(func() {
			m, b, err := consumePartition(ctx, tr, topic, p, r, fn)
			mu.Lock()
			defer mu.Unlock()
			msgs += m
			bytes += b
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		})
	}
	wg.Wait()
	return msgs, bytes, firstErr
}

// consumePartition reads partition p over its offset range r.
func consumePartition(ctx context.Context, tr *feed.TopicReader, topic string, p int, r feed.OffsetRange, fn func(feed.Message)) (msgs, bytes int64, err error) {
	pr := tr.Open(p, r.First, feed.FetchConfig{})
	defer pr.Close()
	buf := make([]feed.Message, consumeAllBuffer)
	for {
		n, err := pr.Fetch(ctx, buf)
		for i := range buf[:n] {
			m := &buf[i]
			if m.Offset >= r.End {
				return msgs, bytes, nil
			}
			fn(*m)
			msgs++
			bytes += int64(len(m.Key) + len(m.Value))
			if m.Offset == r.End-1 {
				return msgs, bytes, nil
			}
		}
		if err != nil {
			return msgs, bytes, fmt.Errorf("consume %s/%d: %w", topic, p, err)
		}
	}
}

// AwaitConsumed waits until the service whose metrics g gathers has
// consumed msgs messages (metrics.MessagesConsumed), polling every
// millisecond. It returns an error if the service stops first (a value
// arrives on done), or if the count stops moving for a minute, rather than
// hang.
func AwaitConsumed(g prometheus.Gatherer, msgs float64, done <-chan error) error {
	seen, moved := -1.0, time.Now()
	for {
		n, err := metrics.MessagesConsumed(g)
		switch {
		case err != nil:
			return err
		case n >= msgs:
			return nil
		case n > seen:
			seen, moved = n, time.Now()
		case time.Since(moved) > time.Minute:
			return fmt.Errorf("the service consumed %.0f of %.0f messages and then nothing for a minute", n, msgs)
		}
		select {
		case err := <-done:
			if err == nil {
				return fmt.Errorf("the service stopped after %.0f of %.0f messages", n, msgs)
			}
			return fmt.Errorf("the service stopped after %.0f of %.0f messages: %w", n, msgs, err)
		case <-time.After(time.Millisecond):
		}
	}
}
