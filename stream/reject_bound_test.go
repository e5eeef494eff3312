package stream

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tapsettle/tapsettle/transit"
)

// TestMalformedFloodIsBounded: malformed messages count as no taps, so
// before a partition checkpointed on its segment's size a flood of them
// piled up in memory until the checkpoint interval (and a segment over
// segment.MaxSize panicked). Here the interval and the tap count never
// trigger: the segment's size does, many times. And a bad line of a
// batched message is quarantined with that line as its raw record, not
// the whole message again.
func TestMalformedFloodIsBounded(t *testing.T) {
	e := newEnv(t)
	f := newFixture(t, e, 400)
	b, pub := startBroker(t, 8)
	ctx := context.Background()
	half := len(f.taps) / 2
	if err := pub.Publish(ctx, f.taps[:half]); err != nil {
		t.Fatal(err)
	}
	// One produce request: batches of one partition in flight at once
	// may land out of order, and the last messages after the close-day.
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: topic, Balancer: &kafka.Murmur2Balancer{}, BatchTimeout: time.Millisecond,
		BatchSize: 1000, BatchBytes: 4 << 20}
	const flood, batchLines = 200, 100
	garbage := bytes.Repeat([]byte("\x01garbage "), 256) // 2 KiB, one line
	var msgs []kafka.Message
	for range flood {
		msgs = append(msgs, kafka.Message{Key: []byte("flood"), Value: garbage})
	}
	// A batch of lines, each bad: each is its own reject.
	msgs = append(msgs, kafka.Message{Key: []byte("flood"), Value: bytes.Repeat([]byte("x\n"), batchLines)})
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	publishDay(t, pub, f.taps[half:], f.last)
	pub.Close()

	out := t.TempDir()
	cfg := serviceConfig(e, tempLocal(t), out, f.last)
	cfg.CheckpointInterval, cfg.CheckpointTaps = time.Hour, 1<<30
	cfg.CheckpointBytes = 16 << 10
	// Only the close-day message closes the day: closed by event time
	// before the last messages, the day would leave their rejects to the
	// next.
	cfg.CloseAfter = 0
	svc := runUntilClosed(t, cfg, newGroup(t, b.Addrs(), "g-flood"))

	var rejects []transit.Reject
	for _, day := range svc.Cleared() {
		rejects = append(rejects, day.Rejects...)
	}
	if len(rejects) != flood+batchLines {
		t.Fatalf("%d rejects, want %d", len(rejects), flood+batchLines)
	}
	lines := 0
	for _, r := range rejects {
		if strings.Contains(r.Reason, "of the message)") || r.Raw == "x" {
			lines++
			if r.Raw != "x" {
				t.Errorf("a bad line of a batch quarantined with %d raw bytes %.20q, want its own line", len(r.Raw), r.Raw)
			}
		}
	}
	if lines != batchLines {
		t.Errorf("%d rejects of the batch's lines, want %d", lines, batchLines)
	}
	// The flood's partition checkpointed on size: some 220 KiB of rejects
	// in segments of about 16 KiB. Without that, it would have
	// checkpointed when the day closed, and once more at most.
	most := 0
	var largest int64
	parts, _ := filepath.Glob(filepath.Join(out, segmentsDir, "p*"))
	for _, p := range parts {
		segs, _ := filepath.Glob(filepath.Join(p, "*.seg"))
		most = max(most, len(segs))
		for _, s := range segs {
			if st, err := os.Stat(s); err == nil {
				largest = max(largest, st.Size())
			}
		}
	}
	if most < 10 {
		t.Errorf("at most %d segments in a partition, want the flood's in 10 or more", most)
	}
	// One message adds at most a reject of 1 KiB, or the batch's 100
	// short ones; rows of the taps submitted with it add a few KiB more.
	if limit := int64(cfg.CheckpointBytes + 48<<10); largest > limit {
		t.Errorf("a segment of %d bytes, want at most %d", largest, limit)
	}
	t.Logf("%d segments in the flood's partition, the largest %d bytes", most, largest)
}
