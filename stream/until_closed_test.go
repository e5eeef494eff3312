package stream

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/state"
)

// lateCommits is a Store whose commits, once the service has written its
// last day (armed), wait until their context ends (or a short while), then
// go on: each partition's first checkpoint after the day is written
// commits as Run stops the service, which is the moment a checkpoint
// started by the consumption loop meets the cancelled context.
type lateCommits struct {
	state.Store
	armed   chan struct{}
	arm     sync.Once
	mu      sync.Mutex
	waited  map[int]bool
	stopped int // commits that found their context cancelled
}

func (l *lateCommits) Commit(ctx context.Context, p int, cp *state.Checkpoint) error {
	select {
	case <-l.armed:
		l.mu.Lock()
		first := !l.waited[p]
		l.waited[p] = true
		l.mu.Unlock()
		if first {
			select {
			case <-ctx.Done():
				l.mu.Lock()
				l.stopped++
				l.mu.Unlock()
			case <-time.After(500 * time.Millisecond):
			}
		}
	default:
	}
	return l.Store.Commit(ctx, p, cp)
}

// armOn is a slog handler that arms the store when the service logs that
// it wrote the day the test runs until, and writes every record to log.
type armOn struct {
	slog.Handler
	store *lateCommits
	day   string
}

func (h *armOn) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "day cleared" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "day" && a.Value.String() == h.day {
				h.store.arm.Do(func() { close(h.store.armed) })
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h *armOn) WithAttrs(as []slog.Attr) slog.Handler {
	return &armOn{Handler: h.Handler.WithAttrs(as), store: h.store, day: h.day}
}

func (h *armOn) WithGroup(name string) slog.Handler {
	return &armOn{Handler: h.Handler.WithGroup(name), store: h.store, day: h.day}
}

// TestUntilClosedStopsCleanly: a service run until a day is written (as
// the demo and "run --until-closed" do) stops once the day's files are
// written, and every partition leaves a final checkpoint, without a
// warning, even where a checkpoint is under way as the stop comes. The
// demo logged "checkpoint failed ... context canceled" and "partition
// released without a final checkpoint" after its success: the partition
// that wrote the day spent longer than the checkpoint interval writing
// it, then started its periodic checkpoint with the context Run had just
// cancelled (fixed in d97036d for SIGTERM and this stop alike). Here every
// batch is past the interval, and the store holds each partition's next
// commit after the day is written until the stop, so the race is run
// every time.
func TestUntilClosedStopsCleanly(t *testing.T) {
	e := newEnv(t)
	f := newFixture(t, e, 3000)
	b := publish(t, f)
	out := t.TempDir()
	store := &lateCommits{Store: tempLocal(t), armed: make(chan struct{}), waited: map[int]bool{}}
	var logged syncBuffer
	cfg := serviceConfig(e, store, out, f.last)
	cfg.CheckpointInterval = time.Millisecond
	cfg.Log = slog.New(&armOn{Handler: slog.NewTextHandler(&logged, nil), store: store, day: f.last.String()})
	runUntilClosed(t, cfg, newGroup(t, b.Addrs(), "g-until-clean"))
	log := logged.String()
	for _, bad := range []string{"level=WARN", "level=ERROR"} {
		if strings.Contains(log, bad) {
			t.Errorf("the service logged at %s as it stopped:\n%s", bad, log)
		}
	}
	if released := logMarks(log, "partition released"); len(released) != partitions {
		t.Errorf("%d partitions released with a final checkpoint, want %d:\n%s", len(released), partitions, log)
	}
	store.mu.Lock()
	t.Logf("%d commit(s) met the cancelled context", store.stopped)
	store.mu.Unlock()
	sameTree(t, out, f.batch, f, true)
}
