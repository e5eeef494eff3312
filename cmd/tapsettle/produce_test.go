package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/feed/embedded"
)

// TestProduceConfirmsCloseDay: produce --close-day says that the
// close-day message went to every partition, and how many there are.
func TestProduceConfirmsCloseDay(t *testing.T) {
	broker, err := embedded.Start("taps", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	in := filepath.Join(t.TempDir(), "d.csv")
	if out, err := run(t, "gen", "--taps", "500", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	out, err := run(t, "produce", "--brokers", strings.Join(broker.Addrs(), ","), "--topic", "taps", "--close-day", "2025-03-03", in)
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, out)
	}
	if !strings.Contains(out, "close-day 2025-03-03 sent to all 3 partitions of taps") {
		t.Errorf("produce --close-day does not confirm the close-day messages:\n%s", out)
	}
}
