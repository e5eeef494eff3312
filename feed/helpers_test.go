package feed

import (
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/transit"
)

// makeTaps returns n valid taps over cards cards, every card's taps in
// time order: bus boards and metro entry/exit pairs in Ningbo and Beijing,
// some with a device. The same arguments always give the same taps.
func makeTaps(n, cards int) []transit.Tap {
	base := time.Date(2025, 3, 1, 6, 0, 0, 0, time.UTC).UnixNano()
	taps := make([]transit.Tap, n)
	for i := range taps {
		t := &taps[i]
		card := i % cards
		seq := i / cards // the card's seq-th tap
		t.Time = base + int64(seq)*int64(7*time.Minute) + int64(card)*int64(time.Second)
		t.Offset = 8 * 3600
		t.Issuer = transit.Ningbo
		t.City = transit.Ningbo
		t.Product = transit.ProductJoinIn
		if card%3 == 1 {
			t.Issuer, t.Product = 110100, transit.ProductStandard
		}
		if card%5 == 2 {
			t.City = 110100
		}
		must(t.ID.Set(fmt.Appendf(nil, "t-%07d", i)))
		must(t.Card.Set(fmt.Appendf(nil, "31020000%011d", card*7919)))
		switch seq % 3 {
		case 0:
			t.Mode, t.Action = transit.ModeBus, transit.ActionBoard
			must(t.Line.Set(fmt.Appendf(nil, "B-%d", card%40)))
		case 1:
			t.Mode, t.Action = transit.ModeMetro, transit.ActionEntry
			must(t.Line.Set([]byte("地铁1号线")))
			must(t.Stop.Set(fmt.Appendf(nil, "ML1-%02d", card%20)))
		case 2:
			t.Mode, t.Action = transit.ModeMetro, transit.ActionExit
			must(t.Line.Set([]byte("地铁1号线")))
			must(t.Stop.Set(fmt.Appendf(nil, "ML1-%02d", (card+7)%20)))
		}
		if i%4 == 0 {
			must(t.Device.Set(fmt.Appendf(nil, "v-%d", i%97)))
		}
	}
	return taps
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// startBroker starts an embedded broker for the test.
func startBroker(tb testing.TB, topic string, partitions int) *embedded.Broker {
	tb.Helper()
	e, err := embedded.Start(topic, partitions)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}

// testLogger writes warnings and errors (or everything with -v and
// FEED_DEBUG=1) to the test's output.
func testLogger(tb testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("FEED_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// groupConfig is a GroupConfig with timeouts short enough for tests:
// kfake accepts sessions down to 100ms (embedded.Start).
func groupConfig(tb testing.TB, e *embedded.Broker, topic, group string) GroupConfig {
	return GroupConfig{
		Brokers:           e.Addrs(),
		Topic:             topic,
		GroupID:           group,
		SessionTimeout:    2 * time.Second,
		RebalanceTimeout:  3 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		JoinGroupBackoff:  100 * time.Millisecond,
		Fetch:             FetchConfig{MaxWait: 100 * time.Millisecond},
		Logger:            testLogger(tb),
	}
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// atomicCounter is a counter that callbacks running on several
// goroutines update.
type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) add(n int64) { c.v.Add(n) }
func (c *atomicCounter) load() int64 { return c.v.Load() }
