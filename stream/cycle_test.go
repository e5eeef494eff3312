package stream

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/stream/segment"
	"github.com/tapsettle/tapsettle/transit"
)

// TestIntradayCycles: with a cycle every few thousand taps (and every
// 300ms, which catches the tail of the stream), the service
// writes provisional cycles of the open day that verify like final files
// and never hold more than the day's final files, keeps only the newest
// KeepCycles, and leaves the final files identical to the batch job's.
func TestIntradayCycles(t *testing.T) {
	e := newEnv(t)
	f := newFixture(t, e, 20000)
	b, pub := startBroker(t, 16)
	ctx := context.Background()
	if err := pub.Publish(ctx, f.taps); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	store := tempLocal(t)
	cfg := serviceConfig(e, store, out, f.last)
	cfg.ClearingTaps, cfg.ClearingInterval, cfg.KeepCycles = 4000, 300*time.Millisecond, 2
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx, newGroup(t, b.Addrs(), "cycles")) }()

	// The day stays open until the cycles have had every tap: then close it.
	root := filepath.Join(out, provisionalDir)
	for {
		if c := newestCycle(t, root); c != nil && offsetsAtEnd(t, b, c) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("service stopped before a cycle covered the stream: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := pub.CloseDay(ctx, f.last.String()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sameTree(t, out, f.batch, f, true)

	ns, err := cycleNumbers(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) == 0 || len(ns) > 2 {
		t.Fatalf("cycles kept: %v, want 1 or 2 (KeepCycles)", ns)
	}
	final := manifestRecords(t, filepath.Join(out, testDay.String()))
	for i, n := range ns {
		c := readCycle(t, root, n)
		if c.Cycle != n || len(c.Partitions) != partitions || !slices.Contains(c.Days, testDay.String()) {
			t.Fatalf("cycle %d: %+v", n, c)
		}
		for _, day := range c.Days {
			if err := settlement.Verify(filepath.Join(root, cycleDir(n), day)); err != nil {
				t.Errorf("cycle %d, day %s: %v", n, day, err)
			}
		}
		prov := manifestRecords(t, filepath.Join(root, cycleDir(n), testDay.String()))
		if prov[settlement.SummaryName] == 0 || prov[settlement.SummaryName] > final[settlement.SummaryName] {
			t.Errorf("cycle %d holds %d records of %s, the final files %d", n, prov[settlement.SummaryName], testDay, final[settlement.SummaryName])
		}
		if i == len(ns)-1 && prov[settlement.SummaryName] < final[settlement.SummaryName]*9/10 {
			// Every tap was in; only what the close adds (unfinished
			// journeys) may be missing.
			t.Errorf("the newest cycle holds %d records of %s, the final files %d", prov[settlement.SummaryName], testDay, final[settlement.SummaryName])
		}
	}
}

// TestCyclePruning: cycle numbers go on from the highest folder present,
// complete or not, and pruning keeps the newest.
func TestCyclePruning(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"cycle-000003", "cycle-000010", "cycle-000007", "cycle-x", "other"} {
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := lastCycle(root); err != nil || n != 10 {
		t.Fatalf("lastCycle = %d, %v; want 10", n, err)
	}
	if err := pruneCycles(root, 2); err != nil {
		t.Fatal(err)
	}
	ns, err := cycleNumbers(root)
	if err != nil || !slices.Equal(ns, []int{7, 10}) {
		t.Fatalf("after pruning to 2: %v, %v; want [7 10]", ns, err)
	}
	for _, keep := range []string{"cycle-x", "other"} {
		if _, err := os.Stat(filepath.Join(root, keep)); err != nil {
			t.Errorf("pruning removed %s, which is not a cycle: %v", keep, err)
		}
	}
	if n, err := lastCycle(filepath.Join(root, "missing")); err != nil || n != 0 {
		t.Fatalf("lastCycle of a missing folder = %d, %v; want 0, nil", n, err)
	}
}

func readCycle(t *testing.T, root string, n int) *Cycle {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, cycleDir(n), cycleFile))
	if err != nil {
		t.Fatalf("cycle %d has no %s: %v", n, cycleFile, err)
	}
	var c Cycle
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// newestCycle returns the newest complete cycle under root, or nil.
func newestCycle(t *testing.T, root string) *Cycle {
	ns, err := cycleNumbers(root)
	if err != nil || len(ns) == 0 {
		return nil
	}
	n := ns[len(ns)-1]
	if _, err := os.Stat(filepath.Join(root, cycleDir(n), cycleFile)); err != nil {
		return nil
	}
	return readCycle(t, root, n)
}

