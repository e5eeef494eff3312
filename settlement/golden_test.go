package settlement

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const goldenFingerprint = "fixture-policy-v1:0123abcd"

// TestGolden writes the fixture, adjustments included (with its ledger),
// and compares every file,
// decompressed, with testdata/golden. Run with -update after a deliberate
// format change, and review the diff: these files are the format's
// reference examples.
func TestGolden(t *testing.T) {
	root := t.TempDir()
	c := collect(t, fixtureAllRows(), fixtureRejects(), 1, true, nil)
	writeAll(t, c, root, WriteOptions{Ledger: true, PolicyFingerprint: goldenFingerprint, SkipSync: true})
	if err := Verify(root); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got := plain(t, readTree(t, root))
	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for p, b := range got {
			fp := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fp, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := readTree(t, dir)
	var paths []string
	for p := range got {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if w, ok := want[p]; !ok {
			t.Errorf("%s: not in the golden files (run with -update)", p)
		} else if !bytes.Equal(got[p], w) {
			t.Errorf("%s differs from the golden file:\n got: %q\nwant: %q", p, got[p], w)
		}
	}
	for p := range want {
		if _, ok := got[p]; !ok {
			t.Errorf("%s: golden file no longer written", p)
		}
	}
}
