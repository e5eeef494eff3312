package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// JoinBuckets are the upper bounds, in seconds, of group_join_seconds:
// from a rebalance among live members (well under a second) through a
// dead member's session timeout (10 s by default) to the minute a
// restart took when it waited on a rebalance timeout and a failed join.
var JoinBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120}

// newJoinHistogram creates group_join_seconds and registers it with reg
// (none when reg is nil).
func newJoinHistogram(reg prometheus.Registerer) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "group_join_seconds",
		Help:    "Time this instance was out of the consumer group before each generation it joined: since its previous generation ended, or since it started.",
		Buckets: JoinBuckets})
	if reg != nil {
		reg.MustRegister(h)
	}
	return h
}

// ObserveGroupJoin records that this instance joined a generation of the
// consumer group after being out of it for d.
func (m *Metrics) ObserveGroupJoin(d time.Duration) { m.groupJoin.Observe(d.Seconds()) }
