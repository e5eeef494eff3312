package feed

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// gotMessage is one message as a test consumer saw it.
type gotMessage struct {
	offset  int64
	key     string
	control string
	value   string
	taps    []transit.Tap
}

// feedLog is what consumeUntilClosed collected, by partition, keyed by
// offset: a partition read twice (after a rebalance) must read the same.
type feedLog struct {
	mu       sync.Mutex
	messages map[int]map[int64]gotMessage
	closed   map[int]transit.Day
	rejects  int
}

// sorted returns the partition's messages in offset order.
func (l *feedLog) sorted(p int) []gotMessage {
	var out []gotMessage
	for _, m := range l.messages[p] {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b gotMessage) int { return int(a.offset - b.offset) })
	return out
}

// consumeUntilClosed runs a Group member over topic until every one of
// its partitions has delivered a close-day control message, and returns
// what it read.
func consumeUntilClosed(t *testing.T, cfg GroupConfig, partitions int, timeout time.Duration) *feedLog {
	t.Helper()
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	log := &feedLog{messages: map[int]map[int64]gotMessage{}, closed: map[int]transit.Day{}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	allClosed := make(chan struct{})
	var closeOnce sync.Once
	runErr := make(chan error, 1)
	go func() {
		runErr <- g.Run(ctx, func(ctx context.Context, c *Claim) error {
			r, err := c.Open(c.Committed)
			if err != nil {
				return err
			}
			var dec Decoder
			buf := make([]Message, 32)
			for {
				n, err := r.Fetch(ctx, buf)
				for i := range buf[:n] {
					m := &buf[i]
					got := gotMessage{offset: m.Offset, key: string(m.Key), control: m.Control, value: string(m.Value)}
					if m.Control == "" {
						got.taps = dec.Decode(nil, m.Value, func(int, []byte, *ingest.FieldError) {
							log.mu.Lock()
							log.rejects++
							log.mu.Unlock()
						})
					}
					log.mu.Lock()
					if log.messages[c.Partition] == nil {
						log.messages[c.Partition] = map[int64]gotMessage{}
					}
					if prev, ok := log.messages[c.Partition][m.Offset]; ok && prev.value != got.value {
						t.Errorf("partition %d offset %d read twice with different values", c.Partition, m.Offset)
					}
					log.messages[c.Partition][m.Offset] = got
					if m.Control == ControlCloseDay {
						d, err := ParseCloseDay(m)
						if err != nil {
							t.Errorf("partition %d: %v", c.Partition, err)
						}
						log.closed[c.Partition] = d
						if len(log.closed) == partitions {
							closeOnce.Do(func() { close(allClosed) })
						}
					}
					log.mu.Unlock()
				}
				if err != nil {
					return err
				}
			}
		})
	}()
	select {
	case <-allClosed:
	case err := <-runErr:
		t.Fatalf("Run returned before every partition was closed: %v", err)
	case <-ctx.Done():
		log.mu.Lock()
		n := len(log.closed)
		log.mu.Unlock()
		t.Fatalf("timed out: close-day seen on %d of %d partitions", n, partitions)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run returned %v after its context was cancelled, want nil", err)
	}
	return log
}
