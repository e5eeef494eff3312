package fares

import (
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// BenchmarkFare is the engine's metro lookup: two station codes to a fare
// through the compiled OD matrix of the largest shipped network.
func BenchmarkFare(b *testing.B) {
	n := mustDefault(b).Policy(110100, march1).Metro
	codes := make([]transit.Code, n.NumStations())
	for i := range codes {
		codes[i] = n.StationCode(int32(i))
	}
	b.ReportAllocs()
	var sum transit.Fen
	i := 0
	for b.Loop() {
		from, _ := n.Station(codes[i%len(codes)])
		to, _ := n.Station(codes[(i*7+3)%len(codes)])
		sum += n.Fare(from, to)
		i++
	}
	if sum <= 0 {
		b.Fatal("no fares")
	}
}

// BenchmarkPrice prices a realistic mix in Ningbo: Join in Card bus rides
// and metro journeys with transfers, on one card.
func BenchmarkPrice(b *testing.B) {
	p := mustDefault(b).Policy(transit.Ningbo, march1)
	legs := []Leg{
		{Mode: transit.ModeBus, Product: transit.ProductJoinIn, Issuer: transit.Ningbo, Gross: 200},
		{Mode: transit.ModeBus, Product: transit.ProductJoinIn, Issuer: transit.Ningbo, Gross: 200},
		{Mode: transit.ModeMetro, Product: transit.ProductJoinIn, Issuer: transit.Ningbo, Gross: 500},
		{Mode: transit.ModeMetro, Product: transit.ProductStandard, Issuer: 110100, Gross: 400},
	}
	var r Rider
	start, day := t0, march1
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		leg := &legs[i%len(legs)]
		start += int64(20 * time.Minute)
		if i%64 == 63 {
			day++
		}
		leg.Start, leg.Day = start, day
		if q := p.Price(leg, &r); q.Charged < 0 {
			b.Fatal(q)
		}
		i++
	}
}

// BenchmarkPriceSeniors prices Ningbo senior metro journeys around the
// clock, so that every leg checks the peak timeframe (and its calendar of
// working days) before the free rule applies.
func BenchmarkPriceSeniors(b *testing.B) {
	p := mustDefault(b).Policy(transit.Ningbo, march1)
	leg := Leg{Mode: transit.ModeMetro, Product: transit.ProductSenior, Issuer: transit.Ningbo, Gross: 400, Start: t0, Day: march1}
	var r Rider
	b.ReportAllocs()
	for b.Loop() {
		leg.Start += int64(13 * time.Minute)
		if q := p.Price(&leg, &r); q.Charged < 0 {
			b.Fatal(q)
		}
	}
}

// BenchmarkPolicy is the per-tap version lookup.
func BenchmarkPolicy(b *testing.B) {
	book := mustDefault(b)
	b.ReportAllocs()
	for b.Loop() {
		if book.Policy(transit.Ningbo, march1) == nil {
			b.Fatal("no policy")
		}
	}
}

// BenchmarkDefault compiles the embedded data from scratch: cities, every
// policy and every OD matrix (what Default does once per process).
func BenchmarkDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compileDefault(); err != nil {
			b.Fatal(err)
		}
	}
}
