package main

import (
	"fmt"
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

// TestProduceJSON: produce --output json writes one document with the
// taps published, the malformed records left out and the close-day
// message's partitions, as the text says them.
func TestProduceJSON(t *testing.T) {
	broker, err := embedded.Start("taps", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	in := filepath.Join(t.TempDir(), "d.csv")
	if out, err := run(t, "gen", "--taps", "700", "--malformed", "0.02", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	brokers := strings.Join(broker.Addrs(), ",")
	text, err := run(t, "produce", "--brokers", brokers, "--topic", "taps", in)
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, text)
	}
	stdout, stderr, err := runSplit(t, "produce", "--output", "json", "--brokers", brokers, "--topic", "taps", "--close-day", "2025-03-03", in)
	if err != nil {
		t.Fatalf("produce --output json: %v\n%s", err, stderr)
	}
	var doc produceDoc
	decodeOne(t, stdout, &doc)
	want := fmt.Sprintf("published %d taps to taps (%d malformed records not published)\n", doc.Published, doc.Malformed)
	if doc.Schema != "tapsettle.produce/1" || doc.Topic != "taps" || doc.Malformed == 0 || doc.Published+doc.Malformed != 700 || !strings.Contains(text, want) {
		t.Errorf("produce document %+v; the text run said:\n%s", doc, text)
	}
	if cd := doc.CloseDay; cd == nil || cd.Day != "2025-03-03" || cd.Partitions != 2 {
		t.Errorf("close_day %+v, want 2025-03-03 to 2 partitions", cd)
	}
	stdout, _, err = runSplit(t, "produce", "--output", "json", "--brokers", brokers, "--topic", "taps", in)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	decodeOne(t, stdout, &raw)
	if _, ok := raw["close_day"]; ok {
		t.Errorf("close_day present without --close-day: %s", stdout)
	}
}
