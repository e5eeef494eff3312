package feed

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// ownership records, like the partition_assigned gauges, which partitions
// each member's claims hold: set when a claim starts, cleared when it
// returns.
type ownership struct {
	mu    sync.Mutex
	owned map[string]map[int]bool
}

func (o *ownership) set(member string, p int, owned bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owned[member] == nil {
		o.owned[member] = map[int]bool{}
	}
	if owned {
		o.owned[member][p] = true
	} else {
		delete(o.owned[member], p)
	}
}

// counts returns how many partitions each member holds.
func (o *ownership) counts() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for m, ps := range o.owned {
		out[m] = len(ps)
	}
	return out
}

// busyClaim is a claim shaped like stream's: it reads its partition from
// the committed offset, spends a while on every message, and when its
// context ends writes a final checkpoint and commits, then returns, leaving
// the reader to be closed with messages still fetched and unread.
func busyClaim(o *ownership, member string, consumed *atomicCounter) func(context.Context, *Claim) error {
	return func(ctx context.Context, c *Claim) error {
		o.set(member, c.Partition, true)
		defer o.set(member, c.Partition, false)
		r, err := c.Open(c.Committed)
		if err != nil {
			return err
		}
		defer r.Close()
		buf := make([]Message, 1)
		next := c.Committed
		for {
			n, err := r.Fetch(ctx, buf)
			if err != nil {
				if ctx.Err() == nil {
					return err
				}
				// A final checkpoint, as stream's workers write, while
				// the reader goes on fetching ahead.
				time.Sleep(100 * time.Millisecond)
				if next >= 0 {
					c.Commit(next) // refused after a rebalance: fine
				}
				return nil
			}
			consumed.add(int64(n))
			next = buf[n-1].Offset + 1
			time.Sleep(20 * time.Millisecond) // pricing
		}
	}
}

// within runs f and fails the test if it does not return within d,
// without waiting for it: the failure this guards against is a hang.
func within(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return nil
	}
}

