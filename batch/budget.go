package batch

import (
	"fmt"
	"runtime"

	"github.com/tapsettle/tapsettle/engine"

	"github.com/tapsettle/tapsettle/settlement"
)

// DefaultMemoryBudget is the default of Settle.MemoryBudget: a 2,000,000
// tap day (about 700 MB) is settled in memory (its ledger, 460 MB of
// rows more, is spilled).
const DefaultMemoryBudget = 1 << 30

// tapCost is what the run plans for each tap an engine holds: the tap
// (144 bytes), its tap_id in its day's log (48), the card index's room
// for it (about 13) and its share of the card states (256 bytes a card
// in a city; a generated day has about 0.35 of them a tap). Measured: a
// 2,000,000-tap generated day settled in memory peaks at about 700 MB of
// RSS, 350 bytes a tap with everything else. A day of mostly one-tap
// cards costs up to 460 bytes a tap, and its run goes past its plan by as
// much.
const tapCost = 320

// budgetPlan divides a run's memory budget between what it holds.
type budgetPlan struct {
	budget int64
	// rejects is the malformed records held before they spill
	// (settlement.Options.RejectBuffer).
	rejects int
	// rows is the rows held for the files before they spill
	// (settlement.Options.RowBuffer).
	rows int
	// maxTaps is the taps one engine may hold: beyond them the day is
	// partitioned to disk, and a group of partitions holds at most as
	// many.
	maxTaps int64
	// partBuf is the buffer of each partition while taps are written.
	partBuf int
	// writers bounds the files written at once and the ledger's
	// compressors (settlement.WriteOptions.Concurrency): a ledger's
	// compressor holds some 24 MiB (a frame's text, its output and the
	// encoder's window); 0 is the writer's default.
	writers int
}

// plan divides s's budget: the rejects buffer (at most a sixteenth, and
// DefaultRejectBuffer), an eighth for the rows held for the files (the
// ledger's, or the clearing files'), an eighth kept for the buffers of
// reading, partitioning and writing, and the rest for the engine's taps
// and card states.
func (s *Settle) plan() (budgetPlan, error) {
	p := budgetPlan{budget: s.MemoryBudget}
	if p.budget == 0 {
		p.budget = DefaultMemoryBudget
	}
	if p.budget < 0 {
		return p, fmt.Errorf("settle: memory budget %d bytes: want a positive size", p.budget)
	}
	p.rejects = s.RejectBuffer
	if p.rejects == 0 {
		p.rejects = int(min(settlement.DefaultRejectBuffer, max(p.budget/16, 1)))
	}
	p.rows = int(max(p.budget/8, 1))
	rest := p.budget - int64(p.rejects) - int64(p.rows) - p.budget/8
	p.maxTaps = max(rest/tapCost, 1)
	p.partBuf = partBufSize(p.budget)
	if p.budget < 32*writerMemory {
		p.writers = int(max(1, p.budget/writerMemory))
	}
	return p, nil
}

// groupShards is the shard count of an engine that prices a group of
// partitions, at most shards: one shard per engine.HoldFloor/2 taps the
// plan holds. A group's cards spread over every card bucket of each
// shard (engine.CardPartition), each of which sets aside a chunk of 512
// taps (engine.HoldFloor taps a shard, 16 MiB): a shard with fewer taps
// than that fills its chunks in part, and under a small budget that
// memory would go to waste. The rows do not depend on the shard count.
func (p budgetPlan) groupShards(shards int) int {
	return int(min(int64(shards), max(1, p.maxTaps/int64(engine.HoldFloor/2))))
}

// sizeText writes a size in MiB, or bytes when smaller.
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) for
// a process that runs s over inputs files: the budget, and what the
// process holds besides its data (the fare book, each input's decoder
// with its zstd window, buffers, a writer). The command sets it, unless GOMEMLIMIT
// is set, so that the garbage collector keeps the heap near what the run
// holds instead of letting it grow to twice that.
func (s *Settle) MemoryLimit(inputs int) int64 {
	budget := s.MemoryBudget
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	decoders := int64(max(1, min(inputs, runtime.GOMAXPROCS(0))))
	return budget + fixedMemory + decoders*decoderMemory + writerMemory
}

// writerMemory is what the run plans for each of its writers (see
// budgetPlan.writers).
const writerMemory = 32 << 20

// fixedMemory and decoderMemory are what MemoryLimit adds to the budget:
// the heap of a run besides its data (the fare book, the engine's batches,
// the writers' buffers), and that of each input being decoded (a zstd
// window of up to 8 MiB and its buffers, and batches of decoded taps).
const (
	fixedMemory   = 48 << 20
	decoderMemory = 16 << 20
)
