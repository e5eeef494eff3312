package batch

import (
	"testing"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/settlement"
)

// TestPlan: the default budget holds a 2,000,000-tap day in memory; the
// shares add up to the budget; a small budget gets fewer writers and
// group shards, a large one the defaults.
func TestPlan(t *testing.T) {
	def, err := (&Settle{}).plan()
	if err != nil || def.budget != DefaultMemoryBudget || def.maxTaps < 2_000_000 {
		t.Fatalf("default plan %+v, %v: want 1 GiB holding 2,000,000 taps", def, err)
	}
	if def.rejects != settlement.DefaultRejectBuffer || def.writers != 0 || def.groupShards(16) != 16 {
		t.Errorf("default plan %+v: want the default rejects buffer and writers, 16 group shards of 16", def)
	}
	for _, budget := range []int64{16 << 20, 64 << 20, 256 << 20, 1 << 30, 8 << 30} {
		p, err := (&Settle{MemoryBudget: budget}).plan()
		if err != nil {
			t.Fatal(err)
		}
		if used := int64(p.rejects) + int64(p.rows) + budget/8 + p.maxTaps*tapCost; used > budget || used < budget*7/8 {
			t.Errorf("budget %d: the plan uses %d: %+v", budget, used, p)
		}
		if budget < 1<<30 && int64(p.writers) != max(1, budget/writerMemory) {
			t.Errorf("budget %d: %d writers", budget, p.writers)
		}
		if n := p.groupShards(16); n < 1 || int64(n) > max(1, p.maxTaps/int64(engine.HoldFloor/2)) {
			t.Errorf("budget %d: %d group shards for %d taps", budget, n, p.maxTaps)
		}
	}
	if _, err := (&Settle{MemoryBudget: -1}).plan(); err == nil {
		t.Error("a negative budget was planned")
	}
}
