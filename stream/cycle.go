package stream

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// Intraday clearing cycles.
//
// Every ClearingInterval, or every ClearingTaps taps the instance has
// checkpointed, the service writes the provisional files of each day still
// open: the same files, formats and manifests as the day's final ones,
// computed from the segments the partitions have committed so far. A cycle
// is consistent per partition (each partition as of its latest committed
// checkpoint) and covers the partitions this instance owns; cycle.json
// says which, at which checkpoint and offset. Cycles go to
// OUT/provisional/cycle-NNNNNN/<day>/, numbered on from the highest
// already there, and only the newest KeepCycles are kept. The day's final
// files, written at its close, are what the clearing house settles; a
// provisional cycle is for watching the day (and claims of late taps
// settle in the day after, like any late adjustment).

const (
	provisionalDir = "provisional"
	cyclePrefix    = "cycle-"
	cycleFile      = "cycle.json"
	// DefaultKeepCycles is how many provisional cycles a service keeps.
	DefaultKeepCycles = 2
)

// published is what a partition's worker shares after each committed
// checkpoint: the segments of its days not yet closed, as views the worker
// never writes to again (see publish).
type published struct {
	seq    uint64
	offset int64
	days   map[transit.Day][]segRef
	// closed is the partition's last closed day (0: none).
	closed transit.Day
}

// Cycle describes one provisional clearing cycle (cycle.json).
type Cycle struct {
	Cycle      int              `json:"cycle"`
	Written    time.Time        `json:"written"`
	Topic      string           `json:"topic"`
	Partitions []CyclePartition `json:"partitions"`
	// Skipped are partitions this instance owns but left out: some of
	// their segments were written by the instance that owned them before
	// and are not in this instance's folder.
	Skipped []int    `json:"skipped,omitempty"`
	Days    []string `json:"days"`
}

// CyclePartition is a partition's contribution to a cycle: everything it
// had committed up to that checkpoint and offset.
type CyclePartition struct {
	Partition  int    `json:"partition"`
	Checkpoint uint64 `json:"checkpoint"`
	Offset     int64  `json:"offset"`
}

// publish records w's committed segments for the next cycle, and asks for
// a cycle when the instance has checkpointed ClearingTaps taps since the
// last one.
func (w *worker) publish(taps int) {
	s := w.s
	if s.cfg.ClearingInterval <= 0 && s.cfg.ClearingTaps <= 0 {
		return
	}
	pub := published{seq: w.seq, offset: w.next, days: make(map[transit.Day][]segRef, len(w.segs))}
	pub.closed, _ = w.part.Closed()
	for d, refs := range w.segs {
		if d != settlement.Undated {
			// The worker only ever appends to a day's list (and drops it
			// whole), so a view capped at today's length never changes:
			// no copy, whatever the number of segments in the day.
			pub.days[d] = refs[:len(refs):len(refs)]
		}
	}
	s.pubMu.Lock()
	s.published[w.p] = pub
	s.pubMu.Unlock()
	if s.cfg.ClearingTaps > 0 && s.cycleTaps.Add(int64(taps)) >= s.cfg.ClearingTaps {
		select {
		case s.cycleReq <- struct{}{}:
		default: // one is asked for already
		}
	}
}

// unpublish forgets partition p: this instance no longer owns it, so its
// segments may be another instance's to extend.
func (s *Service) unpublish(p int) {
	s.pubMu.Lock()
	delete(s.published, p)
	s.pubMu.Unlock()
}

// runCycles writes a provisional cycle on every tick or request until ctx
// ends. A failed cycle is logged and counted, not fatal: the day's final
// files do not depend on it.
func (s *Service) runCycles(ctx context.Context) {
	var tick <-chan time.Time
	if s.cfg.ClearingInterval > 0 {
		t := time.NewTicker(s.cfg.ClearingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-s.cycleReq:
		}
		s.cycleTaps.Store(0)
		start := time.Now()
		c, err := s.cycle()
		switch {
		case err != nil:
			s.log.Error("intraday clearing cycle failed", "err", err)
		case c != nil:
			s.log.Info("intraday clearing cycle written", "cycle", c.Cycle, "days", c.Days,
				"partitions", len(c.Partitions), "skipped", c.Skipped, "elapsed", time.Since(start).Round(time.Millisecond))
		}
		if s.cfg.Metrics != nil && (c != nil || err != nil) {
			// A tick with nothing open writes nothing: not a cycle.
			s.cfg.Metrics.ObserveCycle(time.Since(start), err)
		}
	}
}

// cycleDir names cycle n's folder under OUT/provisional/.
func cycleDir(n int) string { return fmt.Sprintf("%s%06d", cyclePrefix, n) }

