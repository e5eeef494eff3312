package metrics

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	beijing  transit.City = 110000
	shanghai transit.City = 310100
	ningbo   transit.City = 330200
)

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./metrics -update to accept):\n%s", path, got)
	}
}

// TestPublishGolden records a small hand-checkable scenario and compares
// the exposition with testdata/publish.prom. The counts in the golden file
// are the ones written below: Ningbo bus charged 3, Ningbo metro open 1,
// Shanghai metro charged 2, Beijing bus duplicate 1, one tap in a city
// that is not a participant (Hangzhou), one row with an invalid mode; two
// rejects on time, one unreadable record, one unknown reason.
func TestPublishGolden(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg, []transit.City{ningbo, shanghai, beijing, ningbo}) // unsorted, duplicated
	c := m.NewCounts(3)
	for range 3 {
		c.Row(ningbo, transit.ModeBus, transit.StatusCharged)
	}
	c.Row(ningbo, transit.ModeMetro, transit.StatusOpen)
	c.Row(shanghai, transit.ModeMetro, transit.StatusCharged)
	c.Row(beijing, transit.ModeBus, transit.StatusDuplicate)
	c.Row(330100, transit.ModeBus, transit.StatusCharged) // Hangzhou: not a participant here
	c.Row(ningbo, 0, transit.StatusCharged)
	c.Reject("time")
	c.Reject("")
	c.Reject("no such field")
	c.Messages(7, 1400)
	c.Publish() // the first batch
	c.Row(shanghai, transit.ModeMetro, transit.StatusCharged)
	c.Reject("time")
	c.Messages(1, 200)
	c.Publish() // the second
	c.Publish() // nothing new: must not change anything

	got := gatherText(t, reg, "tapsettle_taps_total", "tapsettle_rejects_total", "tapsettle_messages_consumed_total", "tapsettle_bytes_consumed_total")
	golden(t, "publish.prom", got)
	// And through the library's own comparison, which parses the file.
	f, err := os.Open(filepath.Join("testdata", "publish.prom"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(reg, f, "tapsettle_taps_total", "tapsettle_rejects_total",
		"tapsettle_messages_consumed_total", "tapsettle_bytes_consumed_total"); err != nil {
		t.Error(err)
	}
}

// gatherText renders the named families in the text exposition format.
func gatherText(t *testing.T, g prometheus.Gatherer, names ...string) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if !contains(names, mf.GetName()) {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", mf.GetName(), mf.GetHelp(), mf.GetName(), strings.ToLower(mf.GetType().String()))
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue())
		}
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// series returns the value of every series of a counter family, keyed by
// its labels as "k=v,k=v".
func series(t *testing.T, g prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labelKey(m)] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

