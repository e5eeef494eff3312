package feed

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestEncodeGolden pins the wire format of tap messages: keys, grouping
// by murmur2 partition, JSON-lines batches, and the order of taps.
func TestEncodeGolden(t *testing.T) {
	taps := readFixture(t)
	var out bytes.Buffer
	var e encoder
	for _, c := range []struct{ partitions, perMessage int }{{1, 1}, {3, 1}, {3, 2}, {4, 64}} {
		fmt.Fprintf(&out, "== partitions=%d taps_per_message=%d\n", c.partitions, c.perMessage)
		for _, m := range e.encode(taps, c.perMessage, c.partitions, time.Unix(0, 0)) {
			fmt.Fprintf(&out, "partition %d key %s\n", m.Partition, m.Key)
			for line := range bytes.SplitSeq(m.Value, []byte("\n")) {
				fmt.Fprintf(&out, "  %s\n", line)
			}
		}
	}
	golden := filepath.Join("testdata", "messages.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("encoded messages differ from %s (run go test -update if the change is intended):\n%s", golden, out.Bytes())
	}
}

// readFixture reads testdata/taps.jsonl, the golden test's input.
func readFixture(tb testing.TB) []transit.Tap {
	tb.Helper()
	r, err := ingest.Open(filepath.Join("testdata", "taps.jsonl"), ingest.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	buf := make([]transit.Tap, 100)
	n, err := r.Read(buf)
	if err != nil || n == 0 || r.Stats().Rejected != 0 {
		tb.Fatalf("reading the fixture: %d taps, %d rejects, %v", n, r.Stats().Rejected, err)
	}
	return buf[:n]
}

// TestEncode checks the properties of encode for many shapes: every tap
// in exactly one message, messages of the right partition and size, keyed
// by their first tap's card, taps of a partition in input order.
func TestEncode(t *testing.T) {
	var e encoder // reused across cases, as Publisher's pool does
	f := func(nTaps, cards, partitions, perMessage int) {
		t.Helper()
		taps := makeTaps(nTaps, cards)
		msgs := e.encode(taps, perMessage, partitions, time.Now())
		var dec Decoder
		next := 0 // index into want of the next tap expected, per partition
		for p := range partitions {
			var want []transit.Tap
			for _, tap := range taps {
				if PartitionOf(tap.Card.Bytes(), partitions) == p {
					want = append(want, tap)
				}
			}
			var got []transit.Tap
			for _, m := range msgs {
				if m.Partition != p {
					continue
				}
				before := len(got)
				got = dec.Decode(got, m.Value, func(line int, raw []byte, err *ingest.FieldError) {
					t.Errorf("line %d of a message does not decode: %v: %s", line, err, raw)
				})
				if n := len(got) - before; n < 1 || n > perMessage {
					t.Errorf("%d taps/%d partitions/%d per message: a message holds %d taps", nTaps, partitions, perMessage, n)
				} else if string(m.Key) != got[before].Card.String() {
					t.Errorf("message key %q, want its first tap's card %q", m.Key, got[before].Card.String())
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d taps/%d partitions/%d per message: partition %d got %d taps, want %d", nTaps, partitions, perMessage, p, len(got), len(want))
				continue
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("partition %d tap %d: got %s, want %s", p, i, got[i].ID, want[i].ID)
					break
				}
			}
			next += len(want)
		}
		if next != nTaps {
			t.Errorf("%d taps/%d partitions: %d taps found", nTaps, partitions, next)
		}
	}
	f(1, 1, 1, 1)
	f(10, 3, 1, 64)
	f(100, 17, 5, 1)
	f(1000, 17, 5, 7)
	f(1000, 1000, 12, 64)
	f(777, 5, 64, 1024)
	f(500, 50, 3, 1) // smaller than the previous: buffers shrink logically
}

// TestPartitionOf checks the partitioner against the murmur2 vectors of
// Kafka's Java client (UtilsTest.testMurmur2): the partition is
// toPositive(murmur2(key)) % n, toPositive being h & 0x7fffffff. It also
// checks that cards spread over every partition.
func TestPartitionOf(t *testing.T) {
	vectors := []struct {
		key  string
		hash int32 // Utils.murmur2(key.getBytes())
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, v := range vectors {
		for _, n := range []int{1, 2, 7, 12, 1000, MaxPartitions} {
			want := int(uint32(v.hash)&0x7fffffff) % n
			if got := PartitionOf([]byte(v.key), n); got != want {
				t.Errorf("PartitionOf(%q, %d) = %d, want %d", v.key, n, got, want)
			}
		}
	}
	counts := make([]int, 16)
	for _, tap := range makeTaps(2000, 2000) {
		counts[PartitionOf(tap.Card.Bytes(), len(counts))]++
	}
	for p, n := range counts {
		if n < 2000/16/2 {
			t.Errorf("partition %d got %d of 2000 cards: murmur2 should spread them evenly", p, n)
		}
	}
}
