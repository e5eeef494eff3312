package settlement

import (
	"fmt"
	"math/rand/v2"

	"github.com/tapsettle/tapsettle/transit"
)

// synthRows returns n random but valid rows over the fixture's
// participants, spread over the fixture's day and the day before, with
// every status. The same seed gives the same rows.
func synthRows(n int, seed uint64) []transit.Priced {
	rng := rand.New(rand.NewPCG(seed, 0x5e771e))
	cities := []transit.City{beijing, shanghai, hangzhou, ningbo, guangzhou, shenzhen}
	rows := make([]transit.Priced, n)
	for i := range rows {
		r := &rows[i]
		r.ID = mustID[transit.TapID](fmt.Sprintf("s-%d-%06d", seed, i))
		r.Card = mustID[transit.CardID](fmt.Sprintf("9%018d", rng.IntN(50)))
		r.Issuer = cities[rng.IntN(len(cities))]
		r.City = cities[rng.IntN(len(cities))]
		if rng.IntN(3) == 0 {
			r.City = r.Issuer
		}
		r.Product = transit.Product(1 + rng.IntN(4))
		r.Mode = transit.Mode(1 + rng.IntN(2))
		r.Action = transit.ActionBoard
		if r.Mode == transit.ModeMetro {
			r.Action = transit.Action(2 + rng.IntN(2))
		}
		r.Line = transit.MustCode(fmt.Sprintf("L%d", rng.IntN(9)))
		r.Stop = transit.MustCode(fmt.Sprintf("S%02d", rng.IntN(40)))
		r.Day = fixtureDay
		r.Time = at(4, 0, 0) + rng.Int64N(24*3600)*1e9
		if rng.IntN(10) == 0 {
			r.Day = fixturePrev
			r.Time = at(0, 0, 0) + rng.Int64N(4*3600)*1e9
		}
		if rng.IntN(4) == 0 {
			r.Time += rng.Int64N(1e9) // sub-second digits
		}
		r.Offset = 8 * 3600
		if rng.IntN(20) == 0 {
			r.Time = at(10, 0, 0) // many rows at one instant: ties on time
		}
		switch k := rng.IntN(20); {
		case k < 12:
			r.Status = transit.StatusCharged
		case k < 14:
			r.Status = transit.StatusIncomplete
		case k < 16:
			r.Status = transit.StatusOpen
		case k < 18:
			r.Status = transit.StatusDuplicate
		default:
			r.Status = transit.StatusRejected
			r.Reason = transit.Reason(1 + rng.IntN(6))
		}
		if r.Status == transit.StatusCharged && r.Action == transit.ActionEntry {
			r.Rules = transit.RuleMetroEntry
		}
		if isClearingStatus(r.Status) && r.Rules&transit.RuleMetroEntry == 0 {
			r.Gross = transit.Fen(100 * (2 + rng.IntN(8)))
			r.ProductDiscount = transit.Fen(rng.IntN(int(r.Gross)/2 + 1))
			r.TransferDiscount = transit.Fen(rng.IntN(int(r.Gross-r.ProductDiscount)/2 + 1))
			r.CapDiscount = transit.Fen(rng.IntN(int(r.Gross-r.ProductDiscount-r.TransferDiscount) + 1))
			r.Discount = r.ProductDiscount + r.TransferDiscount + r.CapDiscount
			r.Charged = r.Gross - r.Discount
			r.Rules = transit.RuleBusFlat | transit.RuleProduct
			if r.Action == transit.ActionExit {
				r.EntryStop = transit.MustCode("S00")
				r.EntryTime = r.Time - 1800e9
			}
		}
	}
	return rows
}

func isClearingStatus(s transit.Status) bool {
	return s == transit.StatusCharged || s == transit.StatusIncomplete
}
