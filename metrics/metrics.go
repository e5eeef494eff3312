package metrics

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/internal/buildinfo"
	"github.com/tapsettle/tapsettle/transit"
)

// Namespace prefixes every metric name.
const Namespace = "tapsettle"

// Label values for taps that fall outside the participants or the enums.
const (
	// OtherCity labels taps in a city that is not a participant.
	OtherCity = "other"
	// Unknown labels the mode and status of a row whose mode or status
	// is out of range (a bug upstream: the engine never emits one).
	Unknown = "unknown"
)

// CheckpointBuckets are the upper bounds, in seconds, of
// checkpoint_duration_seconds: 1ms (a local commit to page cache) to 10s
// (a Redis commit stuck behind a failover), in 1-2.5-5 steps.
var CheckpointBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// BatchBuckets are the upper bounds, in seconds, of batch_duration_seconds:
// from a fraction of a millisecond, where pricing a batch lands (figures in
// docs/performance.md), to seconds for the long tail of segment writes and
// day closes.
var BatchBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// CycleBuckets are the upper bounds, in seconds, of
// clearing_cycle_duration_seconds: a cycle reads the open days' segments
// and writes a day's files, from a tenth of a second to a couple of
// minutes for a busy day.
var CycleBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250}

// Metrics holds the service's metrics. Its methods are safe for concurrent
// use; the per-tap counting goes through a Counts per partition.
type Metrics struct {
	// cityRow maps City.Index() to the city's row in the taps table; row
	// 0 is OtherCity. Read-only after New.
	cityRow []uint16
	// taps holds the counter of each cell of the taps table (see
	// cellOf); read-only after New, shared by every Counts.
	taps []prometheus.Counter
	// rejects holds the counter of each reject reason.
	rejects [numReasons]prometheus.Counter

	messages, bytes           *prometheus.CounterVec
	lag, open, held, assigned *prometheus.GaugeVec
	checkpointDur             *prometheus.HistogramVec
	checkpointFail            *prometheus.CounterVec
	batchDur                  prometheus.Histogram
	cycleDur                  prometheus.Histogram
	cycleFail                 prometheus.Counter
	groupJoin                 prometheus.Histogram // group.go
	dayCloses                 prometheus.Counter
	lastClosedEnd             prometheus.Gauge
	sweptFiles, sweptBytes    prometheus.Counter
	adjustments               prometheus.Counter
	corrections               *prometheus.CounterVec
	policy                    *policyMetrics // policy.go
	lastClosedMu              sync.Mutex
	lastClosed                transit.Day // the day lastClosedEnd shows, under lastClosedMu
}

// The taps table has one row per participant plus row 0 for other cities,
// and in each row one cell per (mode, status). transit's modes and the
// statuses of input records are contiguous from 1 and bounded by NumModes
// and NumRecordStatuses (an adjustment is not a tap: adjustments_total),
// so cell = row*cellsPerCity + (mode-1)*numStatuses + (status-1); the one
// cell after the last row catches rows whose mode or status is out of
// range.
const (
	numModes     = transit.NumModes - 1
	numStatuses  = int(transit.NumRecordStatuses) - 1
	cellsPerCity = numModes * numStatuses
)

