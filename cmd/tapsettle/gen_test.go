package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenShareFlags: every share flag says that 0 means none; --late 0
// --duplicates 0 --malformed 0 gives a day without any (as a negative
// share does), while a flag not given keeps its default.
func TestGenShareFlags(t *testing.T) {
	gen := newGen()
	for _, name := range []string{"interregional", "joinin", "duplicates", "late", "malformed", "fare-rules"} {
		f := gen.Flags().Lookup(name)
		if f == nil {
			t.Fatalf("gen has no --%s", name)
		}
		if !strings.Contains(f.Usage, "0: none") {
			t.Errorf("--%s's help %q does not say that a share of 0 means none", name, f.Usage)
		}
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--late", "0", "--duplicates", "0", "--malformed", "0"}, " 0 duplicates, 0 late, 0 malformed)"},
		{[]string{"--late", "-1", "--malformed", "-1"}, " 0 late, 0 malformed)"},
	} {
		out, err := run(t, append([]string{"gen", "--taps", "20000", "-o", filepath.Join(dir, "d.csv")}, tc.args...)...)
		if err != nil {
			t.Fatalf("gen %v: %v\n%s", tc.args, err, out)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("gen %v reports %q, want %q", tc.args, out, tc.want)
		}
	}
	out, err := run(t, "gen", "--taps", "20000", "-o", filepath.Join(dir, "d.csv"))
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	if strings.Contains(out, " 0 duplicates") || strings.Contains(out, " 0 late") || strings.Contains(out, " 0 malformed") {
		t.Errorf("gen with the default shares reports %q, want some of each", out)
	}
}

// TestGenRefusesUnknownExtension: a name that does not say the record
// format is refused rather than silently written as CSV; --format decides.
func TestGenRefusesUnknownExtension(t *testing.T) {
	dir := t.TempDir()
	if out, err := run(t, "gen", "--taps", "100", "-o", filepath.Join(dir, "x.txt")); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("gen -o x.txt: %v, want an error saying to pass --format\n%s", err, out)
	}
	if out, err := run(t, "gen", "--taps", "100", "--format", "csv", "-o", filepath.Join(dir, "x.txt")); err != nil {
		t.Errorf("gen --format csv -o x.txt: %v\n%s", err, out)
	}
	for _, name := range []string{"d.csv", "d.JSONL.zst", "d.ndjson.gz", "d.csv.gz"} {
		if out, err := run(t, "gen", "--taps", "100", "-o", filepath.Join(dir, name)); err != nil {
			t.Errorf("gen -o %s: %v\n%s", name, err, out)
		}
	}
}

// TestMissingArgsNamed: a command missing its arguments names them and
// shows its usage, instead of cobra's "requires at least 1 arg(s)".
func TestMissingArgsNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify"}, "missing the output folder to verify (DIR)"},
		{[]string{"policy", "check"}, "missing the policy directory (DIR)"},
		{[]string{"policy", "show"}, "missing the city"},
		{[]string{"correct"}, "missing the corrections files (FILE...)"},
		{[]string{"clear"}, "missing the instances' output folders"},
		{[]string{"verify", "a", "b"}, `got 2 arguments: ["a" "b"]`},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "usage: tapsettle") {
			t.Errorf("%v: %v, want an error with %q and the usage", tc.args, err, tc.want)
		}
	}
}

// TestExitStatusNotPrinted: a command that reports its own failure and
// exits 2 (verify, policy check) prints no stray "tapsettle: exit status
// 2" after its message. The test binary runs main itself as the child.
func TestExitStatusNotPrinted(t *testing.T) {
	if os.Getenv("TAPSETTLE_MAIN") == "1" {
		os.Args = append([]string{"tapsettle"}, strings.Fields(os.Getenv("TAPSETTLE_ARGS"))...)
		main()
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatusNotPrinted$")
	cmd.Env = append(os.Environ(), "TAPSETTLE_MAIN=1", "TAPSETTLE_ARGS=verify "+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("verify of an empty folder: %v, want exit status 2\n%s", err, out)
	}
	if strings.Contains(string(out), "exit status") || !strings.Contains(string(out), "verify FAILED") {
		t.Errorf("verify's output:\n%s\nwant its failure and no \"exit status\" line", out)
	}
}

// TestGenOut: gen writes its file to --out (or -o), as settle writes its
// days under --out; --output, its first name, still works but says it
// is deprecated, since elsewhere --output names what a command prints.
func TestGenOut(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		flag       string
		deprecated bool
	}{{"--out", false}, {"-o", false}, {"--output", true}} {
		path := filepath.Join(dir, strings.TrimLeft(tc.flag, "-")+".csv")
		out, err := run(t, "gen", "--taps", "100", tc.flag, path)
		if err != nil {
			t.Fatalf("gen %s: %v\n%s", tc.flag, err, out)
		}
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Errorf("gen %s %s wrote nothing there: %v", tc.flag, path, err)
		}
		if said := strings.Contains(out, "deprecated"); said != tc.deprecated {
			t.Errorf("gen %s: says deprecated %v, want %v\n%s", tc.flag, said, tc.deprecated, out)
		}
	}
}
