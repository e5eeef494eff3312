package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// run executes the CLI in process and returns its output and error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := execute(context.Background(), root)
	return out.String(), err
}

func TestGenSettleVerify(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv.zst")
	if out, err := run(t, "gen", "--taps", "5000", "--seed", "3", "--day", "2025-03-03", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	outDir := filepath.Join(dir, "out")
	out, err := run(t, "settle", "--out", outDir, "--ledger", "--shards", "3", in)
	if err != nil {
		t.Fatalf("settle: %v\n%s", err, out)
	}
	for _, want := range []string{"2025-03-03", "records", "Ningbo Join in discount CNY", "5000 records from 1 input"} {
		if !strings.Contains(out, want) {
			t.Errorf("settle output lacks %q:\n%s", want, out)
		}
	}
	if out, err := run(t, "verify", outDir); err != nil || !strings.Contains(out, "verified") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	// Tamper with the summary: verify fails with exit status 2.
	tamperSummary(t, filepath.Join(outDir, "2025-03-03"))
	out, err = run(t, "verify", outDir)
	var ex exitError
	if !errors.As(err, &ex) || ex != 2 || !strings.Contains(out, "summary.json.zst") {
		t.Errorf("verify of a tampered summary: err %v, output %q; want exit 2 naming the file", err, out)
	}
}

func TestPolicyAndQuote(t *testing.T) {
	out, err := run(t, "policy", "show", "Ningbo", "--day", "2025-03-03")
	if err != nil || !strings.Contains(out, "330200") || !strings.Contains(out, "joinin") {
		t.Errorf("policy show Ningbo: %v\n%s", err, out)
	}
	out, err = run(t, "quote", "--city", "Ningbo", "--mode", "bus", "--product", "joinin")
	if err != nil || !strings.Contains(out, "charged            1.20 CNY") {
		t.Errorf("quote Ningbo bus joinin: %v\n%s", err, out)
	}
	out, err = run(t, "quote", "--city", "Ningbo", "--mode", "bus", "--product", "joinin", "--issuer", "Shanghai")
	if err != nil || !strings.Contains(out, "charged            2.00 CNY") {
		t.Errorf("quote Shanghai-issued joinin in Ningbo: %v\n%s", err, out)
	}
	if _, err := run(t, "quote", "--city", "Atlantis"); err == nil {
		t.Error("quote accepted an unknown city")
	}
	out, err = run(t, "policy", "check", filepath.Join("..", "..", "fares", "policies"))
	if err != nil || !strings.Contains(out, "valid") {
		t.Errorf("policy check of the shipped policies: %v\n%s", err, out)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "330200_ningbo.yaml"), []byte("city: 330200\nversions:\n  - effective_from: 2020-01-01\n    bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "policy", "check", bad)
	var ex exitError
	if !errors.As(err, &ex) || !strings.Contains(out, "330200_ningbo.yaml:4") {
		t.Errorf("policy check of a bad file: err %v\n%s", err, out)
	}
}

// TestBenchShardsAndProfile runs bench with its own --shards list (a flag
// that shares its name with the engine.shards configuration flag) and
// the global --cpuprofile and --memprofile.
func TestBenchShardsAndProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	mem := filepath.Join(t.TempDir(), "mem.prof")
	out, err := run(t, "bench", "--taps", "3000", "--rounds", "1", "--shards", "1,2", "--engine-only", "--cpuprofile", prof, "--memprofile", mem)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"shards=1 ", "shards=2 "} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "shards=4") {
		t.Errorf("bench measured shard counts it was not asked for:\n%s", out)
	}
	for _, p := range []string{prof, mem} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("no profile written to %s: %v", p, err)
		}
	}
}

// TestProfileOfFailingCommand: the profiles are written when the command
// fails too.
func TestProfileOfFailingCommand(t *testing.T) {
	dir := t.TempDir()
	prof, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	out, err := run(t, "settle", "--out", filepath.Join(dir, "out"), "--cpuprofile", prof, "--memprofile", mem, filepath.Join(dir, "missing.csv"))
	if err == nil {
		t.Fatalf("settle of a missing file succeeded:\n%s", out)
	}
	for _, p := range []string{prof, mem} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("no profile written to %s after a failing command: %v", p, err)
		}
	}
}