// New creates the metrics and registers them with reg (none when reg is
// nil). cities are the participants, whose taps are counted under their own
// six-digit code; taps elsewhere count as OtherCity. Every taps_total and
// rejects_total series is created here, at zero, so that rates exist from
// the first scrape and Row never resolves a label. Like
// prometheus.MustRegister, New panics if reg already holds these metrics:
// that is a wiring bug, not bad input.
func New(reg prometheus.Registerer, cities []transit.City) *Metrics {
	cs := make([]transit.City, 0, len(cities))
	for _, c := range cities {
		if c.Valid() {
			cs = append(cs, c)
		}
	}
	slices.Sort(cs)
	cs = slices.Compact(cs)

	partition := []string{"partition"}
	m := &Metrics{
		cityRow: make([]uint16, transit.MaxCity.Index()+1),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "messages_consumed_total",
			Help: "Kafka messages consumed, by partition."}, partition),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "bytes_consumed_total",
			Help: "Bytes of the values of the Kafka messages consumed, by partition."}, partition),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "consumer_lag",
			Help: "Messages between the last consumed offset and the partition's high-water mark, for partitions this instance owns."}, partition),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "open_journeys",
			Help: "Metro entries awaiting their exit, for partitions this instance owns."}, partition),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "held_taps",
			Help: "Taps held in the reorder window, for partitions this instance owns."}, partition),
		assigned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "partition_assigned",
			Help: "1 while this instance owns the partition, 0 after it was revoked."}, partition),
		checkpointDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "checkpoint_duration_seconds",
			Help: "Time to commit one partition checkpoint (state, offset and segment), failed ones included, by state backend.", Buckets: CheckpointBuckets}, []string{"backend"}),
		checkpointFail: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "checkpoint_failures_total",
			Help: "Checkpoints that returned an error, by state backend."}, []string{"backend"}),
		batchDur: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "batch_duration_seconds",
			Help: "Time to process one batch of fetched messages: decode, price, segment.", Buckets: BatchBuckets}),
		cycleDur: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "clearing_cycle_duration_seconds",
			Help: "Time to write one intraday (provisional) clearing cycle, failed ones included.", Buckets: CycleBuckets}),
		cycleFail: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "clearing_cycle_failures_total",
			Help: "Intraday clearing cycles that failed (the day's final files do not depend on them)."}),
		// Not days_closed_total: promtool reads "days" as a unit of time
		// and asks for seconds.
		dayCloses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "day_closes_total",
			Help: "Settlement days this instance closed and wrote the files of."}),
		lastClosedEnd: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "last_closed_day_end_timestamp_seconds",
			Help: "End (next cut-off) of the latest settlement day this instance closed and wrote, in Unix seconds; 0 before the first."}),
		sweptFiles: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "swept_files_total",
			Help: "Files removed from the output folder: debris of interrupted attempts, and parts and segments past clearing.keep_days."}),
		sweptBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "swept_bytes_total",
			Help: "Bytes of the files counted in swept_files_total."}),
		adjustments: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "adjustments_total",
			Help: "Adjustments booked: rows that change money settled on an earlier day (reversals and replacing charges), not counted in taps_total."}),
	}
	m.corrections = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "corrections_total",
		Help: "Corrections received on the topic, by outcome: applied (booked as adjustments), duplicate (correction_id used before) or rejected (quarantined with the reason)."},
		[]string{"outcome"})
	for _, o := range correctionOutcomes {
		m.corrections.WithLabelValues(o) // every outcome from the start, for increase()
	}
	tapsVec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "taps_total",
		Help: "Taps priced, by city where the tap happened (six-digit code, or other), mode and status."},
		[]string{"city", "mode", "status"})
	rejectsVec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "rejects_total",
		Help: "Malformed messages (or JSON lines of a message) quarantined, by the tap field at fault (record: the whole record)."},
		[]string{"reason"})

	m.taps = make([]prometheus.Counter, (len(cs)+1)*cellsPerCity+1)
	for row := 0; row <= len(cs); row++ {
		label := OtherCity
		if row > 0 {
			label = cs[row-1].String()
			m.cityRow[cs[row-1].Index()] = uint16(row)
		}
		for mode := transit.Mode(1); mode <= numModes; mode++ {
			for st := transit.Status(1); int(st) <= numStatuses; st++ {
				m.taps[cellOf(row, mode, st)] = tapsVec.WithLabelValues(label, mode.String(), st.String())
			}
		}
	}
	m.taps[len(m.taps)-1] = tapsVec.WithLabelValues(OtherCity, Unknown, Unknown)
	for i, r := range reasons {
		m.rejects[i] = rejectsVec.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(newBuildInfo(buildinfo.Read()), m.messages, m.bytes, tapsVec, rejectsVec, m.lag, m.open, m.held, m.assigned,
			m.checkpointDur, m.checkpointFail, m.batchDur, m.cycleDur, m.cycleFail, m.dayCloses, m.lastClosedEnd,
			m.sweptFiles, m.sweptBytes, m.adjustments, m.corrections)
	}
	m.groupJoin = newJoinHistogram(reg)
	m.policy = newPolicyMetrics(reg)
	return m
}

