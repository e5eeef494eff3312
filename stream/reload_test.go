package stream

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/stream/segment"
	"github.com/tapsettle/tapsettle/transit"
)

// The fare change of the reload tests: Hefei's bus fare, in a policy file
// of its own, goes from 2.00 to 3.00 CNY. Every tap is a Hefei card's
// bus boarding in Hefei on its own card, so its charge is the flat fare
// of the book that priced it.
const (
	hefei     = transit.City(340100)
	hefeiFile = "340100_hefei.yaml"
	fareA     = 200
	fareB     = 300
)

func hefeiPolicy(fare int, version string) string {
	return fmt.Sprintf(`city: 340100
versions:
  - effective_from: 2020-01-01
    version: %s
    source: "ours: test data"
    bus:
      fare: %d
      source: "ours: test"
`, version, fare)
}

// brokenPolicy is the file as an editor might leave it half done, with a
// value that must never reach a log.
const brokenPolicy = `city: 340100
versions:
  - effective_from: 2020-01-01
    version: hefei-broken
    source: "ours: test data"
    bus:
      fare: 300
      source: "ours: test"
      password: hunter2-must-not-be-logged
`

// replaceFile writes content to dir/name as editors save: aside, then
// renamed over the file.
func replaceFile(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// loadPolicy writes a Hefei policy into a folder of its own and loads it.
func loadPolicy(t *testing.T, fare int, version string) *fares.Book {
	t.Helper()
	dir := t.TempDir()
	replaceFile(t, dir, hefeiFile, hefeiPolicy(fare, version))
	b, err := fares.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reloadTaps returns the taps published before the fare change (8 cards
// on each partition, then on each partition a marker at 09:00 that moves
// the partition's watermark past the others, so that they are priced
// before the change) and after it (8 cards on each partition, from
// 10:00). want maps each tap_id to the fare it must be charged: the
// markers are held in the reorder window until the taps after the change
// release them, and so are priced by the new book.
func reloadTaps(t *testing.T) (before, after []transit.Tap, want map[string]int64) {
	t.Helper()
	cst := time.FixedZone("CST", 8*3600)
	want = map[string]int64{}
	n := 0
	tap := func(at time.Time, fare int64) transit.Tap {
		n++
		var x transit.Tap
		x.Time, x.Offset = at.UnixNano(), 8*3600
		x.Issuer, x.City, x.Mode, x.Action, x.Product = hefei, hefei, transit.ModeBus, transit.ActionBoard, transit.ProductStandard
		id, card := fmt.Sprintf("rl-%d", n), fmt.Sprintf("RELOAD%04d", n)
		if err := errors.Join(x.ID.Set([]byte(id)), x.Card.Set([]byte(card))); err != nil {
			t.Fatal(err)
		}
		want[id] = fare
		return x
	}
	// perPartition returns k taps on each partition, at start plus 10 s
	// apart, in time order.
	perPartition := func(k int, start time.Time, fare int64) []transit.Tap {
		var out []transit.Tap
		count := make([]int, partitions)
		for i := 0; len(out) < k*partitions; i++ {
			x := tap(start.Add(time.Duration(len(out))*10*time.Second), fare)
			p := feed.PartitionOf(x.Card.Bytes(), partitions)
			if count[p] == k {
				delete(want, x.ID.String())
				continue
			}
			count[p]++
			out = append(out, x)
		}
		return out
	}
	before = perPartition(8, time.Date(2025, 3, 3, 8, 0, 0, 0, cst), fareA)
	before = append(before, perPartition(1, time.Date(2025, 3, 3, 9, 0, 0, 0, cst), fareB)...) // the markers
	after = perPartition(8, time.Date(2025, 3, 3, 10, 0, 0, 0, cst), fareB)
	return before, after, want
}

// waitFor polls cond until it holds, or fails the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue returns the sum of the series of the named family whose labels
// contain match ("name=value", or "" for all).
func metricValue(t *testing.T, g prometheus.Gatherer, name, match string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := match == ""
			for _, l := range m.GetLabel() {
				ok = ok || l.GetName()+"="+l.GetValue() == match
			}
			if ok {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}

// reloadRun is one service run of the reload tests: a broker of one tap
// per message (so that messages consumed count taps), a service on it
// with its metrics and log, and the books' fingerprints.
type reloadRun struct {
	t     *testing.T
	e     *env
	pub   *feed.Publisher
	group *feed.Group
	reg   *prometheus.Registry
	log   *syncBuffer
	cfg   Config
}

func newReloadRun(t *testing.T, book *fares.Book, store state.Store, out string) *reloadRun {
	t.Helper()
	e := newEnv(t)
	b, pub := startBroker(t, 1)
	r := &reloadRun{t: t, e: e, pub: pub, group: newGroup(t, b.Addrs(), "reload"), reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	r.cfg = serviceConfig(e, store, out, testDay)
	r.cfg.Book = book
	r.cfg.Metrics = metrics.New(r.reg, nil)
	r.cfg.Log = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return r
}

func (r *reloadRun) publish(taps []transit.Tap) {
	r.t.Helper()
	if err := r.pub.Publish(context.Background(), taps); err != nil {
		r.t.Fatal(err)
	}
}

// consumed waits until the service has consumed (and priced) n messages.
func (r *reloadRun) consumed(n int) {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%d messages consumed", n), func() bool {
		v, err := metrics.MessagesConsumed(r.reg)
		return err == nil && int(v) >= n
	})
}

// start runs a service of cfg until the test's day is written, or until
// stop is called; wait returns Run's error.
func (r *reloadRun) start(cfg Config) (svc *Service, stop func(), wait func() error) {
	r.t.Helper()
	svc, err := New(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(ctx, r.group) }()
	r.t.Cleanup(cancel)
	return svc, cancel, func() error { return <-errc }
}

// dayFiles returns every file of the test's day under out, by path.
func dayFiles(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	root := filepath.Join(out, testDay.String())
	err := filepath.WalkDir(root, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[rel] = b
		return err
	})
	if err != nil || len(files) < 4 {
		t.Fatalf("the day's files under %s: %d, %v", root, len(files), err)
	}
	return files
}

// TestReloadUnderStream changes Hefei's bus fare under a running stream
// through its policy directory: a broken edit is refused (the running
// book stays, the error is counted and logged naming the file, without
// its content), the fixed file is adopted, and every tap is charged the
// fare of the book in force when it was priced: the old one before the
// change, the new one after (and for the taps the reorder window still
// held). The part's segment references name the book that priced each
// row, and the day's summary lists both books with the taps each priced.
//
// Then a replay: the same taps on a new topic, the same change of book
// made through ReloadPolicies between them, and a crash (no final
// checkpoint) after the change with a restart that loads the new book,
// give the same files byte for byte. The crash comes before any
// checkpoint but the one each partition takes as it adopts the new book:
// without it the restart would re-price the first taps with the new book.
func TestReloadUnderStream(t *testing.T) {
	before, after, want := reloadTaps(t)
	bookA, bookB := loadPolicy(t, fareA, "hefei-a"), loadPolicy(t, fareB, "hefei-b")
	fpA, fpB := bookA.Fingerprint(), bookB.Fingerprint()
	if fpA == fpB {
		t.Fatal("the two books have one fingerprint")
	}

	// The live run: the service watches its policy directory.
	dir := t.TempDir()
	replaceFile(t, dir, hefeiFile, hefeiPolicy(fareA, "hefei-a"))
	out := t.TempDir()
	live := newReloadRun(t, bookA, tempLocal(t), out)
	svc, _, wait := live.start(live.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := svc.WatchPolicies(ctx, dir, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	live.publish(before)
	live.consumed(len(before))

	replaceFile(t, dir, hefeiFile, brokenPolicy)
	waitFor(t, "the broken edit's reload", func() bool {
		return metricValue(t, live.reg, "tapsettle_policy_reloads_total", "result=error") == 1
	})
	if got := svc.Book().Fingerprint(); got != fpA {
		t.Fatalf("after a broken edit the service prices with %s, want the running book %s", got, fpA)
	}
	if v := metricValue(t, live.reg, "tapsettle_policy_last_reload_successful", ""); v != 0 {
		t.Errorf("policy_last_reload_successful = %v after a failed reload, want 0", v)
	}
	logged := live.log.String()
	for _, want := range []string{`msg="fare policy reload failed: pricing goes on with the running book"`, filepath.Join(dir, hefeiFile), "versions[0].bus.password", "unknown key"} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log of the failed reload lacks %q:\n%s", want, logged)
		}
	}
	if strings.Contains(logged, "hunter2") {
		t.Errorf("the log shows the policy file's content:\n%s", logged)
	}

	replaceFile(t, dir, hefeiFile, hefeiPolicy(fareB, "hefei-b"))
	waitFor(t, "the fixed file's reload", func() bool { return svc.Book().Fingerprint() == fpB })
	for _, m := range []struct {
		name, match string
		want        float64
	}{
		{"tapsettle_policy_reloads_total", "result=ok", 1},
		{"tapsettle_policy_reloads_total", "result=error", 1},
		{"tapsettle_policy_last_reload_successful", "", 1},
		{"tapsettle_policy_info", "fingerprint=" + fpB, 1},
		{"tapsettle_policy_info", "", 1},
	} {
		if v := metricValue(t, live.reg, m.name, m.match); v != m.want {
			t.Errorf("%s{%s} = %v, want %v", m.name, m.match, v, m.want)
		}
	}
	live.publish(after)
	if err := live.pub.CloseDay(context.Background(), testDay.String()); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.Cleared()[testDay]; !ok {
		t.Fatal("the day was not cleared")
	}
	if n := strings.Count(live.log.String(), `msg="partition prices with a new fare book"`); n != partitions {
		t.Errorf("%d partitions logged that they adopted the new book, want %d:\n%s", n, partitions, live.log.String())
	}
	dayDir := filepath.Join(out, testDay.String())
	if err := settlement.Verify(dayDir); err != nil {
		t.Fatal(err)
	}

	// Which tap got which fare.
	charged := ledgerCharges(t, readLedger(t, out, testDay))
	if len(charged) != len(want) {
		t.Errorf("the ledger has %d rows, want %d", len(charged), len(want))
	}
	for id, fare := range want {
		if got, ok := charged[id]; !ok || got != fare {
			t.Errorf("tap %s charged %d (in the ledger: %v), want %d", id, got, ok, fare)
		}
	}
	// Each segment names the book that priced its rows.
	fareOf := map[string]int64{fpA: fareA, fpB: fareB}
	books := map[string]int{}
	parts, err := findParts(testDay, []string{out})
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range parts {
		for _, ref := range part.Segments {
			fare, ok := fareOf[ref.Policy]
			if !ok {
				t.Fatalf("partition %d segment %s names policy %q, neither book", part.Partition, ref.Name, ref.Policy)
			}
			data, err := os.ReadFile(filepath.Join(out, segmentsDir, ref.Name))
			if err != nil {
				t.Fatal(err)
			}
			_, err = segment.Read(data, func(r *transit.Priced) error {
				books[ref.Policy]++
				if r.Charged != transit.Fen(fare) {
					return fmt.Errorf("tap %s charged %d in a segment of the book of fare %d", r.ID.String(), r.Charged, fare)
				}
				return nil
			}, func(*transit.Reject, transit.Day, bool) error { return nil })
			if err != nil {
				t.Fatalf("partition %d segment %s: %v", part.Partition, ref.Name, err)
			}
		}
	}
	if books[fpA] != 8*partitions || books[fpB] != 9*partitions {
		t.Errorf("segments of the old book hold %d rows, of the new %d; want %d and %d", books[fpA], books[fpB], 8*partitions, 9*partitions)
	}
	// The summary lists both books, with the taps each priced.
	sum := readSummary(t, dayDir)
	wantFP, wantSet := settlement.PolicySet([]settlement.PolicyUse{{Fingerprint: fpA, Records: 8 * partitions}, {Fingerprint: fpB, Records: 9 * partitions}})
	if sum.PolicyFingerprint != wantFP || fmt.Sprint(sum.Policies) != fmt.Sprint(wantSet) {
		t.Errorf("summary: policy %s, policies %+v; want %s, %+v", sum.PolicyFingerprint, sum.Policies, wantFP, wantSet)
	}
	liveFiles := dayFiles(t, out)

	// The replay, with a crash after the change.
	store := &crashStore{Store: tempLocal(t)}
	out2 := t.TempDir()
	replay := newReloadRun(t, bookA, store, out2)
	cfg := replay.cfg
	cfg.CheckpointInterval, cfg.CheckpointTaps = time.Hour, 1_000_000 // no checkpoint but the change's
	svc, stop, wait := replay.start(cfg)
	replay.publish(before)
	replay.consumed(len(before))
	if commits := store.commits.Load(); commits != 0 {
		t.Fatalf("%d checkpoints before the change: the replay cannot tell whether the change takes one", commits)
	}
	policyDir := t.TempDir()
	replaceFile(t, policyDir, hefeiFile, hefeiPolicy(fareB, "hefei-b"))
	if err := svc.ReloadPolicies(policyDir, "test"); err != nil {
		t.Fatal(err)
	}
	replay.publish(after)
	replay.consumed(len(before) + len(after))
	store.crash.Store(true)
	stop()
	if err := wait(); !errors.Is(err, errCrashed) {
		t.Fatalf("the crashed service returned %v, want the store's crash", err)
	}
	if commits := store.commits.Load(); commits != partitions {
		t.Fatalf("%d checkpoints committed before the crash, want one per partition as it adopted the new book", commits)
	}
	store.crash.Store(false)
	// The restart loads the new book, as a process started after the
	// change would.
	cfg.Book = bookB
	cfg.Metrics = metrics.New(prometheus.NewRegistry(), nil)
	svc, _, wait = replay.start(cfg)
	if err := replay.pub.CloseDay(context.Background(), testDay.String()); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.Cleared()[testDay]; !ok {
		t.Fatal("the replay did not clear the day")
	}
	if n := strings.Count(replay.log.String(), "the partition's last committed segment was priced by another fare book"); n != partitions {
		t.Errorf("%d restored partitions said their replay prices with another book, want %d:\n%s", n, partitions, replay.log.String())
	}
	replayFiles := dayFiles(t, out2)
	if len(replayFiles) != len(liveFiles) {
		t.Errorf("the replay wrote %d files, the live run %d", len(replayFiles), len(liveFiles))
	}
	for name, b := range liveFiles {
		if !bytes.Equal(replayFiles[name], b) {
			t.Errorf("%s differs between the live run and the replay", name)
		}
	}
}

// crashStore is a state store that fails every commit once crash is set,
// as if the process died before it: the service stops without a final
// checkpoint. commits counts the commits that went through.
type crashStore struct {
	state.Store
	crash   atomic.Bool
	commits atomic.Int64
}

var errCrashed = errors.New("crashed")

func (c *crashStore) Commit(ctx context.Context, p int, cp *state.Checkpoint) error {
	if c.crash.Load() {
		return errCrashed
	}
	if err := c.Store.Commit(ctx, p, cp); err != nil {
		return err
	}
	c.commits.Add(1)
	return nil
}

// ledgerCharges returns charged_fen by tap_id from a ledger.
func ledgerCharges(t *testing.T, ledger []byte) map[string]int64 {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(ledger)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("ledger: %v", err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	out := map[string]int64{}
	for _, r := range recs[1:] {
		v, err := strconv.ParseInt(r[col["charged_fen"]], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[r[col["tap_id"]]] = v
	}
	return out
}

// readSummary parses the summary of the day folder dir.
func readSummary(t *testing.T, dir string) *settlement.Summary {
	t.Helper()
	z, err := os.ReadFile(filepath.Join(dir, settlement.SummaryName))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := zstdDecode(z)
	if err != nil {
		t.Fatal(err)
	}
	s, err := settlement.ParseSummary(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClearPartsOfSeveralBooks: Clear merges parts priced by different
// fare books, a part of a build before segment references named their
// book (its own policy names it) among them, and lists each book with the
// rows it priced.
func TestClearPartsOfSeveralBooks(t *testing.T) {
	e := newEnv(t)
	before, after, _ := reloadTaps(t)
	bookA, bookB := loadPolicy(t, fareA, "hefei-a"), loadPolicy(t, fareB, "hefei-b")
	out := t.TempDir()
	write := func(p int, book *fares.Book, taps []transit.Tap, named bool) int {
		t.Helper()
		var rows collectRows
		part, err := engine.NewPartition(book, &rows, p, engine.Options{Calendar: e.cal})
		if err != nil {
			t.Fatal(err)
		}
		part.Submit(taps)
		part.CloseDay(testDay)
		var sb segment.Builder
		sb.AddRows(rows)
		name := segmentName(p, 1, "test")
		sum, err := durable.WriteFile(filepath.Join(out, segmentsDir, name), sb.Encode(nil), false)
		if err != nil {
			t.Fatal(err)
		}
		ref := segRef{Name: name, SHA256: hex.EncodeToString(sum[:])}
		if named {
			ref.Policy = book.Fingerprint()
		}
		if err := writePart(out, testDay, &Part{Version: partVersion, Topic: topic, Partition: p, Partitions: 2,
			Day: testDay.String(), Policy: book.Fingerprint(), Segments: []segRef{ref}}, false); err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	nA := write(0, bookA, before, false) // an earlier build's part
	nB := write(1, bookB, after, true)
	merged := t.TempDir()
	if _, _, err := Clear(testDay, []string{out}, merged, ClearOptions{Participants: e.book.Participants(), Calendar: e.cal, SkipSync: true}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(merged, testDay.String())
	if err := settlement.Verify(dir); err != nil {
		t.Fatal(err)
	}
	sum := readSummary(t, dir)
	wantFP, wantSet := settlement.PolicySet([]settlement.PolicyUse{{Fingerprint: bookA.Fingerprint(), Records: int64(nA)}, {Fingerprint: bookB.Fingerprint(), Records: int64(nB)}})
	if sum.PolicyFingerprint != wantFP || fmt.Sprint(sum.Policies) != fmt.Sprint(wantSet) {
		t.Errorf("summary: policy %s, policies %+v; want %s, %+v", sum.PolicyFingerprint, sum.Policies, wantFP, wantSet)
	}
}
