package ingest

import (
	"os"
	"regexp"
	"testing"
)

// TestDocExamples decodes the examples of docs/tap-format.md, so the
// documentation cannot drift from the decoder.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/tap-format.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	blocks := regexp.MustCompile("(?s)```(csv|json)\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) != 2 {
		t.Fatalf("found %d example blocks, want a CSV and a JSON one", len(blocks))
	}
	for _, b := range blocks {
		res := readAll(t, "doc."+string(b[1]), b[2], Options{}, 10)
		if res.err != nil || len(res.rejects) != 0 || len(res.taps) != int(res.stats.Records) || len(res.taps) < 2 {
			t.Errorf("%s example: %v, rejects %v, stats %+v", b[1], res.err, res.rejects, res.stats)
		}
	}
}