// TestKafkaClientIDFromConfig: kafka.client_id reaches the connections
// (it was accepted, documented and never passed on).
func TestKafkaClientIDFromConfig(t *testing.T) {
	t.Setenv("TAPSETTLE_KAFKA_CLIENT_ID", "clearing-house-7")
	cmd, _, err := newRoot().Find([]string{"produce"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := setup(cmd)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := kafkaSecurity(e)
	if err != nil {
		t.Fatal(err)
	}
	if sec.ClientID != "clearing-house-7" {
		t.Errorf("kafka security client id %q, want the configured one", sec.ClientID)
	}
}

// TestSameClearing: the demo's comparison of the stream's and the batch
// job's clearing files fails on a differing byte and on a file only one
// side wrote, whichever side.
func TestSameClearing(t *testing.T) {
	const day = transit.Day(20150)
	days := map[transit.Day]*settlement.Day{day: nil}
	tree := func(files map[string]string) string {
		root := t.TempDir()
		dir := filepath.Join(root, settlement.DirName(day), settlement.ClearingDir)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o640); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	base := map[string]string{"110100.clr.zst": "a", "330200.clr.zst": "b"}
	same := tree(base)
	for _, tc := range []struct {
		name  string
		other map[string]string
		want  bool
	}{
		{"identical", base, true},
		{"a byte differs", map[string]string{"110100.clr.zst": "a", "330200.clr.zst": "c"}, false},
		{"extra file", map[string]string{"110100.clr.zst": "a", "330200.clr.zst": "b", "310100.clr.zst": "d"}, false},
		{"missing file", map[string]string{"110100.clr.zst": "a"}, false},
	} {
		other := tree(tc.other)
		for _, order := range [][2]string{{same, other}, {other, same}} {
			got, _, err := sameClearing(order[0], order[1], days)
			if err != nil || got != tc.want {
				t.Errorf("%s: sameClearing = %v, %v; want %v", tc.name, got, err, tc.want)
			}
		}
	}
}

// TestCorrectCheck: correct --check reads every file, lists each malformed
// record by file and line, counts the corrections of all files, and fails
// when one is malformed; a file it cannot open is an error naming it.
func TestCorrectCheck(t *testing.T) {
	dir := t.TempDir()
	const head = "correction_id,card,tap_id,kind,amount,reason\n"
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.jsonl")
	for p, body := range map[string]string{
		a: head + "c-1,3102,t-1,refund,,gate fault\nc-2,3102,t-2,partial-refund,x,bad amount\nc-3,3102,t-3,reprice,0,\"free, per notice\"\n",
		b: `{"correction_id":"c-4","card":"3102","tap_id":"t-4","kind":"refund","reason":"r"}` + "\n",
	} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, "correct", "--check", a, b)
	if err == nil || !strings.Contains(err.Error(), "1 malformed correction record(s)") {
		t.Errorf("correct --check with a malformed record: %v, want an error counting it", err)
	}
	for _, want := range []string{a + ":3: amount: ", "3 correction(s) read, 1 malformed record(s)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("correct --check output lacks %q:\n%s", want, out)
		}
	}
	if out, err := run(t, "correct", "--check", b); err != nil || !strings.Contains(out, "1 correction(s) read, 0 malformed record(s)") {
		t.Errorf("correct --check of a good file: %v\n%s", err, out)
	}
	missing := filepath.Join(dir, "none.csv")
	if _, err := run(t, "correct", "--check", b, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("correct --check of a missing file: %v, want an error naming it", err)
	}
}

// TestVersion: "version" and "--version" print the build; a test binary
// is a development build.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		for _, want := range []string{"tapsettle (devel)\n", "commit:      unknown\n", "go:          go1.", "producer:    tapsettle/(devel)\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// TestSettleOwnsOut: settle refuses a --out holding an earlier run's days
// and says how to go on; --force replaces them.
func TestSettleOwnsOut(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv")
	if out, err := run(t, "gen", "--taps", "300", "--seed", "5", "--day", "2025-03-03", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	outDir := filepath.Join(dir, "out")
	if out, err := run(t, "settle", "--out", outDir, in); err != nil {
		t.Fatalf("settle: %v\n%s", err, out)
	}
	out, err := run(t, "settle", "--out", outDir, in)
	if err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "2025-03-03") {
		t.Fatalf("second settle into the same --out: %v\n%s", err, out)
	}
	if out, err := run(t, "settle", "--out", outDir, "--force", in); err != nil {
		t.Fatalf("settle --force: %v\n%s", err, out)
	}
	if out, err := run(t, "verify", outDir); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestSettleMemoryBudget: --memory-budget takes a size; a day larger than
// it settles partitioned to disk into the same files as in memory; a
// value that is not a size, or is too small, is refused naming the key.
func TestSettleMemoryBudget(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv.zst")
	if out, err := run(t, "gen", "--taps", "60000", "--seed", "8", "--day", "2025-03-03", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	t.Setenv("TMPDIR", filepath.Join(dir, "tmp"))
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	var trees []map[string][]byte
	for _, budget := range []string{"1GiB", "16MiB"} {
		outDir := filepath.Join(dir, "out-"+budget)
		out, err := run(t, "settle", "--out", outDir, "--ledger", "--memory-budget", budget, "--log-level", "debug", in)
		if err != nil {
			t.Fatalf("settle --memory-budget %s: %v\n%s", budget, err, out)
		}
		trees = append(trees, readTree(t, outDir))
	}
	if len(trees[0]) < 10 {
		t.Fatalf("only %d files", len(trees[0]))
	}
	for name, data := range trees[0] {
		if !bytes.Equal(data, trees[1][name]) {
			t.Errorf("%s differs with --memory-budget 16MiB", name)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	for budget, want := range map[string]string{"lots": "256MiB or 1GiB", "1MiB": "at least 16MiB", "-2GiB": "at least 16MiB"} {
		_, err := run(t, "settle", "--out", filepath.Join(dir, "bad"), "--memory-budget", budget, in)
		if err == nil || !strings.Contains(err.Error(), "settlement.memory_budget") || !strings.Contains(err.Error(), want) {
			t.Errorf("--memory-budget %s: %v; want an error naming settlement.memory_budget and %q", budget, err, want)
		}
	}
}

// tamperSummary flips a bit in the middle of the summary.json.zst of
// dayDir, so that it no longer matches its manifest line, and returns the
// file's path.
func tamperSummary(t *testing.T, dayDir string) string {
	t.Helper()
	p := filepath.Join(dayDir, "summary.json.zst")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x20
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readTree reads every file under root, by relative path.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
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