// offsetsAtEnd reports whether cycle c covers every partition up to the
// end of its log.
func offsetsAtEnd(t *testing.T, b *embedded.Broker, c *Cycle) bool {
	if len(c.Partitions) != partitions {
		return false
	}
	ends := map[int]int64{}
	for p := range partitions {
		n, _, err := bench.ConsumeAll(context.Background(), b.Addrs(), feed.Security{}, topic, []int{p}, func(feed.Message) {})
		if err != nil {
			t.Fatal(err)
		}
		ends[p] = n
	}
	for _, cp := range c.Partitions {
		if cp.Offset < ends[cp.Partition] {
			return false
		}
	}
	return true
}

// manifestRecords returns the record counts of a day folder's files, by
// path.
func manifestRecords(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, settlement.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := settlement.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, f := range m.Files {
		out[f.Path] = f.Records
	}
	return out
}

// TestCycleSkipsPartitionsWithForeignSegments: a partition taken over
// from another instance lists segments that are not in this instance's
// folder; a cycle leaves it out (and says so) rather than fail.
func TestCycleSkipsPartitionsWithForeignSegments(t *testing.T) {
	e := newEnv(t)
	f := newFixture(t, e, 2000)
	var rows collectRows
	part, err := engine.NewPartition(e.book, &rows, 1, engine.Options{Calendar: e.cal})
	if err != nil {
		t.Fatal(err)
	}
	part.Submit(f.taps)
	part.CloseDay(f.last)
	var sb segment.Builder
	sb.AddRows(rows)
	out := t.TempDir()
	store := tempLocal(t)
	cfg := serviceConfig(e, store, out, 0)
	cfg.ClearingInterval = time.Hour
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := segmentName(1, 1, s.owner)
	sum, err := durable.WriteFile(s.segmentPath(name), sb.Encode(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	s.published[0] = published{seq: 3, offset: 40, days: map[transit.Day][]segRef{testDay: {{Name: segmentName(0, 3, "elsewhere")}}}}
	if c, err := s.cycle(); err != nil || c != nil {
		t.Fatalf("cycle with only a foreign segment: %+v, %v; want none, nil", c, err)
	}
	s.published[1] = published{seq: 1, offset: 90, days: map[transit.Day][]segRef{testDay: {{Name: name, SHA256: hex.EncodeToString(sum[:])}}}}
	c, err := s.cycle()
	if err != nil {
		t.Fatal(err)
	}
	if c == nil || !slices.Equal(c.Skipped, []int{0}) || len(c.Partitions) != 1 || c.Partitions[0] != (CyclePartition{Partition: 1, Checkpoint: 1, Offset: 90}) {
		t.Fatalf("cycle = %+v; want partition 1 in, partition 0 skipped", c)
	}
	dir := filepath.Join(out, provisionalDir, cycleDir(c.Cycle), testDay.String())
	if err := settlement.Verify(dir); err != nil {
		t.Fatal(err)
	}
	if got := readCycle(t, filepath.Join(out, provisionalDir), c.Cycle); !slices.Equal(got.Skipped, []int{0}) {
		t.Errorf("cycle.json skipped = %v, want [0]", got.Skipped)
	}
}

// collectRows is an engine.Sink that keeps every row.
type collectRows []transit.Priced

func (c *collectRows) Emit(_ int, rows []transit.Priced) { *c = append(*c, rows...) }
