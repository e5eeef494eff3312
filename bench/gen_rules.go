package bench

import (
	"fmt"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// beijing is Beijing's city code.
const beijing transit.City = 110100

// The fare rules patterns: riders whose day exercises the rules that need
// more than a random day to show (docs/fare-policies.md), so that every
// generated day, and the stream-against-batch test on one, prices them.
const (
	// patternBusChain: three or four Ningbo buses 5 to 25 minutes apart:
	// the second is rebated, the third pays full and restarts the chain,
	// a fourth is rebated again.
	patternBusChain = iota
	// patternBusBusMetro: two buses, then a metro entry within the 90
	// minutes: the rebate spent the one allowance, the metro pays full.
	patternBusBusMetro
	// patternSenior: a Ningbo senior (one in four a visitor: "市内外") on
	// the metro around the edges of the working-day peaks and at midday.
	patternSenior
	// patternBeijingLong: a Beijing journey of 230 to 250 minutes, both
	// sides of the 4-hour limit and its 3 CNY surcharge.
	patternBeijingLong
	// patternNingboLong: a Ningbo journey of 110 to 130 minutes, both
	// sides of the 120-minute limit (highest fare from the exit).
	patternNingboLong
	numPatterns
)

// ruleRider generates the next fare rules pattern's rider and reports
// whether it did (not when the pattern's city has no metro on the day).
func (g *generator) ruleRider() bool {
	r := g.r
	pattern := g.pattern % numPatterns
	g.pattern++
	c, issuer, product := g.w.ningbo, transit.Ningbo, transit.ProductStandard
	switch {
	case pattern == patternBeijingLong:
		c, issuer = g.w.beijing, beijing
	case pattern == patternSenior:
		product = transit.ProductSenior
		if r.IntN(4) == 0 {
			issuer = 310100 // a visiting senior from Shanghai
		}
	case r.IntN(4) == 0:
		product = transit.ProductJoinIn
	}
	if c == nil {
		return false
	}
	g.out.Riders++
	g.out.FareRules++
	if issuer != c.code {
		g.out.Interregional++
	}
	if product == transit.ProductJoinIn {
		g.out.JoinIn++
	}
	var card transit.CardID
	_ = card.Set(fmt.Appendf(nil, "%06d%013d", uint32(issuer), g.out.Riders))
	minutes := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Minute }
	bus := func(at time.Time) {
		g.emit(c, &card, issuer, product, transit.ModeBus, transit.ActionBoard, at,
			fmt.Appendf(nil, "%d", 1+r.IntN(120)), fmt.Appendf(nil, "B%04d", r.IntN(3000)))
	}
	day := g.midnight
	switch pattern {
	case patternBusChain:
		at := day.Add(tripStart(r))
		buses := 3 + r.IntN(2)
		for i := range buses {
			if i > 0 {
				at = at.Add(minutes(5, 25))
			}
			bus(at)
		}
	case patternBusBusMetro:
		at := day.Add(tripStart(r))
		bus(at)
		at = at.Add(minutes(5, 25))
		bus(at)
		g.journey(c, &card, issuer, product, at.Add(minutes(5, 30)), 0)
	case patternSenior:
		// Entries within ten minutes either side of a peak's edge, and
		// one at midday: half fare inside, free outside.
		edges := [][]time.Duration{{7 * time.Hour, 12 * time.Hour, 19 * time.Hour}, {9 * time.Hour, 13 * time.Hour, 17 * time.Hour}}[r.IntN(2)]
		for _, edge := range edges {
			at := day.Add(edge + time.Duration(r.IntN(1201)-600)*time.Second)
			g.journey(c, &card, issuer, product, at, minutes(10, 40))
		}
	case patternBeijingLong:
		g.journey(c, &card, issuer, product, day.Add(6*time.Hour+minutes(0, 240)), minutes(230, 250))
	case patternNingboLong:
		g.journey(c, &card, issuer, product, day.Add(6*time.Hour+minutes(0, 480)), minutes(110, 130))
	}
	return true
}
