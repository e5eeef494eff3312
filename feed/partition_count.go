package feed

import (
	"context"
	"fmt"
)

// PartitionCount returns the number of partitions of topic, from the
// brokers' metadata.
func PartitionCount(ctx context.Context, brokers []string, sec Security, topic string) (int, error) {
	tr := sec.transport()
	defer tr.CloseIdleConnections() // also stops the pool's metadata refresher
	client := newClient(brokers, tr)
	n, err := partitionCount(ctx, client, topic)
	if err != nil {
		return 0, fmt.Errorf("feed: %w", err)
	}
	return n, nil
}
