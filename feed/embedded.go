package feed

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// embeddedMinSessionTimeout lowers kfake's group.min.session.timeout.ms
// (6 s, as on Kafka) so that tests and the demo can use short sessions and
// see a dead member's partitions move within a second.
const embeddedMinSessionTimeout = 100 * time.Millisecond

// Embedded is an in-process Kafka broker (franz-go's kfake): one broker on
// a loopback TCP port, speaking the Kafka wire protocol, keeping its log in
// memory. It serves the demo and the tests; it is not a production broker.
type Embedded struct {
	cluster *kfake.Cluster
}

// StartEmbedded starts a broker with topic created with the given number
// of partitions. Close it when done.
func StartEmbedded(topic string, partitions int) (*Embedded, error) {
	if topic == "" {
		return nil, fmt.Errorf("feed: embedded broker: empty topic name")
	}
	if partitions < 1 || partitions > MaxPartitions {
		return nil, fmt.Errorf("feed: embedded broker: %d partitions, want 1..%d", partitions, MaxPartitions)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(partitions), topic),
		kfake.GroupMinSessionTimeout(embeddedMinSessionTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("feed: start embedded broker: %w", err)
	}
	return &Embedded{cluster: c}, nil
}

// Addrs returns the broker's "127.0.0.1:port" addresses.
func (e *Embedded) Addrs() []string { return e.cluster.ListenAddrs() }

// Close stops the broker and drops its data.
func (e *Embedded) Close() { e.cluster.Close() }
