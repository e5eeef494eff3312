// Package embedded runs an in-process Kafka broker (franz-go's kfake): one
// broker on a loopback TCP port, speaking the Kafka wire protocol, keeping
// its log in memory. It serves the demo, the benchmarks and the tests; it is
// not a production broker, so it lives apart from package feed, as kafka-go
// keeps its testing package apart from the client.
package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// minSessionTimeout lowers kfake's group.min.session.timeout.ms (6 s, as on
// Kafka) so that tests and the demo can use short sessions and see a dead
// member's partitions move within a second.
const minSessionTimeout = 100 * time.Millisecond

// MaxPartitions is the most partitions Start creates: feed.MaxPartitions,
// which this package cannot import because feed's own tests import it.
const MaxPartitions = 4096

// Broker is a running in-process broker.
type Broker struct {
	cluster *kfake.Cluster
}

// Start starts a broker with topic created with the given number of
// partitions. Close it when done.
func Start(topic string, partitions int) (*Broker, error) {
	if topic == "" {
		return nil, errors.New("embedded broker: empty topic name")
	}
	if partitions < 1 || partitions > MaxPartitions {
		return nil, fmt.Errorf("embedded broker: %d partitions, want 1..%d", partitions, MaxPartitions)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(partitions), topic),
		kfake.GroupMinSessionTimeout(minSessionTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	return &Broker{cluster: c}, nil
}

// Addrs returns the broker's "127.0.0.1:port" addresses.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Close stops the broker and drops its data.
func (b *Broker) Close() { b.cluster.Close() }
