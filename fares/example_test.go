package fares_test

import (
	"fmt"
	"time"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// A Ningbo Join in Card rides a bus, then the metro 20 minutes later: it
// pays 60% of the bus fare, and 95% of the metro fare less the bus<->metro
// transfer discount.
func Example() {
	book, err := fares.Default()
	if err != nil {
		panic(err)
	}
	day := transit.DayOf(2025, 3, 1)
	p := book.Policy(transit.Ningbo, day)
	board := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC).UnixNano()

	var rider fares.Rider // the card's state in Ningbo
	busFare, rules := p.BusFare(transit.MustCode("518"))
	bus := fares.Leg{Mode: transit.ModeBus, Product: transit.ProductJoinIn, Issuer: transit.Ningbo,
		Start: board, Day: day, Gross: busFare, Rules: rules}
	q := p.Price(&bus, &rider)
	fmt.Println("bus:", q.Gross, "->", q.Charged, q.Rules)

	metro := fares.Leg{Mode: transit.ModeMetro, Product: transit.ProductJoinIn, Issuer: transit.Ningbo,
		Start: board + int64(20*time.Minute), Day: day, Gross: 400, Rules: transit.RuleMetroDistance}
	q = p.Price(&metro, &rider)
	fmt.Println("metro:", q.Gross, "->", q.Charged, q.Rules)
	// Output:
	// bus: 2.00 -> 1.20 bus-flat+product
	// metro: 4.00 -> 2.80 metro-distance+product+transfer+synthetic
}
