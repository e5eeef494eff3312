package feed

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holders records which member's claim holds each partition, and in which
// generation: set when a claim starts, cleared when it returns.
type holders struct {
	mu   sync.Mutex
	held map[int]holder
	n    int
	// ended receives the member's name as each of its claims sees its
	// generation end (dropped when full).
	ended chan string
}

type holder struct {
	member string
	gen    int32
}

func newHolders(partitions int) *holders {
	return &holders{held: map[int]holder{}, n: partitions, ended: make(chan string, 1024)}
}

// claim is member's claim function: it holds its partition until the
// generation ends, then for hold more (a final checkpoint), then returns.
func (h *holders) claim(member string, hold *atomic.Int64) func(context.Context, *Claim) error {
	return func(ctx context.Context, c *Claim) error {
		h.mu.Lock()
		h.held[c.Partition] = holder{member, c.Generation}
		h.mu.Unlock()
		<-ctx.Done()
		select {
		case h.ended <- member:
		default:
		}
		time.Sleep(time.Duration(hold.Load()))
		h.mu.Lock()
		if h.held[c.Partition] == (holder{member, c.Generation}) {
			delete(h.held, c.Partition)
		}
		h.mu.Unlock()
		return nil
	}
}

// drain forgets the claims that ended so far.
func (h *holders) drain() {
	for {
		select {
		case <-h.ended:
		default:
			return
		}
	}
}

// count returns how many partitions each member holds, and the newest
// generation among them.
func (h *holders) count() (map[string]int, int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	counts := map[string]int{}
	var gen int32
	for _, o := range h.held {
		counts[o.member]++
		gen = max(gen, o.gen)
	}
	return counts, gen
}

// covered reports whether the members named hold every partition between
// them, in one generation, each of them at least one.
func (h *holders) covered(members ...string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.held) != h.n {
		return false
	}
	var gen int32 = -1
	counts := map[string]int{}
	for _, o := range h.held {
		if gen != -1 && o.gen != gen || !slices.Contains(members, o.member) {
			return false
		}
		gen = o.gen
		counts[o.member]++
	}
	return len(counts) == len(members)
}

// runMemberHere runs a Group in the test process; it stops when the test
// ends.
func runMemberHere(t *testing.T, cfg GroupConfig, claim func(context.Context, *Claim) error) {
	t.Helper()
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := g.Run(context.Background(), claim); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		g.Close()
		<-done
	})
}

// TestGroupOnJoinWithoutPartitions checks that OnJoin reports every
// generation a member joins, one without partitions too: with two members
// on a topic of one partition, one of them has none.
func TestGroupOnJoinWithoutPartitions(t *testing.T) {
	const topic = "taps"
	e := startBroker(t, topic, 1)
	type joined struct {
		member string
		Join
	}
	var (
		mu    sync.Mutex
		joins []joined
		hold  atomic.Int64
	)
	h := newHolders(1)
	for _, name := range []string{"one", "two"} {
		cfg := groupConfig(t, e, topic, "settle")
		cfg.OnJoin = func(j Join) {
			mu.Lock()
			joins = append(joins, joined{name, j})
			mu.Unlock()
		}
		runMemberHere(t, cfg, h.claim(name, &hold))
	}
	// Once both members are in a generation, one holds the partition and
	// the other has joined it without any.
	var without joined
	waitFor(t, 15*time.Second, "a generation of both members, one of them without partitions", func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, gen := h.count()
		for _, j := range joins {
			if j.Generation == gen && len(j.Partitions) == 0 {
				without = j
				return h.covered("one") || h.covered("two")
			}
		}
		return false
	})
	if without.Joining <= 0 || without.Joining > 15*time.Second {
		t.Errorf("OnJoin of %s without partitions: Joining = %v", without.member, without.Joining)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, j := range joins {
		if j.Generation == without.Generation && j.member != without.member && !slices.Equal(j.Partitions, []int{0}) {
			t.Errorf("OnJoin of %s in generation %d: partitions %v, want [0]", j.member, j.Generation, j.Partitions)
		}
	}
}
