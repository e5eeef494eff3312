package feed

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/internal/testtool"
)

// TestKcatProducer publishes taps with kcat (librdkafka), an independent
// client, as "card<TAB>json" lines with the murmur2_random partitioner,
// and reads them back through a Group: each tap must sit in the partition
// that PartitionOf (kafka-go's Murmur2Balancer) gives its card, i.e. the
// two clients partition the feed alike.
func TestKcatProducer(t *testing.T) {
	kcat := testtool.Require(t, "kcat", "kcat", "the cross-client partitioner check")
	const (
		topic      = "taps"
		partitions = 7
		day        = "2025-03-02"
	)
	e := startBroker(t, topic, partitions)
	taps := makeTaps(1500, 389)
	var in bytes.Buffer
	for i := range taps {
		in.Write(taps[i].Card.Bytes())
		in.WriteByte('\t')
		in.Write(ingest.AppendJSON(nil, &taps[i]))
		in.WriteByte('\n')
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-P",
		"-b", strings.Join(e.Addrs(), ","),
		"-t", topic,
		"-K", `\t`,
		"-X", "partitioner=murmur2_random")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}

	// The close-day markers come from kafka-go, after kcat has flushed.
	p, err := NewPublisher(PublisherConfig{Brokers: e.Addrs(), Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.CloseDay(ctx, day); err != nil {
		t.Fatal(err)
	}
	log := consumeUntilClosed(t, groupConfig(t, e, topic, "settle"), partitions, 40*time.Second)
	checkFeed(t, log, taps, partitions, 1, day)
}