// cycle writes one provisional cycle and prunes old ones. It returns nil
// and no error when no partition has anything open.
func (s *Service) cycle() (*Cycle, error) {
	// mu first: a cycle waits for a day close in progress (maybeClear holds
	// mu throughout), so it never snapshots a day half closed.
	s.mu.Lock()
	s.pubMu.Lock()
	snap := maps.Clone(s.published)
	s.pubMu.Unlock()
	// A day that a partition has closed, or that is cleared, is not
	// provisional any more: its final files are written or coming, and a
	// cycle of it would miss the rows of the partitions that closed it
	// (and, released, published it no more).
	var closed transit.Day
	for d := range s.cleared {
		closed = max(closed, d)
	}
	s.mu.Unlock()
	for _, pub := range snap {
		closed = max(closed, pub.closed)
	}
	byDay := map[transit.Day][]*Part{}
	c := &Cycle{Written: time.Now().UTC(), Topic: s.cfg.Topic}
	for _, p := range slices.Sorted(maps.Keys(snap)) {
		pub := snap[p]
		if !s.segmentsHere(pub) {
			c.Skipped = append(c.Skipped, p)
			continue
		}
		c.Partitions = append(c.Partitions, CyclePartition{Partition: p, Checkpoint: pub.seq, Offset: pub.offset})
		for d, refs := range pub.days {
			if d > closed {
				byDay[d] = append(byDay[d], &Part{Partition: p, Day: settlement.DirName(d), Segments: refs})
			}
		}
	}
	if len(byDay) == 0 {
		if len(c.Skipped) > 0 {
			s.log.Warn("no intraday clearing cycle: the open days' segments of these partitions are partly in another instance's folder", "partitions", c.Skipped)
		}
		return nil, nil
	}
	root := filepath.Join(s.cfg.OutDir, provisionalDir)
	n, err := lastCycle(root)
	if err != nil {
		return nil, err
	}
	c.Cycle = n + 1
	dir := filepath.Join(root, cycleDir(c.Cycle))
	opts := ClearOptions{Participants: s.cfg.Participants, Calendar: s.cfg.Calendar, Ledger: s.cfg.Ledger, SkipSync: s.cfg.SkipSync}
	for _, d := range slices.Sorted(maps.Keys(byDay)) {
		parts := byDay[d]
		slices.SortFunc(parts, func(a, b *Part) int { return cmp.Compare(a.Partition, b.Partition) })
		day, coll, uses, err := collectDay(d, []string{s.cfg.OutDir}, parts, opts)
		if err != nil {
			return nil, fmt.Errorf("cycle %d: %w", c.Cycle, err)
		}
		// The parts of a cycle name no book (their references do): a
		// day without a row is named by the running book.
		_, err = settlement.WriteDay(dir, day, policyOptions(settlement.WriteOptions{
			Ledger: s.cfg.Ledger, SkipSync: s.cfg.SkipSync,
		}, uses, []*Part{{Policy: s.Book().Fingerprint()}}))
		coll.Close()
		if err != nil {
			return nil, fmt.Errorf("cycle %d: %w", c.Cycle, err)
		}
		c.Days = append(c.Days, settlement.DirName(d))
	}
	// cycle.json last: a cycle folder without it is incomplete.
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := durable.WriteFile(filepath.Join(dir, cycleFile), append(b, '\n'), !s.cfg.SkipSync); err != nil {
		return nil, fmt.Errorf("cycle %d: %w", c.Cycle, err)
	}
	return c, pruneCycles(root, s.cfg.KeepCycles)
}

// segmentsHere reports whether every segment pub lists is in this
// instance's output folder.
func (s *Service) segmentsHere(pub published) bool {
	for _, refs := range pub.days {
		for _, ref := range refs {
			if _, err := os.Stat(s.segmentPath(ref.Name)); err != nil {
				return false
			}
		}
	}
	return true
}

// cycleNumbers returns the numbers of the cycle folders under root, sorted.
func cycleNumbers(root string) ([]int, error) {
	entries, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ns []int
	for _, e := range entries {
		if n, ok := strings.CutPrefix(e.Name(), cyclePrefix); ok && e.IsDir() {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				ns = append(ns, v)
			}
		}
	}
	slices.Sort(ns)
	return ns, nil
}

// lastCycle returns the highest cycle number under root, complete or not
// (a crash mid-cycle leaves a folder the next cycle must not reuse).
func lastCycle(root string) (int, error) {
	ns, err := cycleNumbers(root)
	if err != nil || len(ns) == 0 {
		return 0, err
	}
	return ns[len(ns)-1], nil
}

// pruneCycles removes all but the newest keep cycle folders.
func pruneCycles(root string, keep int) error {
	ns, err := cycleNumbers(root)
	if err != nil {
		return err
	}
	for _, n := range ns[:max(0, len(ns)-keep)] {
		if err := os.RemoveAll(filepath.Join(root, cycleDir(n))); err != nil {
			return fmt.Errorf("prune cycle %d: %w", n, err)
		}
	}
	return nil
}
