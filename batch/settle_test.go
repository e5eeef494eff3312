package batch_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

func env(t *testing.T) (*fares.Book, *transit.Calendar) {
	t.Helper()
	b, err := fares.Default()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := transit.NewCalendar(loc, 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return b, cal
}

func settle(t *testing.T, out string, shards int, ledger bool, inputs ...string) *batch.Report {
	t.Helper()
	b, cal := env(t)
	job := &batch.Settle{Book: b, Calendar: cal, Shards: shards, OutDir: out, Ledger: ledger, SkipSync: true}
	rep, err := job.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// tree reads every file under root, by relative path.
func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func generate(t *testing.T, taps int, malformed float64) *bench.GenDay {
	t.Helper()
	b, cal := env(t)
	day, _ := transit.ParseDay("2025-03-03")
	d, err := bench.Generate(b, cal, bench.GenOptions{Taps: taps, Seed: 9, Day: day, Malformed: malformed, Interregional: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The same taps settle to byte-identical files whatever the shard count,
// the order of the records, the number of input files and their formats.
func TestSettleIsDeterministic(t *testing.T) {
	d := generate(t, 20_000, -1)
	dir := t.TempDir()
	one := filepath.Join(dir, "day.csv.zst")
	if err := bench.WriteFile(one, ingest.FormatAuto, ingest.CompressionAuto, d); err != nil {
		t.Fatal(err)
	}
	// The same records reversed, split over three files in three encodings.
	rev := slices.Clone(d.Records)
	slices.Reverse(rev)
	var parts []string
	for i, name := range []string{"a.jsonl.gz", "b.csv", "c.jsonl.zst"} {
		lo, hi := i*len(rev)/3, (i+1)*len(rev)/3
		p := filepath.Join(dir, name)
		if err := bench.WriteFile(p, ingest.FormatAuto, ingest.CompressionAuto, &bench.GenDay{Records: rev[lo:hi]}); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	outA, outB := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	repA := settle(t, outA, 1, true, one)
	settle(t, outB, 4, true, parts[2], parts[0], parts[1])
	a, b := tree(t, outA), tree(t, outB)
	if len(a) < 10 {
		t.Fatalf("only %d files written: %v", len(a), a)
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between 1 shard/1 file and 4 shards/3 reversed files", name)
		}
	}
	if len(a) != len(b) {
		t.Errorf("%d files vs %d", len(a), len(b))
	}
	if repA.Records != int64(len(d.Records)) || repA.Rejected != 0 {
		t.Errorf("records %d rejected %d, want %d and 0", repA.Records, repA.Rejected, len(d.Records))
	}
	if err := settlement.Verify(outB); err != nil {
		t.Fatal(err)
	}
}

func readZstd(t *testing.T, path string) []byte {
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
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Ledger totals equal clearing totals; net positions sum to zero; every
// record is accounted for.
func TestLedgerClearingAndNetPositions(t *testing.T) {
	d := generate(t, 30_000, 0.002)
	dir := t.TempDir()
	in := filepath.Join(dir, "day.jsonl.zst")
	if err := bench.WriteFile(in, ingest.FormatAuto, ingest.CompressionAuto, d); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	rep := settle(t, out, 2, true, in)
	dayDir := filepath.Join(out, "2025-03-03")

	var records int64
	for _, day := range rep.Days {
		records += day.Records
	}
	if records != int64(len(d.Records)) || rep.Records != records {
		t.Errorf("days account for %d records, the input had %d (report %d)", records, len(d.Records), rep.Records)
	}

	// Sum the ledger's interregional charges per pair.
	lr, err := settlement.NewLedgerReader(bytes.NewReader(readZstd(t, filepath.Join(dayDir, "ledger.csv.zst"))))
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ issuer, acquirer transit.City }
	ledger := map[pair]transit.Fen{}
	issuers := map[transit.City]bool{}
	var ledgerTotal transit.Fen
	for {
		var r transit.Priced
		err := lr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Interregional() && (r.Status == transit.StatusCharged || r.Status == transit.StatusIncomplete) {
			ledger[pair{r.Issuer, r.City}] += r.Charged
			issuers[r.Issuer] = true
			ledgerTotal += r.Charged
		}
	}
	if ledgerTotal == 0 || len(ledger) < 10 {
		t.Fatalf("ledger has %d interregional pairs, total %v", len(ledger), ledgerTotal)
	}
	cleared := map[pair]transit.Fen{}
	for issuer := range issuers {
		path := settlement.ClearingPath(issuer)
		f, err := settlement.ReadClearingFile(bytes.NewReader(readZstd(t, filepath.Join(dayDir, path))))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, b := range f.Batches {
			cleared[pair{b.Header.Issuer, b.Header.Acquirer}] += b.Control.Charged
		}
	}
	if !maps.Equal(cleared, ledger) {
		t.Errorf("clearing batches by pair:\n%v\nledger:\n%v", cleared, ledger)
	}
	entries, _ := os.ReadDir(filepath.Join(dayDir, "clearing"))
	if len(entries) != len(issuers) {
		t.Errorf("%d clearing files, %d issuers in the ledger", len(entries), len(issuers))
	}

	sum, err := settlement.ParseSummary(readZstd(t, filepath.Join(dayDir, "summary.json.zst")))
	if err != nil {
		t.Fatal(err)
	}
	var net, payable int64
	for _, n := range sum.NetPositions {
		net += n.NetFen
		payable += n.PayableFen
	}
	if net != 0 || payable != int64(ledgerTotal) || len(sum.NetPositions) != 336 {
		t.Errorf("net positions sum to %d over %d participants, payable %d, want 0 over 336 and %d", net, len(sum.NetPositions), payable, ledgerTotal)
	}
}

// A malformed record is quarantined with its file, line and field; the
// records around it settle.
func TestMalformedRecordIsRejectedWithItsLine(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "taps.csv")
	body := `tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device
t1,C1,joinin,330200,310100,bus,71,B1,board,2025-03-03T08:00:00+08:00,
t2,C2,standard,330200,330200,bus,71,B1,board,2025-03-03T08:00:00,
t3,C3,standard,330200,330200,bus,71,B1,board,2025-03-03T09:00:00+08:00,
`
	if err := os.WriteFile(in, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	rep := settle(t, out, 2, true, in)
	if rep.Records != 3 || rep.Taps != 2 || rep.Rejected != 1 {
		t.Fatalf("records %d taps %d rejected %d, want 3, 2, 1", rep.Records, rep.Taps, rep.Rejected)
	}
	rejects := string(readZstd(t, filepath.Join(out, "undated", "rejects.csv.zst")))
	if !strings.Contains(rejects, in+",3,time,") {
		t.Errorf("rejects file does not name %s line 3 field time:\n%s", in, rejects)
	}
	ledger := string(readZstd(t, filepath.Join(out, "2025-03-03", "ledger.csv.zst")))
	for _, id := range []string{"t1,", "t3,"} {
		if !strings.Contains(ledger, "\n"+id) {
			t.Errorf("ledger lacks %s", id)
		}
	}
	// The Ningbo Join in Card on a Shanghai bus clears Ningbo -> Shanghai.
	clr := readZstd(t, filepath.Join(out, "2025-03-03", settlement.ClearingPath(transit.Ningbo)))
	f, err := settlement.ReadClearingFile(bytes.NewReader(clr))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range f.Batches {
		for _, e := range b.Details {
			found = found || (b.Header.Acquirer == 310100 && e.TapID.String() == "t1")
		}
	}
	if !found {
		t.Errorf("Ningbo's clearing file has no Shanghai batch with t1:\n%s", clr)
	}
	if err := settlement.Verify(out); err != nil {
		t.Fatal(err)
	}
}

// verify catches a single flipped byte anywhere in a day's output.
func TestVerifyCatchesFlippedByte(t *testing.T) {
	d := generate(t, 3_000, 0.01)
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv.gz")
	if err := bench.WriteFile(in, ingest.FormatAuto, ingest.CompressionAuto, d); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	settle(t, out, 2, true, in)
	if err := settlement.Verify(out); err != nil {
		t.Fatal(err)
	}
	files := tree(t, out)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, name := range names {
		data := files[name]
		pos := (i * 7919) % len(data)
		path := filepath.Join(out, name)
		flipped := slices.Clone(data)
		flipped[pos] ^= 0x01
		if err := os.WriteFile(path, flipped, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := settlement.Verify(out); err == nil {
			t.Errorf("flipping byte %d of %s went unnoticed", pos, name)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// A metro journey across the 04:00 cut-off is settled once, on its exit's
// day, and an entry just before the cut-off that never exits is charged on
// the next day (the engine's carry rule, issue 16); verify accepts both.
func TestJourneyAcrossCutoff(t *testing.T) {
	b, _ := env(t)
	d, _ := transit.ParseDay("2025-03-03")
	net := b.Policy(transit.Ningbo, d).Metro
	from, to := net.StationCode(0).String(), net.StationCode(1).String()
	dir := t.TempDir()
	in := filepath.Join(dir, "taps.csv")
	// Shanghai-issued cards in the Ningbo metro: interregional, so their
	// charges are in the clearing files too.
	body := `tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device
x1,C1,standard,310100,330200,metro,M1,` + from + `,entry,2025-03-04T03:50:00+08:00,
x2,C1,standard,310100,330200,metro,M1,` + to + `,exit,2025-03-04T04:20:00+08:00,
y1,C2,standard,310100,330200,metro,M1,` + from + `,entry,2025-03-04T03:40:00+08:00,
z1,C3,standard,310100,330200,bus,71,B1,board,2025-03-03T09:00:00+08:00,
`
	if err := os.WriteFile(in, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	settle(t, out, 2, true, in)
	first := string(readZstd(t, filepath.Join(out, "2025-03-03", "ledger.csv.zst")))
	next := string(readZstd(t, filepath.Join(out, "2025-03-04", "ledger.csv.zst")))
	for _, id := range []string{"x1,", "x2,", "y1,"} {
		if strings.Contains(first, "\n"+id) {
			t.Errorf("2025-03-03's ledger has %s: a journey across the cut-off is settled on its exit's day", id)
		}
	}
	line := func(id string) string {
		for _, l := range strings.Split(next, "\n") {
			if strings.HasPrefix(l, id+",") {
				return l
			}
		}
		t.Fatalf("2025-03-04's ledger lacks %s:\n%s", id, next)
		return ""
	}
	for _, c := range []struct{ id, want string }{
		{"x1", ",charged,0,0,0,metro-entry+synthetic+carried,"},
		{"x2", ",charged,"},
		{"y1", ",incomplete,"}, {"y1", "unclosed-entry+synthetic+carried,"},
	} {
		if l := line(c.id); !strings.Contains(l, c.want) {
			t.Errorf("%s's row lacks %q:\n%s", c.id, c.want, l)
		}
	}
	if l := line("x2"); strings.Contains(l, "incomplete") || strings.Contains(l, "unmatched-exit") {
		t.Errorf("the exit is not paired with its entry:\n%s", l)
	}
	if err := settlement.Verify(out); err != nil {
		t.Fatal(err)
	}
}
