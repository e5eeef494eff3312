package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/internal/redistest"
)

// backend opens Store values on one shared storage, each like another
// process would: separate handles, separate ownership.
type backend struct {
	name string
	// start runs once per test for the backend (a Redis server, say) and
	// returns setup, which prepares fresh storage for one subtest and returns
	// an opener of Store values on it.
	start func(t *testing.T) (setup func(t *testing.T) func() Store)
	// locksOut: a second Load while the owner holds the partition fails with
	// ErrLocked (Local) instead of taking it over (Redis).
	locksOut bool
}

func backends() []backend {
	return []backend{
		{
			name:     "local",
			locksOut: true,
			start: func(*testing.T) func(t *testing.T) func() Store {
				return func(t *testing.T) func() Store {
					dir := t.TempDir()
					return func() Store {
						s, err := NewLocal(dir, LocalOptions{})
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { _ = s.Close() })
						return s
					}
				}
			},
		},
		{
			name: "redis",
			start: func(t *testing.T) func(t *testing.T) func() Store {
				// One server for every subtest; each uses its own key prefix.
				addr := redistest.Addr(t)
				return func(t *testing.T) func() Store {
					prefix := redistest.Prefix(t)
					return func() Store {
						c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second})
						t.Cleanup(func() { _ = c.Close() })
						s, err := NewRedis(c, RedisOptions{Prefix: prefix})
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { _ = s.Close() })
						return s
					}
				}
			},
		},
	}
}

// TestContract runs the behaviour every Store must have against both backends.
func TestContract(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, b backend, open func() Store)
	}{
		{"EmptyPartition", testEmptyPartition},
		{"RoundTrip", testRoundTrip},
		{"SeqGap", testSeqGap},
		{"RetryOfAppliedIsNoop", testRetryOfApplied},
		{"Fencing", testFencing},
		{"ReleaseHandsOver", testReleaseHandsOver},
		{"CommitWithoutLoad", testCommitWithoutLoad},
		{"FullCompaction", testFullCompaction},
		{"Drops", testDrops},
		{"Invalid", testInvalid},
		{"LargeCheckpoint", testLarge},
		{"PartitionsConcurrently", testConcurrentPartitions},
		{"Closed", testClosed},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			setup := b.start(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, b, setup(t)) })
			}
		})
	}
}

func load(t *testing.T, s Store, p int) *Snapshot {
	t.Helper()
	snap, err := s.Load(context.Background(), p)
	if err != nil {
		t.Fatalf("Load(%d): %v", p, err)
	}
	return snap
}

func commit(t *testing.T, s Store, p int, cp *Checkpoint) {
	t.Helper()
	if err := s.Commit(context.Background(), p, cp); err != nil {
		t.Fatalf("Commit(%d, seq %d): %v", p, cp.Seq, err)
	}
}

