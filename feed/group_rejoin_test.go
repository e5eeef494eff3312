package feed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memberEnv, set to a JSON memberSpec, makes the test binary a member of a
// consumer group in a process of its own, which a test kills with SIGKILL
// as a crash would (see startMember).
const memberEnv = "FEED_TEST_MEMBER"

// memberSpec is what a member process joins: the group's defaults apply
// but for the session timeout.
type memberSpec struct {
	Brokers []string
	Topic   string
	Group   string
	Session time.Duration
}

// runMember is a member process: it runs a Group whose claims read their
// partition until the generation ends, prints "claim GENERATION
// PARTITION" on standard output as each claim starts, and runs until it
// is killed or standard input is closed.
func runMember(spec string) int {
	var s memberSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", memberEnv, err)
		return 2
	}
	g, err := NewGroup(GroupConfig{Brokers: s.Brokers, Topic: s.Topic, GroupID: s.Group,
		SessionTimeout: s.Session, Fetch: FetchConfig{MaxWait: 100 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	var out sync.Mutex
	err = g.Run(ctx, func(ctx context.Context, c *Claim) error {
		out.Lock()
		fmt.Printf("claim %d %d\n", c.Generation, c.Partition)
		out.Unlock()
		r, err := c.Open(c.Committed)
		if err != nil {
			return err
		}
		buf := make([]Message, 16)
		for {
			if _, err := r.Fetch(ctx, buf); err != nil {
				return nil
			}
		}
	})
	g.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// memberProcess is a member running in a child process.
type memberProcess struct {
	cmd    *exec.Cmd
	claims chan string // the partitions of its claims, as they start
	exited chan struct{}
}

// startMember starts a member process; it is killed, if still running,
// when the test ends.
func startMember(t *testing.T, s memberSpec) *memberProcess {
	t.Helper()
	spec, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), memberEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &memberProcess{cmd: cmd, claims: make(chan string, 1024), exited: make(chan struct{})}
	go func() {
		defer close(m.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "claim "); ok {
				m.claims <- p
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		m.kill()
	})
	return m
}

// kill kills the member with SIGKILL and waits until it is gone, and its
// connections with it.
func (m *memberProcess) kill() {
	_ = m.cmd.Process.Kill()
	<-m.exited
}

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

// rejoinSession is the session timeout of the rejoin tests' members; the
// other timeouts are the defaults it implies.
const rejoinSession = 3 * time.Second

// rejoinBound is the longest a restarted member may take to have the
// partitions of a killed one: the killed member's session, then a
// heartbeat of the others and a join and sync for all.
const rejoinBound = rejoinSession + 5*time.Second

// rejoinConfig is a member's configuration in the rejoin tests: the
// defaults but for the session timeout, like a member process's.
func rejoinConfig(t *testing.T, brokers []string, topic, group string) GroupConfig {
	return GroupConfig{Brokers: brokers, Topic: topic, GroupID: group, SessionTimeout: rejoinSession,
		Fetch: FetchConfig{MaxWait: 100 * time.Millisecond}, Logger: testLogger(t)}
}

// awaitRecovery starts member b in the test process now and waits until
// the members named (b among them) hold every partition between them. It
// fails the test if that takes longer than rejoinBound, or if b's OnJoin
// reports a join time other than the one measured, and returns the time
// taken.
func awaitRecovery(t *testing.T, cfg GroupConfig, h *holders, live ...string) time.Duration {
	t.Helper()
	var hold atomic.Int64
	joins := make(chan Join, 64)
	cfg.OnJoin = func(j Join) { joins <- j }
	start := time.Now()
	runMemberHere(t, cfg, h.claim("b", &hold))
	for !h.covered(live...) {
		if time.Since(start) > rejoinBound {
			counts, gen := h.count()
			t.Fatalf("the live members %v hold %v of %d partitions (generation %d) %v after b started, want all within %v: a dead member's partitions wait for more than its session",
				live, counts, h.n, gen, time.Since(start).Round(time.Millisecond), rejoinBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	var last Join
	for len(joins) > 0 {
		last = <-joins
	}
	if len(last.Partitions) == 0 || last.Joining > took || last.Joining < took-time.Second {
		t.Errorf("b's last OnJoin: %+v, want its partitions and a join time of about %v", last, took)
	}
	return took
}

// TestRejoinAfterKillWhileJoining kills a member process while its
// JoinGroup waits on the coordinator for the other member, x, to rejoin,
// then starts a member b (a restart) and measures how long until x and b
// hold every partition.
//
// kfake answers the dead member's join when the rebalance completes, and
// starts its session timer only if that answer gets into the dead
// connection's queue: it picks at random between that and the closed
// connection. When it picks the closed one the dead member stays in the
// group, with partitions, and no session timer; only a rebalance that
// completes without it removes it, which b's join starts and the largest
// rebalance timeout among the members ends. So the test kills until that
// happens (each try checks that the dead member outlives its session),
// and then b's recovery takes a rebalance timeout: with the defaults the
// session timeout; with kafka-go's 30 s far more than rejoinBound, while
// x's JoinGroup, held as long, fails with an i/o timeout and is retried.
// Should no try leave the dead member behind, the test still bounds b's
// recovery, then by the dead member's session alone.
func TestRejoinAfterKillWhileJoining(t *testing.T) {
	if testing.Short() {
		t.Skip("kills member processes")
	}
	const topic, group, partitions = "taps", "settle", 8
	e := startBroker(t, topic, partitions)
	h := newHolders(partitions)
	var xHold atomic.Int64
	xHold.Store(int64(time.Second))
	// x stands by through the test. kfake, unlike Kafka, expires a member
	// that waits in its JoinGroup past its session, and a rebalance held
	// by a dead member lasts the rebalance timeout: x's session is longer
	// than that, so that b's recovery is not x's too.
	xConfig := rejoinConfig(t, e.Addrs(), topic, group)
	xConfig.SessionTimeout, xConfig.RebalanceTimeout, xConfig.HeartbeatInterval = 10*time.Second, rejoinSession, 500*time.Millisecond
	runMemberHere(t, xConfig, h.claim("x", &xHold))
	waitFor(t, 15*time.Second, "x to hold every partition", func() bool { return h.covered("x") })

	spec := memberSpec{Brokers: e.Addrs(), Topic: topic, Group: group, Session: rejoinSession}
	zombie := false
	// A try takes the session timeout and more; the tries stop after 18s
	// to keep the test short.
	for try, start := 1, time.Now(); !zombie && time.Since(start) < 18*time.Second; try++ {
		h.drain()
		_, before := h.count()
		a := startMember(t, spec)
		// a's JoinGroup starts a rebalance; x's claims see their
		// generation end and take xHold to return, and a's join waits
		// for x's: kill a in that wait.
		select {
		case <-h.ended:
		case <-time.After(15 * time.Second):
			t.Fatal("a's join did not start a rebalance within 15s")
		}
		a.kill()
		// The generation completes with a in it, holding partitions.
		waitFor(t, 15*time.Second, "x to rejoin without every partition", func() bool {
			counts, gen := h.count()
			return gen > before && counts["x"] > 0 && counts["x"] < partitions
		})
		h.drain()
		select {
		case <-h.ended:
			// kfake started a's session timer, and a expired: x
			// takes all again; try again.
			t.Logf("try %d: the killed member expired after its session", try)
			waitFor(t, 15*time.Second, "x to hold every partition", func() bool { return h.covered("x") })
		case <-time.After(rejoinSession + time.Second):
			zombie = true
			t.Logf("try %d: the killed member outlived its session", try)
		}
	}
	if !zombie {
		t.Log("kfake expired the killed member after its session on every try: b's rejoin is bounded by the session alone")
	}
	xHold.Store(0)
	took := awaitRecovery(t, rejoinConfig(t, e.Addrs(), topic, group), h, "x", "b")
	t.Logf("x and b hold every partition %v after b started", took.Round(time.Millisecond))
}

// TestRejoinAfterKillWhileMember kills a member process that holds every
// partition, just after it joined or while it consumes, and measures how
// long a member b started then (a restart) takes to hold them all: the
// dead member's session timeout, and a join.
func TestRejoinAfterKillWhileMember(t *testing.T) {
	if testing.Short() {
		t.Skip("kills member processes")
	}
	for _, tc := range []struct {
		name  string
		after time.Duration // from a's claims to the kill
	}{
		{"just joined", 0},
		{"consuming", 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const topic, group, partitions = "taps", "settle", 8
			e := startBroker(t, topic, partitions)
			a := startMember(t, memberSpec{Brokers: e.Addrs(), Topic: topic, Group: group, Session: rejoinSession})
			for range partitions {
				select {
				case <-a.claims:
				case <-time.After(15 * time.Second):
					t.Fatal("a did not claim every partition within 15s")
				}
			}
			time.Sleep(tc.after)
			a.kill()
			h := newHolders(partitions)
			took := awaitRecovery(t, rejoinConfig(t, e.Addrs(), topic, group), h, "b")
			t.Logf("b holds every partition %v after it started", took.Round(time.Millisecond))
		})
	}
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
