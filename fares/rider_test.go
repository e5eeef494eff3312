package fares

import (
	"testing"
	"time"
	"unsafe"

	"github.com/tapsettle/tapsettle/transit"
)

// sampleRiders are states reached by pricing real scenarios, plus extremes.
func sampleRiders(t testing.TB) []Rider {
	p := mustDefault(t).Policy(transit.Ningbo, march1)
	var r Rider
	out := []Rider{{}}
	for i, mode := range []transit.Mode{transit.ModeBus, transit.ModeBus, transit.ModeMetro, transit.ModeBus} {
		p.Price(&Leg{Mode: mode, Product: transit.ProductJoinIn, Issuer: transit.Ningbo, Start: t0 + int64(i)*int64(10*time.Minute), Day: march1, Gross: 400}, &r)
		out = append(out, r)
	}
	ext := Rider{ChainStart: -1 << 63, ChainFrom: -1, LastMode: transit.ModeMetro, Day: 1<<31 - 1, Month: -5, HasDay: true}
	for i := range ext.Uses {
		ext.Uses[i] = 255
	}
	ext.DaySpend[transit.ModeBus], ext.MonthSpend[transit.ModeMetro] = 1<<63-1, -1<<63
	return append(out, ext)
}

// TestRiderSize pins the Rider at 80 bytes: it lives in the engine's
// cardState, whose 192 bytes are a cache-line budget (engine's
// TestCardStateSize). Rules that need state must find it in what the
// Rider has (transfer allowances sum its per-rule counters).
func TestRiderSize(t *testing.T) {
	if n := unsafe.Sizeof(Rider{}); n != 80 {
		t.Errorf("Rider is %d bytes, want 80", n)
	}
}
