package bench

import (
	"sync"
	"testing"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/transit"
)

// keepSink keeps every row.
type keepSink struct {
	mu   sync.Mutex
	rows []transit.Priced
}

func (k *keepSink) Emit(_ int, rows []transit.Priced) {
	k.mu.Lock()
	k.rows = append(k.rows, rows...)
	k.mu.Unlock()
}

// TestGeneratedDayExercisesFareRules prices the day that the stream's
// byte-identical test settles (stream.newFixture: 20,000 taps, seed 7,
// 2025-03-03, no late or malformed records) and finds each fare rule of
// issue 17 applied on both sides of its boundary: Ningbo seniors at half
// fare and free, a fourth bus rebated after a third at full fare (the
// chain restarted), a metro at full fare after a bus rebate within 90
// minutes (the shared allowance spent), and journeys over Beijing's and
// Ningbo's limits charged the surcharge and the highest fare from the
// exit, beside journeys within them.
func TestGeneratedDayExercisesFareRules(t *testing.T) {
	b, cal := testWorld(t)
	day, _ := transit.ParseDay("2025-03-03")
	d := gen(t, GenOptions{Taps: 20_000, Seed: 7, Day: day, Late: -1, Malformed: -1})
	if d.FareRules < 2*numPatterns {
		t.Fatalf("%d fare rules riders, want at least %d", d.FareRules, 2*numPatterns)
	}
	sink := &keepSink{}
	e, err := engine.New(b, sink, engine.Options{Calendar: cal, Window: engine.Unbounded})
	if err != nil {
		t.Fatal(err)
	}
	e.Submit(d.Taps())
	e.Close()

	const xfer, ot = transit.RuleTransfer, transit.RuleOvertime
	var seniorHalf, seniorFree, restarted, spentMetro, bjOver, bjWithin, nbOver int
	byCard := map[transit.CardID][]transit.Priced{}
	for _, r := range sink.rows {
		if r.Status != transit.StatusCharged || r.Rules&transit.RuleMetroEntry != 0 {
			continue
		}
		byCard[r.Card] = append(byCard[r.Card], r)
		switch {
		case r.City == transit.Ningbo && r.Product == transit.ProductSenior && r.Mode == transit.ModeMetro:
			if r.Charged == 0 && r.ProductDiscount == r.Gross {
				seniorFree++
			} else if r.ProductDiscount == r.Gross-transit.ApplyRate(r.Gross, 5000) {
				seniorHalf++
			}
		case r.City == 110100 && r.Mode == transit.ModeMetro && r.Rules&ot != 0:
			if r.Rules&transit.RuleMetroDistance != 0 {
				bjOver++
			}
		case r.City == 110100 && r.Mode == transit.ModeMetro && r.Time-r.EntryTime >= 230*60e9:
			bjWithin++
		case r.City == transit.Ningbo && r.Mode == transit.ModeMetro && r.Rules&ot != 0:
			nbOver++
		}
	}
	for _, rows := range byCard {
		if len(rows) < 3 || rows[0].City != transit.Ningbo {
			continue
		}
		a, second, c := rows[0], rows[1], rows[2]
		if a.Mode != transit.ModeBus || second.Mode != transit.ModeBus || second.Rules&xfer == 0 || c.Rules&xfer != 0 {
			continue
		}
		if c.Mode == transit.ModeMetro && c.EntryTime-a.Time <= 90*60e9 {
			spentMetro++
		}
		if c.Mode == transit.ModeBus && len(rows) > 3 && rows[3].Mode == transit.ModeBus && rows[3].Rules&xfer != 0 && rows[3].Time-a.Time <= 90*60e9 {
			restarted++
		}
	}
	for name, n := range map[string]int{
		"senior at half fare": seniorHalf, "senior free": seniorFree, "a fourth bus rebated after a restart": restarted,
		"a metro at full fare after a bus rebate": spentMetro, "Beijing over 4 hours": bjOver, "Beijing 230-240 minutes": bjWithin,
		"Ningbo over 120 minutes": nbOver,
	} {
		if n == 0 {
			t.Errorf("no %s in the generated day", name)
		}
		t.Logf("%s: %d", name, n)
	}
}