// newBuildInfo is the build_info gauge: 1, with the build in its labels,
// so that a query can join it to any other series by instance (which
// build runs where, and when each instance changed build).
func newBuildInfo(in buildinfo.Info) prometheus.Gauge {
	rev := in.Revision
	if rev == "" {
		rev = "unknown"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help:        "1, labelled with the running build: module version, commit (unknown without version control information) and Go version.",
		ConstLabels: prometheus.Labels{"version": in.Version, "revision": rev, "goversion": in.GoVersion}})
	g.Set(1)
	return g
}

// SetBackend creates, at zero, the checkpoint series of the state backend
// in use ("local", "redis"), so that increase() over the failures counts
// the first one. Only that backend's series exist: a series of a backend
// the instance does not use would be a constant zero beside the real one.
func (m *Metrics) SetBackend(backend string) {
	m.checkpointFail.WithLabelValues(backend)
	m.checkpointDur.WithLabelValues(backend)
}

// cellOf returns the cell of a valid mode and status in row.
func cellOf(row int, mode transit.Mode, status transit.Status) int {
	return row*cellsPerCity + int(mode-1)*numStatuses + int(status-1)
}

func partitionLabel(p int) string { return strconv.Itoa(p) }

// SetAssigned records that this instance gained or lost a partition. On
// loss it also deletes the partition's lag, open and held series: the new
// owner reports them now, and a stale copy here would double them in a
// sum over instances.
func (m *Metrics) SetAssigned(partition int, assigned bool) {
	p := partitionLabel(partition)
	if assigned {
		m.assigned.WithLabelValues(p).Set(1)
		return
	}
	m.assigned.WithLabelValues(p).Set(0)
	m.lag.DeleteLabelValues(p)
	m.open.DeleteLabelValues(p)
	m.held.DeleteLabelValues(p)
}

// ObserveCheckpoint records one checkpoint commit to backend ("local",
// "redis") that took d; a non-nil err also counts a failure.
func (m *Metrics) ObserveCheckpoint(backend string, d time.Duration, err error) {
	m.checkpointDur.WithLabelValues(backend).Observe(d.Seconds())
	if err != nil {
		m.checkpointFail.WithLabelValues(backend).Inc()
	}
}

// ObserveCycle records one intraday clearing cycle that took d; a non-nil
// err also counts a failure.
func (m *Metrics) ObserveCycle(d time.Duration, err error) {
	m.cycleDur.Observe(d.Seconds())
	if err != nil {
		m.cycleFail.Inc()
	}
}

// Swept counts files removed from the output folder and their bytes.
func (m *Metrics) Swept(files int, bytes int64) {
	m.sweptFiles.Add(float64(files))
	m.sweptBytes.Add(float64(bytes))
}

// ObserveBatch records the processing time of one batch.
func (m *Metrics) ObserveBatch(d time.Duration) { m.batchDur.Observe(d.Seconds()) }

// DayClosed counts settlement day d closed and its files written; end is
// the instant d ends (the next day's cut-off, Calendar.Start(d+1)). The
// last_closed_day_end_timestamp_seconds gauge moves only forward, so a
// late re-close of an older day does not set it back; time() minus it is
// how long ago the latest closed day ended, which an alert can bound.
func (m *Metrics) DayClosed(d transit.Day, end time.Time) {
	m.dayCloses.Inc()
	m.lastClosedMu.Lock()
	defer m.lastClosedMu.Unlock()
	if d > m.lastClosed {
		m.lastClosed = d
		m.lastClosedEnd.Set(float64(end.Unix()))
	}
}

// MessagesConsumed reads messages_consumed_total from g, summed over
// partitions: how many messages the service whose metrics g gathers has
// consumed, for benchmarks and tests that wait on a stream.
func MessagesConsumed(g prometheus.Gatherer) (float64, error) {
	fams, err := g.Gather()
	if err != nil {
		return 0, err
	}
	var n float64
	for _, f := range fams {
		if f.GetName() == Namespace+"_messages_consumed_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n, nil
}
