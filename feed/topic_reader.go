package feed

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// TopicReader reads the partitions of a topic outside any consumer group,
// from offsets its caller chooses: what a benchmark's bare read of a topic
// needs (package bench), where the service reads through a Group. Its
// partition readers share one connection pool. Close it when done.
type TopicReader struct {
	topic  string
	tr     *kafka.Transport
	client *kafka.Client
}

// OffsetRange is a partition's earliest retained offset (First) and its
// high-water mark (End), the offset its next message will have.
type OffsetRange struct {
	First, End int64
}

// NewTopicReader returns a reader of topic on brokers.
func NewTopicReader(brokers []string, sec Security, topic string) *TopicReader {
	tr := sec.transport()
	return &TopicReader{topic: topic, tr: tr, client: newClient(brokers, tr)}
}

// PartitionCount returns the number of the topic's partitions.
func (t *TopicReader) PartitionCount(ctx context.Context) (int, error) {
	return partitionCount(ctx, t.client, t.topic)
}

// Offsets returns the offset range of each of the given partitions now.
func (t *TopicReader) Offsets(ctx context.Context, partitions []int) (map[int]OffsetRange, error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*len(partitions))
	for _, p := range partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := t.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{t.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list the offsets of %s: %w", t.topic, err)
	}
	out := make(map[int]OffsetRange, len(partitions))
	for _, po := range res.Topics[t.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", t.topic, po.Partition, po.Error)
		}
		out[po.Partition] = OffsetRange{First: po.FirstOffset, End: po.LastOffset}
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("offsets of %s/%d: %w", t.topic, p, kafka.UnknownTopicOrPartition)
		}
	}
	return out, nil
}

// Open returns a reader of partition p from offset, fetching as cfg says
// (zero fields take their defaults). Close it before the TopicReader.
func (t *TopicReader) Open(p int, offset int64, cfg FetchConfig) *PartitionReader {
	cfg.EnsureDefaults()
	return newPartitionReader(t.client, t.topic, p, offset, cfg, discardLogger)
}

// Close closes the reader's idle connections.
func (t *TopicReader) Close() { t.tr.CloseIdleConnections() }
