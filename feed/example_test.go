package feed_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// Example publishes taps to an embedded broker, closes the day, and
// consumes the feed in a consumer group, committing each partition's
// position once its close-day message arrives.
func Example() {
	e, err := embedded.Start("taps", 2)
	if err != nil {
		panic(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var taps []transit.Tap
	for i, card := range []string{"3102000000000000001", "3102000000000000002", "3102000000000000001"} {
		line := fmt.Sprintf(`{"tap_id":"t-%d","card_id":%q,"card_product":"joinin","issuer":"330200","city":"330200","mode":"bus","action":"board","time":"2025-03-01T08:0%d:00+08:00"}`, i+1, card, i)
		var t transit.Tap
		if err := ingest.DecodeJSON([]byte(line), &t); err != nil {
			panic(err)
		}
		taps = append(taps, t)
	}
	pub, err := feed.NewPublisher(feed.PublisherConfig{Brokers: e.Addrs(), Topic: "taps", TapsPerMessage: 64})
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, taps); err != nil {
		panic(err)
	}
	if err := pub.CloseDay(ctx, "2025-03-01"); err != nil {
		panic(err)
	}

	g, err := feed.NewGroup(feed.GroupConfig{
		Brokers: e.Addrs(), Topic: "taps", GroupID: "settle",
		SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	defer g.Close()
	var (
		mu     sync.Mutex
		report []string
	)
	runCtx, stop := context.WithCancel(ctx)
	err = g.Run(runCtx, func(ctx context.Context, c *feed.Claim) error {
		r, err := c.Open(c.Committed)
		if err != nil {
			return err
		}
		var dec feed.Decoder
		var got []string
		buf := make([]feed.Message, 16)
		for {
			n, err := r.Fetch(ctx, buf)
			if err != nil {
				return err
			}
			for i := range buf[:n] {
				m := &buf[i]
				if m.Control == "" {
					for _, t := range dec.Decode(nil, m.Value, nil) {
						got = append(got, t.ID.String()+"@"+t.Card.String()[16:])
					}
					continue
				}
				day, err := feed.ParseCloseDay(m)
				if err != nil {
					return err
				}
				if err := c.Commit(m.Offset + 1); err != nil {
					return err
				}
				mu.Lock()
				report = append(report, fmt.Sprintf("partition %d: %s; closed %s", c.Partition, strings.Join(got, " "), day))
				if len(report) == 2 {
					stop()
				}
				mu.Unlock()
			}
		}
	})
	if err != nil {
		panic(err)
	}
	slices.Sort(report)
	fmt.Println(strings.Join(report, "\n"))
	// Output:
	// partition 0: t-1@001 t-3@001; closed 2025-03-01
	// partition 1: t-2@002; closed 2025-03-01
}
