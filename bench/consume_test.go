package bench

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/metrics"
)

// TestConsumeAll checks the counts of the bare consume loop against what
// was published (one tap a message, then a close-day message in every
// partition), for all partitions and for a subset.
func TestConsumeAll(t *testing.T) {
	const (
		topic      = "taps"
		partitions = 4
		closeDay   = "2025-03-03"
	)
	e, err := embedded.Start(topic, partitions)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	taps := gen(t, GenOptions{Taps: 400, Seed: 7, Malformed: -1, Duplicates: -1}).Taps()
	p, err := feed.NewPublisher(feed.PublisherConfig{Brokers: e.Addrs(), Topic: topic, TapsPerMessage: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, taps); err != nil {
		t.Fatal(err)
	}
	if err := p.CloseDay(ctx, closeDay); err != nil {
		t.Fatal(err)
	}
	perPartition := make([]int64, partitions)
	for i := range taps {
		perPartition[feed.PartitionOf(taps[i].Card.Bytes(), partitions)]++
	}
	for _, subset := range [][]int{nil, {1, 3}} {
		var want int64
		for p := range partitions {
			if subset == nil || p == 1 || p == 3 {
				want += perPartition[p] + 1
			}
		}
		var calls, controls, seenBytes atomic.Int64
		msgs, bytes, err := ConsumeAll(ctx, e.Addrs(), feed.Security{}, topic, subset, func(m feed.Message) {
			calls.Add(1)
			seenBytes.Add(int64(len(m.Key) + len(m.Value)))
			if m.Control != "" {
				controls.Add(1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if msgs != want || calls.Load() != msgs || bytes != seenBytes.Load() {
			t.Errorf("partitions %v: %d messages (%d calls), %d bytes (%d seen); want %d messages", subset, msgs, calls.Load(), bytes, seenBytes.Load(), want)
		}
		if wantControls := int64(len(subset)); subset != nil && controls.Load() != wantControls {
			t.Errorf("partitions %v: %d close-day messages, want %d", subset, controls.Load(), wantControls)
		}
	}
	if _, _, err := ConsumeAll(ctx, nil, feed.Security{}, topic, nil, func(feed.Message) {}); err == nil {
		t.Error("ConsumeAll without brokers succeeded")
	}
}

// TestAwaitConsumed: it returns once the count is reached, and with an
// error when the service stops first.
func TestAwaitConsumed(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := metrics.New(reg, nil).NewCounts(1)
	done := make(chan error, 1)
	go func() {
		for range 5 {
			time.Sleep(2 * time.Millisecond)
			c.Messages(2, 10)
			c.Publish()
		}
	}()
	if err := AwaitConsumed(reg, 10, done); err != nil {
		t.Fatalf("waiting for 10 of the 10 messages published: %v", err)
	}
	gone := errors.New("broker gone")
	done <- gone
	err := AwaitConsumed(reg, 11, done)
	if !errors.Is(err, gone) || !strings.Contains(err.Error(), "10 of 11") {
		t.Fatalf("a service that stops after 10 of 11 messages: %v", err)
	}
}
