package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
)

// TestMaxPartitions: the bound Start enforces is feed's, which the package
// repeats because it cannot import feed.
func TestMaxPartitions(t *testing.T) {
	if embedded.MaxPartitions != feed.MaxPartitions {
		t.Fatalf("embedded.MaxPartitions = %d, feed.MaxPartitions = %d", embedded.MaxPartitions, feed.MaxPartitions)
	}
	for _, n := range []int{0, feed.MaxPartitions + 1} {
		if b, err := embedded.Start("taps", n); err == nil {
			b.Close()
			t.Errorf("Start with %d partitions succeeded", n)
		}
	}
	if _, err := embedded.Start("", 1); err == nil {
		t.Error("Start with an empty topic name succeeded")
	}
}

// TestStart: the broker serves the topic with the partitions asked for.
func TestStart(t *testing.T) {
	b, err := embedded.Start("taps", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := feed.PartitionCount(ctx, b.Addrs(), feed.Security{}, "taps")
	if err != nil || n != 3 {
		t.Fatalf("PartitionCount = %d, %v; want 3", n, err)
	}
}
