package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// settledDay generates and settles a small day with a ledger and returns
// its folder.
func settledDay(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv.zst")
	if out, err := run(t, "gen", "--taps", "5000", "--seed", "3", "--day", "2025-03-03", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	outDir := filepath.Join(dir, "out")
	if out, err := run(t, "settle", "--out", outDir, "--ledger", in); err != nil {
		t.Fatalf("settle: %v\n%s", err, out)
	}
	return filepath.Join(outDir, "2025-03-03")
}

func TestReport(t *testing.T) {
	day := settledDay(t)
	out, err := run(t, "report", "--top", "3", day)
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	for _, want := range []string{
		"day 2025-03-03", "records by status (summary, recounted from the ledger)", "largest bilateral flows: 3 of",
		"net positions of 336 participants", "largest creditors", "largest debtors",
		"subsidy claim per city and card product", "Ningbo 330200", "Ningbo Join in Card discount given:", "taps per hour:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report output lacks %q:\n%s", want, out)
		}
	}
	page := filepath.Join(t.TempDir(), "day.html")
	out, err = run(t, "report", "--html", page, day)
	if err != nil || !strings.Contains(out, "wrote "+page) {
		t.Fatalf("report --html: %v\n%s", err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "<svg"); n != 4 || !strings.Contains(string(html), "Net positions of the 336 participants") {
		t.Errorf("the page has %d charts, want 4 with the net positions of the 336 participants", n)
	}
	if out, err := run(t, "report"); err == nil || !strings.Contains(err.Error(), "missing the settled day folder (DIR/DAY)") {
		t.Errorf("report without a folder: %v\n%s", err, out)
	}
	if out, err := run(t, "report", filepath.Dir(day)); err == nil || !strings.Contains(err.Error(), "settled day folder") {
		t.Errorf("report of the output root, not a day: %v\n%s", err, out)
	}
}
