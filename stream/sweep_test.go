package stream

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/internal/redistest"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/transit"
)

// TestSweep: a service stops with committed checkpoints and open days;
// debris is planted in partition 0's segment folder (a temporary file, a
// segment above the committed checkpoint, one superseded by another
// owner's commit, one referenced by nothing) and under OUT/parts (a
// temporary file, parts of old days). A second service claims the
// partitions and finishes the stream, keeping the days from keptDay: the
// debris is gone, every committed segment stays, the old day's part and
// the segment only it referenced are gone, the kept day's stay, and the
// day's files are still the batch job's.
func TestSweep(t *testing.T) {
	e := newEnv(t)
	f := newFixture(t, e, 20000)
	for _, backend := range []string{"local", "redis"} {
		t.Run(backend, func(t *testing.T) {
			var store state.Store
			if backend == "local" {
				store = tempLocal(t)
			} else {
				client := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
				t.Cleanup(func() { client.Close() })
				rs, err := state.NewRedis(client, state.RedisOptions{Prefix: redistest.Prefix(t)})
				if err != nil {
					t.Fatal(err)
				}
				store = rs
			}
			b, pub := startBroker(t, 16)
			ctx := context.Background()
			half := len(f.taps) / 2
			if err := pub.Publish(ctx, f.taps[:half]); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			segDir := filepath.Join(out, segmentsDir, "p0000")
			segs := func() []string {
				names, _ := filepath.Glob(filepath.Join(segDir, "*"))
				for i, n := range names {
					names[i] = filepath.Base(n)
				}
				return names
			}

			// First service: runs until every partition has committed a
			// segment, then stops gracefully.
			cfg := serviceConfig(e, store, out, 0)
			svc, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- svc.Run(runCtx, newGroup(t, b.Addrs(), "g-sweep")) }()
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				all := true
				for p := range partitions {
					s, _ := filepath.Glob(filepath.Join(out, segmentsDir, partDir(p), "*.seg"))
					all = all && len(s) > 0
				}
				if all {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("not every partition committed a segment")
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			committed := segs()
			var top uint64
			for _, n := range committed {
				seq, ok := segmentSeq(n)
				if !ok {
					t.Fatalf("%s: not a committed segment's name", n)
				}
				top = max(top, seq)
			}

			// Debris, and parts of old days.
			plant := func(path string) {
				t.Helper()
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("debris"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tmp := ".tmp-00000099-feedf00d.seg-123"
			above := segmentName(0, top+1000, "feedf00d")[len("p0000/"):]
			superseded := segmentName(0, top, "feedf00d")[len("p0000/"):]
			unreferenced := segmentName(0, 0, "feedf00d")[len("p0000/"):]
			oldOnly := segmentName(0, 0, "01d00001")[len("p0000/"):]
			oldKept := segmentName(0, 0, "01d00002")[len("p0000/"):]
			for _, n := range []string{tmp, above, superseded, unreferenced, oldOnly, oldKept} {
				plant(filepath.Join(segDir, n))
			}
			partTmp := filepath.Join(out, partsDir, "2024-01-01", ".tmp-p0000.json-9")
			plant(partTmp)
			// Days before the stream's: keep_days reaches back to
			// keptDay from the last day, oldDay is older.
			keptDay := testDay - 1
			oldDay := keptDay - 5
			for _, pd := range []struct {
				day  transit.Day
				segs []string
			}{{oldDay, []string{oldOnly, oldKept}}, {keptDay, []string{oldKept}}} {
				part := &Part{Version: partVersion, Topic: topic, Partition: 0, Partitions: partitions, Day: pd.day.String()}
				for _, n := range pd.segs {
					part.Segments = append(part.Segments, segRef{Name: "p0000/" + n, SHA256: strings.Repeat("0", 64)})
				}
				if err := writePart(out, pd.day, part, false); err != nil {
					t.Fatal(err)
				}
			}

			// Second service: the rest of the stream, to the close.
			publishDay(t, pub, f.taps[half:], f.last)
			cfg = serviceConfig(e, store, out, f.last)
			cfg.KeepDays = int(f.last - keptDay)
			runUntilClosed(t, cfg, newGroup(t, b.Addrs(), "g-sweep"))

			left := segs()
			has := func(n string) bool { return slices.Contains(left, n) }
			for _, n := range committed {
				if !has(n) {
					t.Errorf("committed segment %s was removed", n)
				}
			}
			for _, n := range []string{tmp, above, superseded, oldOnly} {
				if has(n) {
					t.Errorf("debris %s is still there", n)
				}
			}
			if !has(oldKept) {
				t.Errorf("%s, referenced by the kept day's part, was removed", oldKept)
			}
			// Referenced by nothing: only the local backend may know
			// that no other instance's part references it.
			if got, want := has(unreferenced), backend != "local"; got != want {
				t.Errorf("unreferenced %s there: %v, want %v", unreferenced, got, want)
			}
			if _, err := os.Stat(partTmp); !os.IsNotExist(err) {
				t.Errorf("part's temporary file: %v, want it removed", err)
			}
			if _, err := os.Stat(filepath.Join(out, partsDir, oldDay.String())); !os.IsNotExist(err) {
				t.Errorf("old day's parts: %v, want them removed", err)
			}
			if _, err := os.Stat(partPath(out, keptDay, 0)); err != nil {
				t.Errorf("kept day's part: %v", err)
			}
			sameTree(t, out, f.batch, f, true)
		})
	}
}
