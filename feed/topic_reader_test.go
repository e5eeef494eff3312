package feed

import (
	"context"
	"testing"
	"time"
)

// topicMessages returns how many messages topic holds: the sum of its
// partitions' offset ranges.
func topicMessages(ctx context.Context, brokers []string, topic string) (int64, error) {
	tr := NewTopicReader(brokers, Security{}, topic)
	defer tr.Close()
	n, err := tr.PartitionCount(ctx)
	if err != nil {
		return 0, err
	}
	ranges, err := tr.Offsets(ctx, partitionList(n))
	if err != nil {
		return 0, err
	}
	var msgs int64
	for _, r := range ranges {
		msgs += r.End - r.First
	}
	return msgs, nil
}

// TestTopicReader: the offset ranges count what was published to each
// partition, and a partition opened at its first offset gives its
// messages in order, without a consumer group.
func TestTopicReader(t *testing.T) {
	const (
		topic      = "taps"
		partitions = 3
	)
	e := startBroker(t, topic, partitions)
	taps := makeTaps(300, 40)
	p, err := NewPublisher(PublisherConfig{Brokers: e.Addrs(), Topic: topic, TapsPerMessage: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, taps); err != nil {
		t.Fatal(err)
	}
	want := make([]int64, partitions)
	for i := range taps {
		want[PartitionOf(taps[i].Card.Bytes(), partitions)]++
	}
	tr := NewTopicReader(e.Addrs(), Security{}, topic)
	defer tr.Close()
	if n, err := tr.PartitionCount(ctx); err != nil || n != partitions {
		t.Fatalf("PartitionCount = %d, %v; want %d", n, err, partitions)
	}
	ranges, err := tr.Offsets(ctx, []int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	for p := range partitions {
		r := ranges[p]
		if r.First != 0 || r.End != want[p] {
			t.Errorf("partition %d: offsets %+v, want 0..%d", p, r, want[p])
		}
		pr := tr.Open(p, r.First, FetchConfig{})
		buf := make([]Message, 16)
		for next := r.First; next < r.End; {
			n, err := pr.Fetch(ctx, buf)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range buf[:n] {
				if m.Offset != next {
					t.Fatalf("partition %d: message at offset %d, want %d", p, m.Offset, next)
				}
				next++
			}
		}
		pr.Close()
	}
	if _, err := tr.Offsets(ctx, []int{partitions}); err == nil {
		t.Error("Offsets of a partition the topic lacks succeeded")
	}
}