func labelKey(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// TestPublishedEqualsRecorded drives random rows from several partitions
// at once, publishing at random points, and compares every series with an
// independent count kept in a map. It runs the partitions in parallel, as
// the service does, so the race detector checks the single-writer design.
func TestPublishedEqualsRecorded(t *testing.T) {
	participants := []transit.City{110000, 120000, 310100, 330200, 440100, 440300, 650100}
	others := []transit.City{330100, 330201, 999999, 0, 4294967200} // non-participant, not a code, out of range
	reg := prometheus.NewRegistry()
	m := New(reg, participants)

	const partitions, rows = 4, 20000
	models := make([]map[string]float64, partitions)
	var wg sync.WaitGroup
	for p := range partitions {
		models[p] = map[string]float64{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			c := m.NewCounts(p)
			model := models[p]
			for i := range rows {
				city := participants[rng.IntN(len(participants))]
				label := city.String()
				if rng.IntN(10) == 0 {
					city, label = others[rng.IntN(len(others))], OtherCity
				}
				mode := transit.Mode(rng.IntN(transit.NumModes + 1)) // 0 and 3 are invalid
				status := transit.Status(rng.IntN(transit.NumStatuses + 1))
				ml, sl := mode.String(), status.String()
				if ml == "" || sl == "" {
					label, ml, sl = OtherCity, Unknown, Unknown
				}
				c.Row(city, mode, status)
				if status == transit.StatusAdjustment {
					model["adjustments"]++ // not a tap
				} else {
					model["city="+label+",mode="+ml+",status="+sl]++
				}
				if i%97 == 0 {
					reason := []string{"time", "city", "", "bogus"}[rng.IntN(4)]
					c.Reject(reason)
					switch reason {
					case "":
						reason = "record"
					case "bogus":
						reason = "other"
					}
					model["reject reason="+reason]++
				}
				if rng.IntN(500) == 0 {
					c.Publish()
				}
			}
			c.Messages(rows, rows*100)
			c.Publish()
		}()
	}
	wg.Wait()

	want := map[string]float64{}
	for _, model := range models {
		for k, v := range model {
			want[k] += v
		}
	}
	got := series(t, reg, "tapsettle_taps_total")
	for k, v := range series(t, reg, "tapsettle_rejects_total") {
		got["reject "+k] = v
	}
	for _, v := range series(t, reg, "tapsettle_adjustments_total") {
		got["adjustments"] = v
	}
	var total float64
	for k, v := range got {
		total += v
		if v != want[k] {
			t.Errorf("%s = %v, recorded %v", k, v, want[k])
		}
	}
	for k, v := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s recorded %v times but has no series", k, v)
		}
	}
	if total == 0 {
		t.Fatal("nothing published")
	}
	// Series exist for every participant and cell, at zero or above:
	// (7 participants + other) x 2 modes x 5 statuses + the unknown cell.
	if n := len(series(t, reg, "tapsettle_taps_total")); n != 8*10+1 {
		t.Errorf("%d taps_total series, want 81", n)
	}
	for p := range partitions {
		l := fmt.Sprintf("partition=%d", p)
		if v := series(t, reg, "tapsettle_messages_consumed_total")[l]; v != rows {
			t.Errorf("messages %s = %v, want %d", l, v, rows)
		}
		if v := series(t, reg, "tapsettle_bytes_consumed_total")[l]; v != rows*100 {
			t.Errorf("bytes %s = %v, want %d", l, v, rows*100)
		}
	}
}

// TestPublishResets checks that Publish leaves nothing behind to publish
// twice: every cell and the touched list are empty afterwards.
func TestPublishResets(t *testing.T) {
	m := New(nil, []transit.City{ningbo})
	c := m.NewCounts(0)
	for range 5 {
		c.Row(ningbo, transit.ModeBus, transit.StatusCharged)
		c.Row(ningbo, transit.ModeMetro, transit.StatusIncomplete)
	}
	if len(c.touched) != 2 {
		t.Errorf("touched = %v, want the 2 cells hit", c.touched)
	}
	c.Reject("city")
	c.Messages(2, 10)
	c.Publish()
	for i, n := range c.cells {
		if n != 0 {
			t.Errorf("cell %d = %d after Publish", i, n)
		}
	}
	if len(c.touched) != 0 || c.rejects != [numReasons]uint64{} || c.messages != 0 || c.bytes != 0 {
		t.Errorf("state after Publish: touched %v, rejects %v, messages %d, bytes %d", c.touched, c.rejects, c.messages, c.bytes)
	}
	bus := m.taps[cellOf(1, transit.ModeBus, transit.StatusCharged)]
	c.Publish()
	if v := testutil.ToFloat64(bus); v != 5 {
		t.Errorf("Ningbo bus charged = %v after a second Publish, want 5", v)
	}
}

func TestRejectReasons(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := reasons[reasonIndex(in)]; got != want {
			t.Errorf("reason %q counts as %q, want %q", in, got, want)
		}
	}
	f("", "record")
	f("record", "record")
	f("tap_id", "tap_id")
	f("card_product", "card_product")
	f("device", "device")
	f("Time", "other")
	f("gibberish", "other")
}

func TestGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	m.SetAssigned(0, true)
	m.SetAssigned(1, true)
	c0, c1 := m.NewCounts(0), m.NewCounts(1)
	c0.SetLag(42)
	c1.SetLag(7)
	c0.SetOpen(100, 5)
	c1.SetOpen(3, 0)
	m.SetAssigned(1, false)
	for _, tc := range []struct {
		name string
		want map[string]float64
	}{
		{"tapsettle_partition_assigned", map[string]float64{"partition=0": 1, "partition=1": 0}},
		{"tapsettle_consumer_lag", map[string]float64{"partition=0": 42}},
		{"tapsettle_open_journeys", map[string]float64{"partition=0": 100}},
		{"tapsettle_held_taps", map[string]float64{"partition=0": 5}},
	} {
		got := series(t, reg, tc.name)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckpointBatchAndDays(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	m.SetBackend("redis")
	m.SetBackend("local")                                  // one Metrics per service, so one backend; both here to test both
	m.ObserveCheckpoint("redis", 3_000_000, nil)           // 3ms
	m.ObserveCheckpoint("redis", 20_000_000, os.ErrClosed) // 20ms, failed
	m.ObserveCheckpoint("local", 500_000, nil)             // 0.5ms
	m.ObserveBatch(300_000)                                // 0.3ms
	tz, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	end := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 4, 0, 0, 0, tz) }
	m.DayClosed(mustDay("2025-03-04"), end(2025, 3, 5))
	m.DayClosed(mustDay("2025-03-03"), end(2025, 3, 4))                  // a late re-close of an older day
	m.DayClosed(transit.Day(math.MinInt32), time.Unix(math.MaxInt32, 0)) // settlement.Undated: counts, never the last day

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	hist := map[string]*dto.Histogram{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			if h := mt.GetHistogram(); h != nil {
				hist[mf.GetName()+"{"+labelKey(mt)+"}"] = h
			}
		}
	}
	redis := hist["tapsettle_checkpoint_duration_seconds{backend=redis}"]
	if redis == nil || redis.GetSampleCount() != 2 {
		t.Fatalf("redis checkpoint histogram = %v", redis)
	}
	b := redis.GetBucket()
	if len(b) != len(CheckpointBuckets) || b[0].GetUpperBound() != 0.001 || b[len(b)-1].GetUpperBound() != 10 {
		t.Errorf("buckets = %v, want 1ms..10s", b)
	}
	for _, bk := range b { // 3ms falls in le=0.005 and above; 20ms in le=0.025 and above
		want := uint64(0)
		if bk.GetUpperBound() >= 0.005 {
			want++
		}
		if bk.GetUpperBound() >= 0.025 {
			want++
		}
		if bk.GetCumulativeCount() != want {
			t.Errorf("le=%v: %d, want %d", bk.GetUpperBound(), bk.GetCumulativeCount(), want)
		}
	}
	if h := hist["tapsettle_checkpoint_duration_seconds{backend=local}"]; h.GetSampleCount() != 1 {
		t.Errorf("local checkpoint histogram = %v", h)
	}
	if h := hist["tapsettle_batch_duration_seconds{}"]; h.GetSampleCount() != 1 || h.GetSampleSum() != 0.0003 {
		t.Errorf("batch histogram = %v", h)
	}
	fails := series(t, reg, "tapsettle_checkpoint_failures_total")
	if fails["backend=redis"] != 1 || fails["backend=local"] != 0 || len(fails) != 2 {
		t.Errorf("failures = %v", fails)
	}
	if v := series(t, reg, "tapsettle_day_closes_total")[""]; v != 3 {
		t.Errorf("day_closes_total = %v, want 3", v)
	}
	// 2025-03-05 04:00 +08:00, the end of settlement day 2025-03-04.
	if v := series(t, reg, "tapsettle_last_closed_day_end_timestamp_seconds")[""]; v != 1741118400 {
		t.Errorf("last_closed_day_end_timestamp_seconds = %v, want 1741118400", v)
	}
}

// TestBackendSeries: only the state backend in use has checkpoint series;
// an instance on Redis exports no backend="local" series.
func TestBackendSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	m.SetBackend("redis")
	for _, name := range []string{"tapsettle_checkpoint_failures_total", "tapsettle_checkpoint_duration_seconds"} {
		var labels []string
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, mt := range mf.GetMetric() {
					labels = append(labels, labelKey(mt))
				}
			}
		}
		if fmt.Sprint(labels) != "[backend=redis]" {
			t.Errorf("%s series %v, want [backend=redis] alone", name, labels)
		}
	}
}

