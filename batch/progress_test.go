package batch_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/ingest"
)

// TestProgressRecordsAndPhases: a run tells ProgressRecords every input
// record, malformed ones included, across inputs decoded at once, and
// OnPhase each phase once, in order, the reading done before pricing
// begins (what settle's progress display relies on to say what it does
// once the bar is full).
func TestProgressRecordsAndPhases(t *testing.T) {
	d := generate(t, 6000, 0.01)
	dir := t.TempDir()
	var inputs []string
	for i, name := range []string{"a.csv.zst", "b.jsonl"} {
		p := filepath.Join(dir, name)
		lo, hi := i*len(d.Records)/2, (i+1)*len(d.Records)/2
		if err := bench.WriteFile(p, ingest.FormatAuto, ingest.CompressionAuto, &bench.GenDay{Records: d.Records[lo:hi]}); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, p)
	}
	b, cal := env(t)
	var records atomic.Int64
	var mu sync.Mutex
	var phases []batch.Phase
	var readWhenPricing int64
	job := &batch.Settle{Book: b, Calendar: cal, Shards: 2, OutDir: filepath.Join(dir, "out"), SkipSync: true,
		ProgressRecords: func(n int64) { records.Add(n) },
		OnPhase: func(p batch.Phase) {
			mu.Lock()
			defer mu.Unlock()
			phases = append(phases, p)
			if p == batch.PhasePricing {
				readWhenPricing = records.Load()
			}
		},
	}
	rep, err := job.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rejected == 0 {
		t.Fatal("the generated inputs hold no malformed record: the test would not see them counted")
	}
	if got := records.Load(); got != rep.Records || got != int64(len(d.Records)) {
		t.Errorf("ProgressRecords told %d records, the report counts %d, the inputs hold %d", got, rep.Records, len(d.Records))
	}
	if readWhenPricing != rep.Records {
		t.Errorf("pricing began with %d of %d records told: the reading was not done", readWhenPricing, rep.Records)
	}
	if want := []batch.Phase{batch.PhaseReading, batch.PhasePricing, batch.PhaseWriting}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
}
