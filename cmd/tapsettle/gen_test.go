package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGenShareFlags: every share flag says that a negative value means
// none, and --late -1 --malformed -1 gives a day without either.
func TestGenShareFlags(t *testing.T) {
	gen := newGen()
	for _, name := range []string{"interregional", "joinin", "duplicates", "late", "malformed", "fare-rules"} {
		f := gen.Flags().Lookup(name)
		if f == nil {
			t.Fatalf("gen has no --%s", name)
		}
		if !strings.Contains(f.Usage, "negative: none") {
			t.Errorf("--%s's help %q does not say that a negative share means none", name, f.Usage)
		}
	}
	out, err := run(t, "gen", "--taps", "2000", "--late", "-1", "--malformed", "-1", "-o", filepath.Join(t.TempDir(), "d.csv"))
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	if !strings.Contains(out, " 0 late, 0 malformed)") {
		t.Errorf("gen --late -1 --malformed -1 reports %q, want 0 late and 0 malformed", out)
	}
}