// TestBuildInfo: build_info is 1, labelled with the build (a test binary
// is a development build without a commit).
func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, nil)
	got := series(t, reg, "tapsettle_build_info")
	want := "goversion=" + runtime.Version() + ",revision=unknown,version=(devel)"
	if len(got) != 1 || got[want] != 1 {
		t.Errorf("build_info = %v, want {%s: 1}", got, want)
	}
}

func TestNewRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, nil)
	defer func() {
		if recover() == nil {
			t.Error("a second New on the same registry must panic like MustRegister")
		}
	}()
	New(reg, nil)
}

// benchRows is a realistic mix: 336-ish participants, mostly charged.
func benchRows(n int) ([]transit.City, []transit.City, []transit.Mode, []transit.Status) {
	var participants []transit.City
	for p := 11; p <= 65 && len(participants) < 336; p++ {
		for c := 1; c <= 8; c++ {
			participants = append(participants, transit.City(p*10000+c*100))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cities, modes, statuses := make([]transit.City, n), make([]transit.Mode, n), make([]transit.Status, n)
	for i := range n {
		cities[i] = participants[rng.IntN(len(participants))]
		modes[i] = transit.Mode(1 + rng.IntN(2))
		statuses[i] = transit.StatusCharged
		if rng.IntN(20) == 0 {
			statuses[i] = transit.Status(1 + rng.IntN(5))
		}
	}
	return participants, cities, modes, statuses
}

func BenchmarkRow(b *testing.B) {
	participants, cities, modes, statuses := benchRows(4096)
	c := New(nil, participants).NewCounts(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & 4095
		c.Row(cities[j], modes[j], statuses[j])
	}
}

// BenchmarkBatch is Row for a batch of 1024 taps plus its Publish: the
// per-batch cost the service pays, per tap.
func BenchmarkBatch(b *testing.B) {
	participants, cities, modes, statuses := benchRows(1024)
	c := New(nil, participants).NewCounts(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range cities {
			c.Row(cities[j], modes[j], statuses[j])
		}
		c.Messages(16, 16*4096)
		c.Publish()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cities)), "ns/tap")
}

func mustDay(s string) transit.Day {
	d, err := transit.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestReasonsAreTheSchemaFields: the reason label names the tap fields of
// the record schema, so a reject of a field added to the schema is not
// counted as "other".
func TestReasonsAreTheSchemaFields(t *testing.T) {
	if got, want := reasons[1:reasonOther], ingest.Columns(); !slices.Equal(got, want) {
		t.Errorf("reasons %v, schema fields %v", got, want)
	}
}

func TestMessagesConsumed(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	if n, err := MessagesConsumed(reg); err != nil || n != 0 {
		t.Fatalf("before any message: %v, %v; want 0", n, err)
	}
	a, b := m.NewCounts(0), m.NewCounts(3)
	a.Messages(7, 1400)
	b.Messages(5, 100)
	a.Publish()
	if n, err := MessagesConsumed(reg); err != nil || n != 7 {
		t.Fatalf("one partition published: %v, %v; want 7", n, err)
	}
	b.Publish()
	if n, err := MessagesConsumed(reg); err != nil || n != 12 {
		t.Fatalf("both published: %v, %v; want 12 (summed over partitions)", n, err)
	}
}

// TestCorrectionOutcomes: each outcome status counts under its label, a
// refusal of any kind as "rejected".
func TestCorrectionOutcomes(t *testing.T) {
	m := New(nil, []transit.City{ningbo})
	c := m.NewCounts(0)
	for _, st := range []transit.Status{
		transit.StatusAdjustment, transit.StatusAdjustment, transit.StatusDuplicate,
		transit.StatusRejected, transit.StatusRejected, transit.StatusRejected,
	} {
		c.Correction(st)
	}
	for outcome, want := range map[string]float64{"applied": 2, "duplicate": 1, "rejected": 3} {
		if got := testutil.ToFloat64(m.corrections.WithLabelValues(outcome)); got != want {
			t.Errorf("corrections_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}
