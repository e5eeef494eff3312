package feed

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// MaxPartitions bounds the partition count CreateTopic accepts. Each
// partition of the feed is a claim with its own fetch pipeline and engine
// shard feed; thousands would be a configuration mistake.
const MaxPartitions = 4096

// CreateTopic creates topic with the given number of partitions and the
// brokers' default replication factor (default.replication.factor). It is
// idempotent: a topic that already exists with that partition count is
// success, one with another count is an error wrapping ErrPartitionCount.
func CreateTopic(ctx context.Context, brokers []string, sec Security, topic string, partitions int) error {
	if len(brokers) == 0 {
		return errors.New("feed: create topic: no brokers")
	}
	if topic == "" {
		return errors.New("feed: create topic: empty topic name")
	}
	if partitions < 1 || partitions > MaxPartitions {
		return fmt.Errorf("feed: create topic %s: %d partitions, want 1..%d", topic, partitions, MaxPartitions)
	}
	tr := sec.transport()
	defer tr.CloseIdleConnections()
	client := newClient(brokers, tr)
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{
			Topic:             topic,
			NumPartitions:     partitions,
			ReplicationFactor: -1, // the broker's default (KIP-464)
		}},
	})
	if err != nil {
		return fmt.Errorf("feed: create topic %s: %w", topic, err)
	}
	switch err := res.Errors[topic]; {
	case err == nil:
		return nil
	case !errors.Is(err, kafka.TopicAlreadyExists):
		return fmt.Errorf("feed: create topic %s: %w", topic, err)
	}
	n, err := partitionCount(ctx, client, topic)
	if err != nil {
		return fmt.Errorf("feed: create topic %s: it exists, but %w", topic, err)
	}
	if n != partitions {
		return fmt.Errorf("%s has %d, want %d: %w", topic, n, partitions, ErrPartitionCount)
	}
	return nil
}

// partitionCount returns the number of partitions of topic. Through a
// kafka.Transport it is answered from the transport's metadata cache, so
// calling it on every Publish costs no round trip.
func partitionCount(ctx context.Context, client *kafka.Client, topic string) (int, error) {
	res, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("feed: read the metadata of topic %s: %w", topic, err)
	}
	for _, t := range res.Topics {
		if t.Name != topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return 0, fmt.Errorf("topic %s: %w (%w)", topic, ErrUnknownTopic, t.Error)
		}
		if t.Error != nil {
			return 0, fmt.Errorf("topic %s: %w", topic, t.Error)
		}
		if len(t.Partitions) == 0 {
			return 0, fmt.Errorf("topic %s has no partitions", topic)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("topic %s: %w (%w)", topic, ErrUnknownTopic, kafka.UnknownTopicOrPartition)
}
