package feed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// claimRegistry records the claims currently running, by member.
type claimRegistry struct {
	mu     sync.Mutex
	active map[string]map[int]int32 // member -> partition -> generation
}

func (r *claimRegistry) claim(member string) func(ctx context.Context, c *Claim) error {
	return func(ctx context.Context, c *Claim) error {
		r.mu.Lock()
		if r.active[member] == nil {
			r.active[member] = map[int]int32{}
		}
		if g, ok := r.active[member][c.Partition]; ok {
			r.mu.Unlock()
			return fmt.Errorf("member %s claims partition %d in generation %d while its claim of generation %d runs", member, c.Partition, c.Generation, g)
		}
		r.active[member][c.Partition] = c.Generation
		r.mu.Unlock()
		<-ctx.Done()
		r.mu.Lock()
		delete(r.active[member], c.Partition)
		r.mu.Unlock()
		return ctx.Err()
	}
}

// snapshot returns the sorted partitions each member claims now.
func (r *claimRegistry) snapshot() map[string][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]int{}
	for m, ps := range r.active {
		if len(ps) > 0 {
			out[m] = slices.Sorted(maps.Keys(ps))
		}
	}
	return out
}

// TestGroupRebalance runs two members of one group: they split the
// partitions, each getting some and no partition claimed twice; when one
// closes, the other claims all of them in its next generation.
func TestGroupRebalance(t *testing.T) {
	const (
		topic      = "taps"
		partitions = 6
	)
	e := startBroker(t, topic, partitions)
	reg := &claimRegistry{active: map[string]map[int]int32{}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	groups := map[string]*Group{}
	runErr := map[string]chan error{}
	for _, member := range []string{"a", "b"} {
		g, err := NewGroup(groupConfig(t, e, topic, "settle"))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		groups[member] = g
		errc := make(chan error, 1)
		runErr[member] = errc
		go func() { errc <- g.Run(ctx, reg.claim(member)) }()
	}

	split := func() bool {
		s := reg.snapshot()
		a, b := s["a"], s["b"]
		if len(a) == 0 || len(b) == 0 || len(a)+len(b) != partitions {
			return false
		}
		all := slices.Sorted(slices.Values(append(slices.Clone(a), b...)))
		return slices.Equal(all, []int{0, 1, 2, 3, 4, 5})
	}
	waitFor(t, 30*time.Second, "the members to split the partitions", split)
	t.Logf("split: %v", reg.snapshot())

	if err := groups["a"].Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-runErr["a"]; err != nil {
		t.Fatalf("Run of the closed member returned %v, want nil", err)
	}
	if err := groups["a"].Run(ctx, reg.claim("a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close returned %v, want ErrClosed", err)
	}
	waitFor(t, 30*time.Second, "the remaining member to claim every partition", func() bool {
		s := reg.snapshot()
		return len(s["a"]) == 0 && slices.Equal(s["b"], []int{0, 1, 2, 3, 4, 5})
	})

	cancel()
	if err := <-runErr["b"]; err != nil {
		t.Fatalf("Run returned %v after its context was cancelled, want nil", err)
	}
}

// TestCommitResume commits offsets in one run of a group and checks that
// the next run of the same group sees them as Claim.Committed, and that a
// reader opened there starts at that offset.
func TestCommitResume(t *testing.T) {
	const (
		topic      = "taps"
		partitions = 3
	)
	e := startBroker(t, topic, partitions)
	p, err := NewPublisher(PublisherConfig{Brokers: e.Addrs(), Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Publish(ctx, makeTaps(600, 50)); err != nil {
		t.Fatal(err)
	}

	// How far the first run reads and commits, by partition; -1 commits
	// nothing.
	commit := map[int]int64{0: 7, 1: -1, 2: 1}

	type seen struct {
		committed int64
		first     int64 // offset of the first message read from Committed
	}
	run := func(claim func(ctx context.Context, c *Claim, r *PartitionReader) error) map[int]seen {
		t.Helper()
		g, err := NewGroup(groupConfig(t, e, topic, "settle"))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		var mu sync.Mutex
		got := map[int]seen{}
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		done := make(chan error, 1)
		go func() {
			done <- g.Run(rctx, func(ctx context.Context, c *Claim) error {
				r, err := c.Open(c.Committed)
				if err != nil {
					return err
				}
				buf := make([]Message, 1)
				if _, err := r.Fetch(ctx, buf); err != nil {
					return err
				}
				if err := claim(ctx, c, r); err != nil {
					return err
				}
				mu.Lock()
				got[c.Partition] = seen{c.Committed, buf[0].Offset}
				mu.Unlock()
				<-ctx.Done()
				return nil
			})
		}()
		waitFor(t, 30*time.Second, "every partition to be claimed", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == partitions
		})
		stop()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		return got
	}

	first := run(func(ctx context.Context, c *Claim, r *PartitionReader) error {
		if next := commit[c.Partition]; next >= 0 {
			return c.Commit(next)
		}
		return nil
	})
	for p := range partitions {
		if s := first[p]; s.committed != -1 || s.first != 0 {
			t.Errorf("first run, partition %d: Committed %d, first offset %d; want -1 and 0", p, s.committed, s.first)
		}
	}
	second := run(func(context.Context, *Claim, *PartitionReader) error { return nil })
	for p := range partitions {
		want := commit[p]
		wantFirst := max(want, 0)
		if s := second[p]; s.committed != want || s.first != wantFirst {
			t.Errorf("second run, partition %d: Committed %d, first offset %d; want %d and %d", p, s.committed, s.first, want, wantFirst)
		}
	}
}

// TestRunClaimError checks that a claim's error ends Run with that error,
// only once the other claims have returned, and that an error wrapping
// ErrRebalanced only ends the generation: the member rejoins and claims
// the partition again.
func TestRunClaimError(t *testing.T) {
	const topic = "taps"
	e := startBroker(t, topic, 3)
	boom := errors.New("boom")
	tests := []struct {
		name    string
		claimed error // what the first claim of partition 1 returns
		want    error // from Run; nil means Run must keep running
	}{
		{name: "failure", claimed: boom, want: boom},
		{name: "rebalanced", claimed: fmt.Errorf("commit: %w", ErrRebalanced), want: nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGroup(groupConfig(t, e, topic, fmt.Sprint("group-", i)))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var running, claimsOf1 atomic.Int32
			done := make(chan error, 1)
			go func() {
				done <- g.Run(ctx, func(ctx context.Context, c *Claim) error {
					if c.Partition == 1 && claimsOf1.Add(1) == 1 {
						return tt.claimed
					}
					running.Add(1)
					defer running.Add(-1)
					<-ctx.Done()
					time.Sleep(20 * time.Millisecond) // a slow final commit
					return ctx.Err()
				})
			}()
			if tt.want != nil {
				select {
				case err := <-done:
					if !errors.Is(err, tt.want) {
						t.Fatalf("Run returned %v, want %v", err, tt.want)
					}
					if n := running.Load(); n != 0 {
						t.Fatalf("Run returned while %d claims were running", n)
					}
				case <-ctx.Done():
					t.Fatal("Run did not return after a claim failed")
				}
				return
			}
			waitFor(t, 20*time.Second, "partition 1 to be claimed again", func() bool { return claimsOf1.Load() >= 2 })
			select {
			case err := <-done:
				t.Fatalf("Run returned %v, want it to keep running", err)
			default:
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run returned %v after cancel, want nil", err)
			}
		})
	}
}