// TestGroupRebalanceWithBacklog has a member consume a backlog of small
// batches with busy claims, then a second member join: the first must
// return its claims and rejoin, so that both own partitions and the
// partitions owned over both add up to the partition count (no claim left
// hanging on a full PartitionReader), and it must still stop promptly.
func TestGroupRebalanceWithBacklog(t *testing.T) {
	const (
		topic      = "taps"
		partitions = 8
	)
	e := startBroker(t, topic, partitions)
	p, err := NewPublisher(PublisherConfig{Brokers: e.Addrs(), Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A record batch per partition per call: the backlog spans many
	// 1 KiB fetches, more than a reader holds.
	taps := makeTaps(60*16, 64)
	for i := 0; i < len(taps); i += 16 {
		if err := p.Publish(ctx, taps[i:i+16]); err != nil {
			t.Fatal(err)
		}
	}

	o := &ownership{owned: map[string]map[int]bool{}}
	var consumed atomicCounter
	cfg := groupConfig(t, e, topic, "settle")
	cfg.Fetch.MaxBytes = 1024
	groups := map[string]*Group{}
	stops := map[string]context.CancelFunc{}
	runErr := map[string]chan error{}
	start := func(member string) {
		g, err := NewGroup(cfg)
		if err != nil {
			t.Fatal(err)
		}
		groups[member] = g
		rctx, stop := context.WithCancel(ctx)
		stops[member] = stop
		errc := make(chan error, 1)
		runErr[member] = errc
		go func() { errc <- g.Run(rctx, busyClaim(o, member, &consumed)) }()
	}
	start("a")
	waitFor(t, 20*time.Second, "the first member to claim every partition and read", func() bool {
		return o.counts()["a"] == partitions && consumed.load() >= 2*partitions
	})
	start("b")
	var last map[string]int
	waitFor(t, 30*time.Second, "both members to own partitions, 8 in all", func() bool {
		last = o.counts()
		return last["a"] > 0 && last["b"] > 0 && last["a"]+last["b"] == partitions &&
			groups["a"].Member() && groups["b"].Member()
	})
	t.Logf("owned: %v; consumed %d of %d messages so far", last, consumed.load(), len(taps)/16*partitions)

	stops["a"]()
	if err := within(t, 10*time.Second, "Run of the first member after its stop", func() error { return <-runErr["a"] }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if groups["a"].Member() {
		t.Error("Member() is true after Run returned")
	}
	if n := o.counts()["a"]; n != 0 {
		t.Errorf("the stopped member still holds %d claims", n)
	}
	stops["b"]()
	if err := within(t, 10*time.Second, "Run of the second member after its stop", func() error { return <-runErr["b"] }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for m, g := range groups {
		if err := within(t, 10*time.Second, fmt.Sprint("Close of member ", m), g.Close); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunStopsDespiteWedgedClaim checks that Run, once stopped, waits
// RebalanceTimeout at most for a claim that does not return, and says so,
// rather than hanging the shutdown; and that claims carry the time the
// member took to join and Member tells the membership.
func TestRunStopsDespiteWedgedClaim(t *testing.T) {
	const topic = "taps"
	e := startBroker(t, topic, 2)
	cfg := groupConfig(t, e, topic, "settle")
	cfg.RebalanceTimeout = time.Second
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if g.Member() {
		t.Error("Member() is true before Run")
	}
	release := make(chan struct{})
	defer close(release)
	joining := make(chan time.Duration, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- g.Run(ctx, func(ctx context.Context, c *Claim) error {
			joining <- c.Joining
			if c.Partition == 0 {
				<-release // wedged
			}
			<-ctx.Done()
			return nil
		})
	}()
	for range 2 {
		select {
		case d := <-joining:
			if d <= 0 || d > 20*time.Second {
				t.Errorf("Claim.Joining = %v", d)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no claim within 20s")
		}
	}
	if !g.Member() {
		t.Error("Member() is false while the member holds a generation")
	}
	stopped := time.Now()
	cancel()
	err = within(t, 10*time.Second, "Run with a wedged claim", func() error { return <-done })
	if err == nil {
		t.Error("Run returned nil with a claim still running, want an error saying so")
	}
	if d := time.Since(stopped); d < cfg.RebalanceTimeout {
		t.Errorf("Run returned %v after the stop, before RebalanceTimeout %v", d, cfg.RebalanceTimeout)
	}
	if g.Member() {
		t.Error("Member() is true after Run returned")
	}
	t.Logf("Run: %v", err)
}

// TestGroupConfigRecoveryDefaults checks the defaults that bound how long
// a restarted member can wait to rejoin: the coordinator may hold its
// JoinGroup for RebalanceTimeout (waiting on a member killed mid-join),
// kafka-go's deadline on it is coordinatorTimeout more, and a failed join
// pauses JoinGroupBackoff; with kafka-go's defaults (30 s, 30 s + 5 s,
// 5 s) that came to a minute against a 10 s session.
func TestGroupConfigRecoveryDefaults(t *testing.T) {
	for _, session := range []time.Duration{1500 * time.Millisecond, 10 * time.Second, DefaultSessionTimeout} {
		c := GroupConfig{Brokers: []string{"x:9092"}, Topic: "t", GroupID: "g", SessionTimeout: session}
		c.EnsureDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("session %v: defaults do not validate: %v", session, err)
		}
		if c.RebalanceTimeout != session {
			t.Errorf("session %v: RebalanceTimeout %v, want the session timeout", session, c.RebalanceTimeout)
		}
		if c.HeartbeatInterval > session/3 {
			t.Errorf("session %v: HeartbeatInterval %v, want at most a third of it", session, c.HeartbeatInterval)
		}
		if worst := coordinatorTimeout + c.RebalanceTimeout + c.JoinGroupBackoff; worst > session+6*time.Second {
			t.Errorf("session %v: a timed-out join and its backoff take %v, want at most the session and 6s", session, worst)
		}
	}
}
