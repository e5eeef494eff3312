package report

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// shared holds what several tests read and nobody changes: a generated
// day settled with and without a ledger, made once per test binary and
// removed by TestMain.
var shared struct {
	once            sync.Once
	root            string
	book            *fares.Book
	ledger, noLedge string
	err             error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.root != "" {
		os.RemoveAll(shared.root)
	}
	os.Exit(code)
}

// generatedDays returns a generated day of 20,000 taps over the 336
// participants, settled by the batch job with a ledger and without one:
// the two day folders, and the book that priced them.
func generatedDays(t testing.TB) (ledger, noLedger string, book *fares.Book) {
	t.Helper()
	shared.once.Do(func() {
		shared.book, shared.err = fares.Default()
		if shared.err != nil {
			return
		}
		if shared.root, shared.err = os.MkdirTemp("", "report-test-"); shared.err != nil {
			return
		}
		cal := fixture.Calendar(t)
		day := transit.DayOf(2025, 3, 3)
		g, err := bench.Generate(shared.book, cal, bench.GenOptions{Taps: 20_000, Seed: 7, Day: day})
		if err != nil {
			shared.err = err
			return
		}
		in := filepath.Join(shared.root, "taps.csv.zst")
		if shared.err = bench.WriteFile(in, ingest.FormatCSV, ingest.CompressionZstd, g); shared.err != nil {
			return
		}
		for _, withLedger := range []bool{true, false} {
			out := filepath.Join(shared.root, map[bool]string{true: "ledger", false: "plain"}[withLedger])
			job := &batch.Settle{Book: shared.book, Calendar: cal, Shards: 2, OutDir: out, Ledger: withLedger, SkipSync: true}
			if _, shared.err = job.Run(context.Background(), []string{in}); shared.err != nil {
				return
			}
		}
		shared.ledger = filepath.Join(shared.root, "ledger", "2025-03-03")
		shared.noLedge = filepath.Join(shared.root, "plain", "2025-03-03")
	})
	if shared.err != nil {
		t.Fatalf("generated day: %v", shared.err)
	}
	return shared.ledger, shared.noLedge, shared.book
}

// fixtureCities names the fixture's participants.
var fixtureCities = []fares.City{
	{Code: fixture.Beijing, NameEN: "Beijing", NameZH: "北京市"},
	{Code: fixture.Shanghai, NameEN: "Shanghai", NameZH: "上海市"},
	{Code: fixture.Hangzhou, NameEN: "Hangzhou", NameZH: "杭州市"},
	{Code: fixture.Ningbo, NameEN: "Ningbo", NameZH: "宁波市"},
	{Code: fixture.Guangzhou, NameEN: "Guangzhou", NameZH: "广州市"},
	{Code: fixture.Shenzhen, NameEN: "Shenzhen", NameZH: "深圳市"},
}

// writeFixtureDay writes the settlement day of internal/fixture (its
// rows of fixture.Day, its adjustments and its malformed records), each
// row first passed to edit when it is not nil, and returns its folder.
func writeFixtureDay(t testing.TB, ledger bool, edit func(*transit.Priced)) string {
	t.Helper()
	rows := append(fixture.Rows(), fixture.Adjustments()...)
	if edit != nil {
		for i := range rows {
			edit(&rows[i])
		}
	}
	c := settlement.NewCollector(settlement.Options{Participants: fixture.Participants(), Shards: 1, Calendar: fixture.Calendar(t), Ledger: ledger})
	c.Emit(0, rows)
	for _, r := range fixture.Rejects() {
		c.Reject(r)
	}
	root := t.TempDir()
	d := c.Day(fixture.Day)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := settlement.WriteDay(root, d, settlement.WriteOptions{Ledger: ledger, PolicyFingerprint: "p1", SkipSync: true}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, settlement.DirName(fixture.Day))
}

// writeUndatedDay collects internal/fixture's malformed records, writes
// the undated folder they make and returns it.
func writeUndatedDay(t testing.TB) string {
	t.Helper()
	c := settlement.NewCollector(settlement.Options{Participants: fixture.Participants(), Calendar: fixture.Calendar(t), Ledger: true})
	for _, r := range fixture.Rejects() {
		c.Reject(r)
	}
	root := t.TempDir()
	if _, err := settlement.WriteDay(root, c.Day(settlement.Undated), settlement.WriteOptions{Ledger: true, SkipSync: true}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, settlement.UndatedName)
}

// readFixture reads a fixture day folder.
func readFixture(t testing.TB, dir string) *Day {
	t.Helper()
	d, err := Read(dir, Options{Cities: fixtureCities, Calendar: fixture.Calendar(t)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
