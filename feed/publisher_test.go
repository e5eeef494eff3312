package feed

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

func TestCreateTopic(t *testing.T) {
	e := startBroker(t, "seeded", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		topic      string
		partitions int
		wantErr    error // nil: success; errAny: some error
	}{
		{"seeded", 3, nil},
		{"seeded", 4, ErrPartitionCount},
		{"fresh", 5, nil},
		{"fresh", 5, nil}, // idempotent
		{"fresh", 1, ErrPartitionCount},
		{"", 1, errAny},
		{"zero", 0, errAny},
		{"many", MaxPartitions + 1, errAny},
	}
	for _, tt := range tests {
		err := CreateTopic(ctx, e.Addrs(), Security{}, tt.topic, tt.partitions)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("CreateTopic(%q, %d): %v", tt.topic, tt.partitions, err)
		case tt.wantErr == errAny && err == nil:
			t.Errorf("CreateTopic(%q, %d) succeeded, want an error", tt.topic, tt.partitions)
		case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
			t.Errorf("CreateTopic(%q, %d) = %v, want %v", tt.topic, tt.partitions, err, tt.wantErr)
		}
	}
	// The created topic is usable, with its partitions.
	for topic, want := range map[string]int{"seeded": 3, "fresh": 5} {
		if n, err := PartitionCount(ctx, e.Addrs(), Security{}, topic); n != want || err != nil {
			t.Errorf("PartitionCount(%q) = %d, %v; want %d", topic, n, err, want)
		}
	}
	if _, err := PartitionCount(ctx, e.Addrs(), Security{}, "missing"); err == nil {
		t.Error("PartitionCount of a missing topic succeeded")
	}
	msgs, err := topicMessages(ctx, e.Addrs(), "fresh")
	if err != nil || msgs != 0 {
		t.Errorf("the new topic holds %d messages (%v), want 0", msgs, err)
	}
}

var errAny = errors.New("any error")

func TestPublisherConfigValidate(t *testing.T) {
	ok := PublisherConfig{Brokers: []string{"localhost:9092"}, Topic: "taps"}
	tests := []struct {
		name   string
		modify func(*PublisherConfig)
		want   string // "" for valid
	}{
		{"defaults", func(*PublisherConfig) {}, ""},
		{"no brokers", func(c *PublisherConfig) { c.Brokers = nil }, "Brokers"},
		{"no topic", func(c *PublisherConfig) { c.Topic = "" }, "Topic"},
		{"negative batch", func(c *PublisherConfig) { c.TapsPerMessage = -1 }, "TapsPerMessage"},
		{"huge batch", func(c *PublisherConfig) { c.TapsPerMessage = MaxTapsPerMessage + 1 }, "TapsPerMessage"},
		{"largest batch", func(c *PublisherConfig) { c.TapsPerMessage = MaxTapsPerMessage }, ""},
		{"tiny batch bytes", func(c *PublisherConfig) { c.BatchBytes = 100 }, "BatchBytes"},
		{"negative timeout", func(c *PublisherConfig) { c.BatchTimeout = -time.Second }, "BatchTimeout"},
	}
	for _, tt := range tests {
		c := ok
		tt.modify(&c)
		_, err := NewPublisher(c)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: NewPublisher error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

func TestGroupConfigValidate(t *testing.T) {
	ok := GroupConfig{Brokers: []string{"localhost:9092"}, Topic: "taps", GroupID: "settle"}
	tests := []struct {
		name   string
		modify func(*GroupConfig)
		want   string
	}{
		{"defaults", func(*GroupConfig) {}, ""},
		{"no brokers", func(c *GroupConfig) { c.Brokers = nil }, "Brokers"},
		{"no topic", func(c *GroupConfig) { c.Topic = "" }, "Topic"},
		{"no group", func(c *GroupConfig) { c.GroupID = "" }, "GroupID"},
		{"heartbeat too slow", func(c *GroupConfig) { c.SessionTimeout, c.HeartbeatInterval = time.Second, 2*time.Second }, "HeartbeatInterval"},
		{"negative session", func(c *GroupConfig) { c.SessionTimeout = -1 }, "SessionTimeout"},
		{"negative backoff", func(c *GroupConfig) { c.JoinGroupBackoff = -1 }, "JoinGroupBackoff"},
		{"fetch too small", func(c *GroupConfig) { c.Fetch.MaxBytes = 10 }, "MaxBytes"},
		{"fetch wait too long", func(c *GroupConfig) { c.Fetch.MaxWait = time.Minute }, "MaxWait"},
		{"negative prefetch", func(c *GroupConfig) { c.Fetch.Prefetch = -1 }, "Prefetch"},
	}
	for _, tt := range tests {
		c := ok
		tt.modify(&c)
		_, err := NewGroup(c)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: NewGroup error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

// TestPublishRefuses checks what Publish and CloseDay refuse: an invalid
// tap (then nothing of the call is published), a malformed day, use after
// Close.
func TestPublishRefuses(t *testing.T) {
	const topic = "taps"
	e := startBroker(t, topic, 2)
	p, err := NewPublisher(PublisherConfig{Brokers: e.Addrs(), Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	taps := makeTaps(10, 3)
	taps[7].Mode = transit.ModeBus // a bus tap with action entry
	err = p.Publish(ctx, taps)
	if err == nil || !strings.Contains(err.Error(), "tap 7") {
		t.Errorf("Publish of an invalid tap returned %v, want an error naming tap 7", err)
	}
	for _, day := range []string{"2025-3-1", "yesterday", "2025-02-30", ""} {
		if err := p.CloseDay(ctx, day); err == nil {
			t.Errorf("CloseDay(%q) succeeded, want an error", day)
		}
	}
	if err := p.Publish(ctx, nil); err != nil {
		t.Errorf("Publish of no taps: %v", err)
	}
	msgs, err := topicMessages(ctx, e.Addrs(), topic)
	if err != nil || msgs != 0 {
		t.Errorf("after refused calls the topic holds %d messages (%v), want 0", msgs, err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, taps[:1]); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close returned %v, want ErrClosed", err)
	}
	if err := p.CloseDay(ctx, "2025-03-01"); !errors.Is(err, ErrClosed) {
		t.Errorf("CloseDay after Close returned %v, want ErrClosed", err)
	}
}
