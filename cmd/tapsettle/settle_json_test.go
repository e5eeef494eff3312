package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/settlement"
)

// TestSettleJSON: settle --output json writes one document whose days'
// summaries are field for field the summary files written, whose counts
// are the text run's, and nothing else on standard output (the logs go to
// the process's standard error).
func TestSettleJSON(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv.zst")
	if out, err := run(t, "gen", "--taps", "4000", "--seed", "7", "--malformed", "0.01", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	text, err := run(t, "settle", "--out", filepath.Join(dir, "text"), in)
	if err != nil {
		t.Fatalf("settle: %v\n%s", err, text)
	}
	outDir := filepath.Join(dir, "out")
	stdout, stderr, err := runSplit(t, "settle", "--output", "json", "--out", outDir, "--ledger", "--shards", "2", in)
	if err != nil {
		t.Fatalf("settle --output json: %v\n%s", err, stderr)
	}
	var doc settleDoc
	decodeOne(t, stdout, &doc)
	if doc.Schema != "tapsettle.settle/1" || doc.Out != outDir || len(doc.Inputs) != 1 || doc.Inputs[0].Name != in || doc.Inputs[0].Compression != "zstd" {
		t.Errorf("document head: %+v", doc)
	}
	if doc.Records != 4000 || doc.Malformed == 0 || doc.Taps+doc.Malformed != doc.Records || !strings.Contains(text, "4000 records from 1 input(s): "+itoa(doc.Taps)+" taps, "+itoa(doc.Malformed)+" malformed") {
		t.Errorf("records %d, taps %d, malformed %d; the text run said:\n%s", doc.Records, doc.Taps, doc.Malformed, text)
	}
	if doc.Partitioned != (settlePartitioned{}) || !strings.Contains(string(stdout), `"partitioned":`) {
		t.Errorf("a day within its budget: partitioned %+v, want zeros, and the field present", doc.Partitioned)
	}
	if doc.ElapsedSeconds <= 0 || doc.PricedSeconds <= 0 || doc.PricedSeconds > doc.ElapsedSeconds || doc.RecordsPerSecond <= 0 {
		t.Errorf("timings: priced %v s, elapsed %v s, %v records/s", doc.PricedSeconds, doc.ElapsedSeconds, doc.RecordsPerSecond)
	}
	if len(doc.Days) < 2 {
		t.Fatalf("%d days; the malformed records without a time should make an undated one", len(doc.Days))
	}
	var records, charged, chargedFen int64
	for _, d := range doc.Days {
		if d.Dir != filepath.Join(outDir, d.Summary.Day) {
			t.Errorf("day %s in %s", d.Summary.Day, d.Dir)
		}
		file := readSummaryFile(t, filepath.Join(d.Dir, settlement.SummaryName))
		if !reflect.DeepEqual(d.Summary, file) {
			t.Errorf("day %s: the document's summary differs from the file's:\n%+v\n%+v", d.Summary.Day, d.Summary, file)
		}
		manifest, err := os.ReadFile(filepath.Join(d.Dir, settlement.ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(manifest), "manifest-sha256 "+d.ManifestSHA256+"\n") {
			t.Errorf("day %s: manifest_sha256 %q is not the manifest's last line", d.Summary.Day, d.ManifestSHA256)
		}
		records += file.Records
		charged += file.Counts.Charged
		chargedFen += file.Totals.ChargedFen
		// The text table's row of the day: its records and charged count.
		if !strings.Contains(text, d.Summary.Day+"  ") || !strings.Contains(text, " "+itoa(file.Records)+"  ") {
			t.Errorf("the text run has no row of day %s with %d records:\n%s", d.Summary.Day, file.Records, text)
		}
	}
	if tot := doc.Total; tot.Days != len(doc.Days) || tot.Records != records || tot.Records != doc.Records || tot.Counts.Charged != charged || tot.Totals.ChargedFen != chargedFen {
		t.Errorf("total %+v; the files sum to %d records, %d charged, %d fen", tot, records, charged, chargedFen)
	}
	if doc.State != nil || doc.Corrections != (settleCorrections{}) {
		t.Errorf("state %+v, corrections %+v without --state", doc.State, doc.Corrections)
	}
}

// TestSettleJSONWithState: a run with --state gives the state folder's
// closed day and carried journeys in the document, as the text does.
func TestSettleJSONWithState(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv")
	if out, err := run(t, "gen", "--taps", "1500", "--seed", "8", "--day", "2025-03-01", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	stdout, stderr, err := runSplit(t, "settle", "--output", "json", "--state", state, "--day", "2025-03-01", "--out", filepath.Join(dir, "out"), in)
	if err != nil {
		t.Fatalf("settle: %v\n%s", err, stderr)
	}
	var doc settleDoc
	decodeOne(t, stdout, &doc)
	if doc.State == nil || doc.State.Dir != state || doc.State.Closed != "2025-03-01" {
		t.Errorf("state %+v, want %s closed on 2025-03-01", doc.State, state)
	}
}

func readSummaryFile(t *testing.T, path string) *settlement.Summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var b strings.Builder
	if _, err := zr.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	s, err := settlement.ParseSummary([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSettleStateOverBudget: settle --state day by day under a memory
// budget its days outgrow partitions them (the JSON says so), and writes
// the same day files as the same days settled with --state in memory.
func TestSettleStateOverBudget(t *testing.T) {
	dir := t.TempDir()
	days := []string{"2025-03-01", "2025-03-02"}
	var inputs []string
	for i, day := range days {
		in := filepath.Join(dir, day+".csv.zst")
		if out, err := run(t, "gen", "--taps", "50000", "--seed", "9", "--day", day, "--first-id", itoa(int64(i)*50000), "-o", in); err != nil {
			t.Fatalf("gen: %v\n%s", err, out)
		}
		inputs = append(inputs, in)
	}
	for _, mode := range []struct {
		name   string
		budget []string
	}{{"memory", nil}, {"budget", []string{"--memory-budget", "16MiB"}}} {
		state, out := filepath.Join(dir, mode.name, "state"), filepath.Join(dir, mode.name, "out")
		for i, day := range days {
			args := append([]string{"settle", "--output", "json", "--state", state, "--day", day, "--out", out}, mode.budget...)
			stdout, stderr, err := runSplit(t, append(args, inputs[i])...)
			if err != nil {
				t.Fatalf("%s, %s: %v\n%s", mode.name, day, err, stderr)
			}
			var doc settleDoc
			decodeOne(t, stdout, &doc)
			if spilled := doc.Partitioned.Groups > 0; spilled != (mode.budget != nil) {
				t.Errorf("%s, %s: partitioned %+v", mode.name, day, doc.Partitioned)
			}
		}
	}
	want, got := readTree(t, filepath.Join(dir, "memory", "out")), readTree(t, filepath.Join(dir, "budget", "out"))
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d files partitioned, %d in memory", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs between the partitioned and the in-memory runs", name)
		}
	}
}
