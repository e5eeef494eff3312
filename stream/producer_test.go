package stream

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/settlement"
)

// TestClearMixedProducers: every part names the build that closed it;
// Clear refuses to merge parts closed by different builds (a rolling
// upgrade over the day's close), naming each build's partitions, unless
// AllowMixedProducers, and the merged files name the build that ran
// Clear.
func TestClearMixedProducers(t *testing.T) {
	e := newEnv(t)
	f := newFixture(t, e, 4000)
	b := publish(t, f)
	out := t.TempDir()
	runUntilClosed(t, serviceConfig(e, tempLocal(t), out, f.last), newGroup(t, b.Addrs(), "mixed"))

	parts, err := findParts(f.last, []string{out})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.Producer != "tapsettle/(devel)" {
			t.Fatalf("part %d names producer %q, want tapsettle/(devel)", p.Partition, p.Producer)
		}
	}
	// Partition 1's part as an older build closed it.
	path := partPath(out, f.last, 1)
	var p Part
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	p.Producer = "tapsettle/v0.9.0"
	if err := writePart(out, f.last, &p, false); err != nil {
		t.Fatal(err)
	}
	opts := ClearOptions{Participants: e.book.Participants(), Calendar: e.cal, Ledger: true, SkipSync: true}
	merged := t.TempDir()
	_, _, err = Clear(f.last, []string{out}, merged, opts)
	if !errors.Is(err, ErrMixedProducers) || !strings.Contains(err.Error(), "tapsettle/v0.9.0 (partitions 1)") || !strings.Contains(err.Error(), "tapsettle/(devel) (partitions 0,2") {
		t.Fatalf("Clear of mixed parts = %v, want ErrMixedProducers naming each build's partitions", err)
	}
	if _, err := os.Stat(filepath.Join(merged, settlement.DirName(f.last))); !os.IsNotExist(err) {
		t.Errorf("a refused Clear wrote the day: %v", err)
	}
	opts.AllowMixedProducers = true
	if _, _, err := Clear(f.last, []string{out}, merged, opts); err != nil {
		t.Fatalf("Clear with AllowMixedProducers: %v", err)
	}
	if err := settlement.Verify(filepath.Join(merged, settlement.DirName(f.last))); err != nil {
		t.Fatal(err)
	}
}
