package feed

import (
	"sync/atomic"

	"github.com/segmentio/kafka-go"
)

// PartitionOf returns the partition, among n, of a message keyed by card:
// murmur2 of the key, as the Java client's default partitioner, kafka-go's
// Murmur2Balancer and librdkafka's murmur2_random partitioner (kcat -X
// partitioner=murmur2_random) compute it. Every producer of the feed must
// use it, or a card's taps would spread over partitions and lose their
// order. It panics if n < 1.
func PartitionOf(card []byte, n int) int {
	// Consistent makes an empty key hash like any other instead of going
	// to a random partition; card_id is never empty.
	return kafka.Murmur2Balancer{Consistent: true}.Balance(kafka.Message{Key: card}, partitionList(n)...)
}

// partitionIDs caches the list 0..n-1 that kafka-go's Balancer interface
// wants, grown on demand and shared read-only.
var partitionIDs atomic.Pointer[[]int]

func partitionList(n int) []int {
	if p := partitionIDs.Load(); p != nil && len(*p) >= n {
		return (*p)[:n]
	}
	ids := make([]int, max(n, 64))
	for i := range ids {
		ids[i] = i
	}
	partitionIDs.Store(&ids)
	return ids[:n]
}

// presetBalancer sends a message to the partition that Publisher chose
// for it and stored in Message.Partition (kafka-go's Writer ignores that
// field otherwise). Choosing before the Writer does lets Publisher group a
// batch's taps by partition and address control messages to each
// partition. A partition that the Writer does not know (the topic changed
// between the two metadata lookups) falls back to murmur2 on the key.
type presetBalancer struct{}

func (presetBalancer) Balance(msg kafka.Message, partitions ...int) int {
	if p := msg.Partition; p >= 0 && p < len(partitions) && partitions[p] == p {
		return p
	}
	return kafka.Murmur2Balancer{Consistent: true}.Balance(msg, partitions...)
}
