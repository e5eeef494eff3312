package feed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tapsettle/tapsettle/transit"
)

// TestPublishConsume publishes taps through Publisher and reads them back
// through a Group: every tap arrives exactly once, in the partition its
// card maps to, in publish order per card, and the close-day control
// message reaches every partition after the taps.
func TestPublishConsume(t *testing.T) {
	const (
		partitions = 6
		day        = "2025-03-01"
	)
	tests := []struct {
		name        string
		perMessage  int
		compression kafka.Compression
		taps, cards int
	}{
		{name: "one tap per message", perMessage: 1, taps: 3000, cards: 211},
		{name: "batches of 64", perMessage: 64, taps: 6000, cards: 211},
		{name: "batches of 64 zstd", perMessage: 64, compression: kafka.Zstd, taps: 2000, cards: 97},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := fmt.Sprintf("taps-%d", i)
			e := startBroker(t, topic, partitions)
			taps := makeTaps(tt.taps, tt.cards)
			p, err := NewPublisher(PublisherConfig{
				Brokers:        e.Addrs(),
				Topic:          topic,
				TapsPerMessage: tt.perMessage,
				Compression:    tt.compression,
				Logger:         testLogger(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// Two calls: order per card must hold across them too.
			half := len(taps) / 2
			for _, part := range [][]transit.Tap{taps[:half], taps[half:]} {
				if err := p.Publish(ctx, part); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.CloseDay(ctx, day); err != nil {
				t.Fatal(err)
			}

			log := consumeUntilClosed(t, groupConfig(t, e, topic, "settle"), partitions, 40*time.Second)
			checkFeed(t, log, taps, partitions, tt.perMessage, day)
		})
	}
}

// checkFeed checks what a consumer read against the taps published.
func checkFeed(t *testing.T, log *feedLog, taps []transit.Tap, partitions, perMessage int, day string) {
	t.Helper()
	if log.rejects != 0 {
		t.Errorf("%d lines were rejected", log.rejects)
	}
	wantDay, err := transit.ParseDay(day)
	if err != nil {
		t.Fatal(err)
	}
	// want[card] lists the card's taps in publish order.
	want := map[transit.CardID][]transit.Tap{}
	for _, tap := range taps {
		want[tap.Card] = append(want[tap.Card], tap)
	}
	got := map[transit.CardID][]transit.Tap{}
	seen := map[transit.TapID]int{}
	cardPartition := map[transit.CardID]int{}
	for p := range partitions {
		msgs := log.sorted(p)
		if len(msgs) == 0 {
			t.Errorf("partition %d: no messages", p)
			continue
		}
		for i, m := range msgs {
			if m.offset != int64(i) {
				t.Fatalf("partition %d: message %d has offset %d", p, i, m.offset)
			}
		}
		last := msgs[len(msgs)-1]
		if last.control != ControlCloseDay || last.key != "" {
			t.Errorf("partition %d: last message is control %q key %q, want %q without key", p, last.control, last.key, ControlCloseDay)
		}
		if d, ok := log.closed[p]; !ok || d != wantDay {
			t.Errorf("partition %d: closed day %v (seen %v), want %v", p, d, ok, wantDay)
		}
		for _, m := range msgs[:len(msgs)-1] {
			if m.control != "" {
				t.Errorf("partition %d offset %d: unexpected control %q", p, m.offset, m.control)
				continue
			}
			if n := len(m.taps); n == 0 || n > perMessage {
				t.Errorf("partition %d offset %d: %d taps, want 1..%d", p, m.offset, n, perMessage)
				continue
			}
			if m.key != m.taps[0].Card.String() {
				t.Errorf("partition %d offset %d: key %q, want the first tap's card %q", p, m.offset, m.key, m.taps[0].Card.String())
			}
			for _, tap := range m.taps {
				seen[tap.ID]++
				if want := PartitionOf(tap.Card.Bytes(), partitions); want != p {
					t.Errorf("tap %s of card %s in partition %d, want %d", tap.ID, tap.Card, p, want)
				}
				if q, ok := cardPartition[tap.Card]; ok && q != p {
					t.Errorf("card %s in partitions %d and %d", tap.Card, q, p)
				}
				cardPartition[tap.Card] = p
				got[tap.Card] = append(got[tap.Card], tap)
			}
		}
	}
	for _, tap := range taps {
		if n := seen[tap.ID]; n != 1 {
			t.Errorf("tap %s arrived %d times, want once", tap.ID, n)
		}
	}
	for card, w := range want {
		g := got[card]
		if len(g) != len(w) {
			continue // reported above, tap by tap
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("card %s: tap %d is %s, want %s (order or content differs)", card, i, g[i].ID, w[i].ID)
				break
			}
		}
	}
}
