package settlement

import (
	"math/rand/v2"
	"testing"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/transit"
)

// The tests' fixture lives in internal/fixture, shared with the segment
// tests; these are the short names the tests of this package use.
var (
	cst          = fixture.CST
	fixtureDay   = fixture.Day
	fixturePrev  = fixture.Prev
	fixtureParts = fixture.Participants()

	calendar       = fixture.Calendar
	at             = fixture.At
	fixtureRows    = fixture.Rows
	fixtureRejects = fixture.Rejects
	fixtureAdjust  = fixture.Adjustments
	synthRows      = fixture.Synth
)

const (
	beijing   = fixture.Beijing
	shanghai  = fixture.Shanghai
	hangzhou  = fixture.Hangzhou
	ningbo    = fixture.Ningbo
	guangzhou = fixture.Guangzhou
	shenzhen  = fixture.Shenzhen
	hami      = fixture.Hami
)

// fixtureAllRows returns the fixture's rows and its adjustments.
func fixtureAllRows() []transit.Priced { return append(fixtureRows(), fixtureAdjust()...) }

// collect emits rows over shards in the order given and returns the
// collector.
func collect(t testing.TB, rows []transit.Priced, rejects []transit.Reject, shards int, ledger bool, rng *rand.Rand) *Collector {
	t.Helper()
	c := NewCollector(Options{Participants: fixtureParts, Shards: shards, Calendar: calendar(t), Ledger: ledger})
	// Split rows into per-shard batches of random size, as an engine's
	// shards would hand them over.
	perShard := make([][]transit.Priced, shards)
	for i := range rows {
		s := 0
		if rng != nil {
			s = rng.IntN(shards)
		}
		perShard[s] = append(perShard[s], rows[i])
	}
	for s, rs := range perShard {
		for len(rs) > 0 {
			n := len(rs)
			if rng != nil {
				n = 1 + rng.IntN(len(rs))
			}
			batch := append([]transit.Priced(nil), rs[:n]...)
			c.Emit(s, batch)
			clear(batch) // the caller reuses its slice: the collector must have copied
			rs = rs[n:]
		}
	}
	for _, r := range rejects {
		c.Reject(r)
	}
	return c
}