// reload checks the committed state through a fresh Store value, the way a
// new owner would see it, and releases it again. The caller must not hold p.
func reload(t *testing.T, open func() Store, p int, m *model, what string) {
	t.Helper()
	s := open()
	m.check(t, what, load(t, s, p))
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// verify hands p from s to a fresh Store value, checks what it loads, and
// takes p back into s (checking again).
func verify(t *testing.T, s Store, open func() Store, p int, m *model, what string) {
	t.Helper()
	if err := s.Release(p); err != nil {
		t.Fatalf("Release(%d): %v", p, err)
	}
	reload(t, open, p, m, what)
	m.check(t, what+" (own reload)", load(t, s, p))
}

func testEmptyPartition(t *testing.T, _ backend, open func() Store) {
	newModel().check(t, "fresh partition", load(t, open(), 3))
}

func testRoundTrip(t *testing.T, _ backend, open func() Store) {
	const p = 5
	g, m := newGen(1), newModel()
	s := open()
	m.check(t, "initial", load(t, s, p))
	for seq := uint64(1); seq <= 40; seq++ {
		cp := g.next(seq, 13)
		commit(t, s, p, cp)
		m.apply(cp)
		if seq%10 == 0 {
			verify(t, s, open, p, m, fmt.Sprintf("after seq %d", seq))
		}
	}
	verify(t, s, open, p, m, "final")
}

func testSeqGap(t *testing.T, _ backend, open func() Store) {
	const p = 0
	g, m := newGen(2), newModel()
	s := open()
	load(t, s, p)
	cp := g.next(1, 0)
	commit(t, s, p, cp)
	m.apply(cp)
	for _, seq := range []uint64{3, 100} {
		err := s.Commit(context.Background(), p, g.next(seq, 0))
		var se *SeqError
		if !errors.Is(err, ErrSeq) || !errors.As(err, &se) || se.Stored != 1 || se.Got != seq || se.Partition != p {
			t.Fatalf("Commit(seq %d) after seq 1 = %v, want *SeqError{Stored: 1, Got: %d}", seq, err, seq)
		}
	}
	cp = g.next(2, 0)
	commit(t, s, p, cp)
	m.apply(cp)
	// An older checkpoint than the last one is not a retry.
	if err := s.Commit(context.Background(), p, g.next(1, 0)); !errors.Is(err, ErrSeq) {
		t.Fatalf("Commit(seq 1) after seq 2 = %v, want ErrSeq", err)
	}
	// The rejected checkpoints changed nothing, and the sequence goes on.
	verify(t, s, open, p, m, "after rejected commits")
	cp = g.next(3, 0)
	commit(t, s, p, cp)
	m.apply(cp)
	verify(t, s, open, p, m, "after seq 3")
}

func testRetryOfApplied(t *testing.T, _ backend, open func() Store) {
	const p = 1
	m := newModel()
	s := open()
	load(t, s, p)
	for seq := uint64(1); seq <= 3; seq++ {
		cp := &Checkpoint{Seq: seq, Offset: int64(seq * 10), Meta: []byte("m"),
			Cards:   []KV{{Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", seq)}},
			Appends: []Append{{List: "taps", Blob: fmt.Appendf(nil, "tap-%d", seq)}}}
		commit(t, s, p, cp)
		commit(t, s, p, cp) // the retry: no second append
		m.apply(cp)
	}
	if got := len(m.lists["taps"]); got != 3 {
		t.Fatalf("model has %d taps, want 3", got)
	}
	verify(t, s, open, p, m, "after retries")
	// A retry also succeeds from a new owner that loaded the applied state
	// (the reply was lost and the partition moved before the retry).
	if err := s.Release(p); err != nil {
		t.Fatal(err)
	}
	s2 := open()
	m.check(t, "new owner", load(t, s2, p))
	commit(t, s2, p, &Checkpoint{Seq: 3, Appends: []Append{{List: "taps", Blob: []byte("dup")}}})
	verify(t, s2, open, p, m, "after retry by new owner")
}

func testFencing(t *testing.T, b backend, open func() Store) {
	const p = 2
	g, m := newGen(3), newModel()
	a := open()
	load(t, a, p)
	cp := g.next(1, 0)
	commit(t, a, p, cp)
	m.apply(cp)

	bs := open()
	if b.locksOut {
		// Local: the lock keeps a second owner out while the first lives.
		_, err := bs.Load(context.Background(), p)
		if !errors.Is(err, ErrLocked) || errors.Is(err, ErrFenced) {
			t.Fatalf("second Load while owned = %v, want ErrLocked", err)
		}
		// The owner goes away (its process died); the new owner takes over.
		if err := a.Release(p); err != nil {
			t.Fatal(err)
		}
	}
	m.check(t, "new owner's load", load(t, bs, p))

	stale := g.next(2, 0)
	stale.Appends = append(stale.Appends, Append{List: "fenced", Blob: []byte("must not appear")})
	if err := a.Commit(context.Background(), p, stale); !errors.Is(err, ErrFenced) {
		t.Fatalf("earlier owner's Commit = %v, want ErrFenced", err)
	}
	verify(t, bs, open, p, m, "after fenced commit")

	// The new owner continues from the same Seq the fenced one tried.
	cp = g.next(2, 0)
	commit(t, bs, p, cp)
	m.apply(cp)
	if err := a.Commit(context.Background(), p, g.next(3, 0)); !errors.Is(err, ErrFenced) {
		t.Fatalf("earlier owner's second Commit = %v, want ErrFenced", err)
	}
	if err := bs.Release(p); err != nil {
		t.Fatal(err)
	}
	reload(t, open, p, m, "final")
}

func testReleaseHandsOver(t *testing.T, _ backend, open func() Store) {
	const p = 4
	g, m := newGen(4), newModel()
	a := open()
	load(t, a, p)
	cp := g.next(1, 0)
	commit(t, a, p, cp)
	m.apply(cp)
	if err := a.Release(p); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(p); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if err := a.Commit(context.Background(), p, g.next(2, 0)); !errors.Is(err, ErrFenced) {
		t.Fatalf("Commit after Release = %v, want ErrFenced", err)
	}
	bs := open()
	m.check(t, "after hand-over", load(t, bs, p))
	cp = g.next(2, 0)
	commit(t, bs, p, cp)
	m.apply(cp)
	if err := bs.Release(p); err != nil {
		t.Fatal(err)
	}
	reload(t, open, p, m, "final")
}

func testCommitWithoutLoad(t *testing.T, _ backend, open func() Store) {
	s := open()
	if err := s.Commit(context.Background(), 7, newGen(5).next(1, 0)); !errors.Is(err, ErrFenced) {
		t.Fatalf("Commit without Load = %v, want ErrFenced", err)
	}
	reload(t, open, 7, newModel(), "untouched")
}

func testFullCompaction(t *testing.T, _ backend, open func() Store) {
	const p = 6
	g, m := newGen(6), newModel()
	s := open()
	load(t, s, p)
	for seq := uint64(1); seq <= 30; seq++ {
		cp := g.next(seq, 0)
		commit(t, s, p, cp)
		m.apply(cp)
	}
	before := logBytes(s, p)
	full := &Checkpoint{Seq: 31, Offset: 3100, Meta: []byte("compacted"), Full: true,
		Cards:   []KV{{Key: []byte("only"), Value: []byte("card")}},
		Appends: []Append{{List: "fresh", Blob: []byte("1")}, {List: "fresh", Blob: []byte("2")}}}
	commit(t, s, p, full)
	m.apply(full)
	if len(m.cards) != 1 || len(m.lists) != 1 {
		t.Fatalf("model after Full: %d cards, %d lists; want 1 and 1", len(m.cards), len(m.lists))
	}
	if after := logBytes(s, p); before >= 0 && after >= before/4 {
		t.Errorf("log is %d bytes after Full, was %d: not compacted", after, before)
	}
	verify(t, s, open, p, m, "after Full")
	// Appends after the compaction go on top of it.
	for seq := uint64(32); seq <= 35; seq++ {
		cp := g.next(seq, 0)
		commit(t, s, p, cp)
		m.apply(cp)
	}
	verify(t, s, open, p, m, "after Full and appends")
}

// logBytes returns the store's log size where it has one, else -1.
func logBytes(s Store, p int) int64 {
	if l, ok := s.(interface{ LogBytes(int) int64 }); ok {
		return l.LogBytes(p)
	}
	return -1
}

func testDrops(t *testing.T, _ backend, open func() Store) {
	const p = 8
	m := newModel()
	s := open()
	load(t, s, p)
	steps := []*Checkpoint{
		{Seq: 1, Appends: []Append{{List: "a", Blob: []byte("a1")}, {List: "b", Blob: []byte("b1")}, {List: "a", Blob: []byte("a2")}, {List: "c", Blob: []byte("c1")}}},
		// Drop then append in one checkpoint: the list restarts.
		{Seq: 2, Drops: []string{"a"}, Appends: []Append{{List: "a", Blob: []byte("a3")}}},
		// Dropping a list that does not exist is fine; dropping twice too.
		{Seq: 3, Drops: []string{"nope", "b", "b"}},
		{Seq: 4, Drops: []string{"c"}, Appends: []Append{{List: "d", Blob: []byte{}}}},
	}
	for _, cp := range steps {
		commit(t, s, p, cp)
		m.apply(cp)
		verify(t, s, open, p, m, fmt.Sprintf("after seq %d", cp.Seq))
	}
	if want := []string{"a", "d"}; fmt.Sprint(keys(m.lists)) != fmt.Sprint(want) {
		t.Fatalf("model lists %v, want %v", keys(m.lists), want)
	}
}

func testInvalid(t *testing.T, _ backend, open func() Store) {
	const p = 9
	s := open()
	load(t, s, p)
	long := make([]byte, MaxKeyLen+1)
	cases := []struct {
		name string
		p    int
		cp   *Checkpoint
	}{
		{"nil", p, nil},
		{"seq 0", p, &Checkpoint{Seq: 0}},
		{"negative partition", -1, &Checkpoint{Seq: 1}},
		{"long key", p, &Checkpoint{Seq: 1, Cards: []KV{{Key: []byte("ok"), Value: nil}, {Key: long}}}},
		{"empty drop", p, &Checkpoint{Seq: 1, Drops: []string{""}}},
		{"empty list", p, &Checkpoint{Seq: 1, Appends: []Append{{List: "", Blob: []byte("x")}}}},
		{"long list", p, &Checkpoint{Seq: 1, Appends: []Append{{List: string(make([]byte, MaxListNameLen+1))}}}},
	}
	for _, c := range cases {
		if err := s.Commit(context.Background(), c.p, c.cp); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Commit = %v, want ErrInvalid", c.name, err)
		}
	}
	// A key of exactly MaxKeyLen bytes is fine.
	m := newModel()
	cp := &Checkpoint{Seq: 1, Cards: []KV{{Key: long[:MaxKeyLen], Value: []byte("v")}}}
	commit(t, s, p, cp)
	m.apply(cp)
	if _, err := s.Load(context.Background(), -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load(-1) = %v, want ErrInvalid", err)
	}
	if err := s.Release(p); err != nil {
		t.Fatal(err)
	}
	reload(t, open, p, m, "after invalid commits")
}

func testLarge(t *testing.T, _ backend, open func() Store) {
	const p, cards = 10, 100_000
	m := newModel()
	s := open()
	load(t, s, p)
	cp := &Checkpoint{Seq: 1, Offset: 1 << 40, Meta: make([]byte, 64<<10)}
	for i := range cards {
		cp.Cards = append(cp.Cards, KV{Key: fmt.Appendf(nil, "card:%08d", i), Value: fmt.Appendf(nil, "state of card %d %0100d", i, i)})
	}
	for i := range 2000 {
		cp.Appends = append(cp.Appends, Append{List: fmt.Sprintf("day-%d", i%3), Blob: fmt.Appendf(nil, "tap-%d", i)})
	}
	commit(t, s, p, cp)
	m.apply(cp)
	// And a Full of the same size on top.
	cp.Seq, cp.Full = 2, true
	cp.Cards = cp.Cards[:cards/2]
	commit(t, s, p, cp)
	m.apply(cp)
	if err := s.Release(p); err != nil {
		t.Fatal(err)
	}
	reload(t, open, p, m, "large")
}

func testConcurrentPartitions(t *testing.T, _ backend, open func() Store) {
	s := open()
	const parts, commits = 4, 15
	models := make([]*model, parts)
	var wg sync.WaitGroup
	errs := make(chan error, parts)
	for p := range parts {
		models[p] = newModel()
		wg.Go(func() {
			if _, err := s.Load(context.Background(), p); err != nil {
				errs <- err
				return
			}
			g := newGen(uint64(100 + p))
			for seq := uint64(1); seq <= commits; seq++ {
				cp := g.next(seq, 7)
				if err := s.Commit(context.Background(), p, cp); err != nil {
					errs <- fmt.Errorf("partition %d seq %d: %w", p, seq, err)
					return
				}
				models[p].apply(cp)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for p := range parts {
		reload(t, open, p, models[p], fmt.Sprintf("partition %d", p))
	}
}

func testClosed(t *testing.T, _ backend, open func() Store) {
	s := open()
	load(t, s, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close = %v, want ErrClosed", err)
	}
	if err := s.Commit(context.Background(), 0, &Checkpoint{Seq: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	// The partition is free for the next owner.
	load(t, open(), 0)
}
