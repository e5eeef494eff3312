package engine

import (
	"math/bits"
	"sync/atomic"

	"github.com/tapsettle/tapsettle/transit"
)

// Stats counts what the engine has done.
type Stats struct {
	// Taps is the number of taps priced (every status).
	Taps int64
	// Rows counts emitted rows by status. A metro journey's entry row is
	// emitted with its exit, so Rows can trail Taps while journeys are open.
	Rows [transit.NumStatuses]int64
	// Late counts taps that arrived behind the reorder window.
	Late int64
	// Held is the number of taps waiting in reorder buffers.
	Held int64
	// Open is the number of metro journeys awaiting their exit.
	Open int64
}

// Add adds o's counts to s: an engine sums its shards', and the batch job
// the engines that priced the partitions of a day too large for its
// memory.
func (s *Stats) Add(o Stats) {
	s.Taps += o.Taps
	for i := range s.Rows {
		s.Rows[i] += o.Rows[i]
	}
	s.Late += o.Late
	s.Held += o.Held
	s.Open += o.Open
}

// publishedStats is a shard's Stats as last published: stored by the shard
// once per batch with atomic stores (never per tap), read by anyone. The
// padding keeps shards' counters off each other's cache lines.
type publishedStats struct {
	_    [64]byte
	taps atomic.Int64
	rows [transit.NumStatuses]atomic.Int64
	late atomic.Int64
	held atomic.Int64
	open atomic.Int64
	_    [64]byte
}

func (p *publishedStats) store(s *Stats) {
	p.taps.Store(s.Taps)
	for i := range s.Rows {
		p.rows[i].Store(s.Rows[i])
	}
	p.late.Store(s.Late)
	p.held.Store(s.Held)
	p.open.Store(s.Open)
}

func (p *publishedStats) load() Stats {
	s := Stats{Taps: p.taps.Load(), Late: p.late.Load(), Held: p.held.Load(), Open: p.open.Load()}
	for i := range s.Rows {
		s.Rows[i] = p.rows[i].Load()
	}
	return s
}

func mulHi(a, b uint64) (uint64, uint64) { return bits.Mul64(a, b) }
