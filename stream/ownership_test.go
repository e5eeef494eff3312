package stream

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/state"
)

// fakeMember is a Group member whose membership the test sets.
type fakeMember struct{ in atomic.Bool }

func (f *fakeMember) Member() bool { return f.in.Load() }

// gathered returns the families reg gathers, by name.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// assigned returns partition_assigned by partition label.
func assigned(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range gathered(t, reg)["tapsettle_partition_assigned"].GetMetric() {
		out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	return out
}

// TestOwnershipEndsWithTheGeneration checks what an instance says about
// partitions whose generation ended while their claims were still busy
// (a final checkpoint, or worse, wedged): partition_assigned drops to 0 at
// once, not when the claim returns; /readyz is not ready while the
// instance owns nothing and is out of the group, and ready again once it
// is back in it; and each generation's join time is observed once (by
// Joined, feed.GroupConfig.OnJoin), however many partitions it brings,
// none included.
func TestOwnershipEndsWithTheGeneration(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	cfg := serviceConfig(e, tempLocal(t), t.TempDir(), 0)
	cfg.Metrics = metrics.New(reg, nil)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m groupMember = &fakeMember{}
	fake := m.(*fakeMember)
	s.member.Store(&m)
	s.joined.Store(true)
	fake.in.Store(true)

	ctx, endGeneration := context.WithCancel(context.Background())
	defer endGeneration()
	s.Joined(feed.Join{Generation: 7, Partitions: []int{3, 4}, Joining: 1500 * time.Millisecond})
	release3 := s.own(ctx, &feed.Claim{Partition: 3, Generation: 7, Joining: 1500 * time.Millisecond})
	release4 := s.own(ctx, &feed.Claim{Partition: 4, Generation: 7, Joining: 1500 * time.Millisecond})
	if got := assigned(t, reg); got["3"] != 1 || got["4"] != 1 {
		t.Fatalf("partition_assigned = %v, want 3 and 4 at 1", got)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready with two partitions: %v", err)
	}
	h := gathered(t, reg)["tapsettle_group_join_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 1.5 {
		t.Errorf("group_join_seconds: %d samples summing to %v, want 1 of 1.5", h.GetSampleCount(), h.GetSampleSum())
	}

	// The generation ends (a rebalance); the claims have not returned.
	fake.in.Store(false)
	endGeneration()
	deadline := time.Now().Add(5 * time.Second)
	for got := assigned(t, reg); got["3"] != 0 || got["4"] != 0; got = assigned(t, reg) {
		if time.Now().After(deadline) {
			t.Fatalf("partition_assigned = %v 5s after the generation ended, want 0", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Ready(); err == nil {
		t.Error("Ready is nil while the instance owns nothing and is out of the group")
	} else {
		t.Logf("not ready: %v", err)
	}
	fake.in.Store(true) // rejoined, with no partition (more instances than partitions)
	s.Joined(feed.Join{Generation: 8, Joining: 250 * time.Millisecond})
	if err := s.Ready(); err != nil {
		t.Errorf("Ready back in the group: %v", err)
	}
	// The claims return; the next generation gives partition 3 back.
	release3()
	release4()
	ctx2, end2 := context.WithCancel(context.Background())
	defer end2()
	s.Joined(feed.Join{Generation: 9, Partitions: []int{3}, Joining: 250 * time.Millisecond})
	release := s.own(ctx2, &feed.Claim{Partition: 3, Generation: 9, Joining: 250 * time.Millisecond})
	if got := assigned(t, reg); got["3"] != 1 || got["4"] != 0 {
		t.Errorf("partition_assigned = %v in the next generation, want 3 at 1 and 4 at 0", got)
	}
	release()
	if got := assigned(t, reg); got["3"] != 0 {
		t.Errorf("partition_assigned = %v after the claim returned, want 3 at 0", got)
	}
	h = gathered(t, reg)["tapsettle_group_join_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 2 {
		t.Errorf("group_join_seconds: %d samples summing to %v, want 3 (one a generation, the one without partitions too) of 2", h.GetSampleCount(), h.GetSampleSum())
	}
	if n := s.owned.Load(); n != 0 {
		t.Errorf("owned = %d after every claim returned", n)
	}
}

// TestBackendName: the checkpoint metrics' label is the store's kind, as
// the configuration's state.backend names it.
func TestBackendName(t *testing.T) {
	for _, tc := range []struct {
		store state.Store
		want  string
	}{
		{(*state.Local)(nil), "local"},
		{(*state.Redis)(nil), "redis"},
		{nil, "<nil>"},
	} {
		if got := backendName(tc.store); got != tc.want {
			t.Errorf("backendName(%T) = %q, want %q", tc.store, got, tc.want)
		}
	}
}
