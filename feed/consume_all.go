package feed

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/segmentio/kafka-go"
)

// consumeAllBuffer is how many messages each partition's loop takes from
// Fetch at a time.
const consumeAllBuffer = 64

// ConsumeAll reads the given partitions of topic (all of them when
// partitions is empty) from the earliest retained offset up to their
// high-water marks as of the call, concurrently, one PartitionReader per
// partition, without a consumer group, and calls fn for every message. It
// returns how many messages and key+value bytes it read.
//
// It is the baseline that BenchmarkStream (package stream) measures the
// streaming service against: the cost of moving the feed's bytes out of Kafka with
// kafka-go and nothing else. fn is called from one goroutine per
// partition at once, so it must be safe for concurrent use; the Message
// and its Key and Value are valid only during the call.
func ConsumeAll(ctx context.Context, brokers []string, sec Security, topic string, partitions []int, fn func(Message)) (msgs int64, bytes int64, err error) {
	if len(brokers) == 0 {
		return 0, 0, errors.New("feed: consume all: no brokers")
	}
	tr := sec.transport()
	defer tr.CloseIdleConnections()
	client := newClient(brokers, tr)
	if len(partitions) == 0 {
		n, err := partitionCount(ctx, client, topic)
		if err != nil {
			return 0, 0, fmt.Errorf("feed: consume all: %w", err)
		}
		partitions = partitionList(n)
	}
	ends, err := endOffsets(ctx, client, topic, partitions)
	if err != nil {
		return 0, 0, fmt.Errorf("feed: consume all: %w", err)
	}
	var fc FetchConfig
	fc.EnsureDefaults()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, p := range partitions {
		first, end := ends[p][0], ends[p][1]
		if first >= end {
			continue
		}
		wg.Go(func() {
			m, b, err := consumePartition(ctx, client, topic, p, first, end, fc, fn)
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

// consumePartition reads partition p from first up to end (exclusive).
func consumePartition(ctx context.Context, client *kafka.Client, topic string, p int, first, end int64, fc FetchConfig, fn func(Message)) (msgs, bytes int64, err error) {
	r := newPartitionReader(client, topic, p, first, fc, discardLogger)
	defer r.Close()
	buf := make([]Message, consumeAllBuffer)
	for {
		n, err := r.Fetch(ctx, buf)
		for i := range buf[:n] {
			m := &buf[i]
			if m.Offset >= end {
				return msgs, bytes, nil
			}
			fn(*m)
			msgs++
			bytes += int64(len(m.Key) + len(m.Value))
			if m.Offset == end-1 {
				return msgs, bytes, nil
			}
		}
		if err != nil {
			return msgs, bytes, fmt.Errorf("feed: consume %s/%d: %w", topic, p, err)
		}
	}
}

// endOffsets returns, per partition, the earliest retained offset and the
// high-water mark.
func endOffsets(ctx context.Context, client *kafka.Client, topic string, partitions []int) (map[int][2]int64, error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*len(partitions))
	for _, p := range partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("cannot list the offsets of %s: %w", topic, err)
	}
	out := make(map[int][2]int64, len(partitions))
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = [2]int64{po.FirstOffset, po.LastOffset}
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("offsets of %s/%d: %w", topic, p, kafka.UnknownTopicOrPartition)
		}
	}
	return out, nil
}
