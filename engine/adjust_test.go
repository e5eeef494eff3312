package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// lateStep is one step of a late-tap case: a tap to submit (an entry or
// exit of card LATE in Ningbo's metro, at a station index and minutes past
// 20:00 on 2025-03-03), or a day close.
type lateStep struct {
	action  transit.Action
	station int32
	min     int
	close   bool
}

// TestLateTapsBookAdjustments: a late tap that completes a journey charged
// as incomplete books a reversal of that charge and the journey's fare, so
// that the rider pays once, at the fare; through a day close and through a
// checkpoint, as without; a tap that does not complete it is charged on
// its own.
func TestLateTapsBookAdjustments(t *testing.T) {
	d := transit.DayOf(2025, 3, 3)
	net := book(t).Policy(transit.Ningbo, d).Metro
	fare, max := net.Fare(0, 1), net.MaxFare()
	if fare == max {
		t.Fatal("stations 0 and 1 are priced at the maximum fare: the test cannot tell the charges apart")
	}
	entry := func(s int32, m int) lateStep { return lateStep{action: transit.ActionEntry, station: s, min: m} }
	exit := func(s int32, m int) lateStep { return lateStep{action: transit.ActionExit, station: s, min: m} }
	closeDay := lateStep{close: true}
	cases := []struct {
		name  string
		steps []lateStep
		// paid is what the card pays in all; adjustments the adjustment
		// rows booked, with their signed charges in order.
		paid        transit.Fen
		adjustments []transit.Fen
	}{
		{"in order", []lateStep{entry(0, 60), exit(1, 90)}, fare, nil},
		{"late exit after its day closed", []lateStep{entry(0, 60), closeDay, exit(1, 90)}, fare, []transit.Fen{-max}},
		{"late entry after its day closed", []lateStep{exit(1, 90), closeDay, entry(0, 60)}, fare, []transit.Fen{-max, fare}},
		{"late entry within the day", []lateStep{exit(1, 90), entry(0, 60)}, fare, []transit.Fen{-max, fare}},
		{"exit past the time-in-system limit", []lateStep{entry(0, 0), closeDay, exit(1, 200)}, 2 * max, nil},
		{"another journey between", []lateStep{entry(0, 60), closeDay, entry(0, 100), exit(1, 110), exit(1, 105)}, max + fare + max, nil},
		{"late exit before another journey", []lateStep{entry(0, 60), closeDay, entry(0, 100), exit(1, 110), exit(1, 90)}, fare + fare, []transit.Fen{-max}},
		{"late exit while a later journey is open", []lateStep{entry(0, 60), closeDay, entry(0, 100), exit(1, 90), exit(1, 110)}, fare + fare, []transit.Fen{-max}},
	}
	for _, c := range cases {
		for _, restore := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/restore=%v", c.name, restore), func(t *testing.T) {
				sink := &seqSink{}
				p := newTestPartition(t, sink)
				for i, s := range c.steps {
					if s.close {
						p.CloseDay(d)
						if restore {
							store := newMemStore()
							store.checkpoint(p, i%2 == 0)
							p = newTestPartition(t, sink)
							must(t, p.Restore(store.meta, store.cards, store.lists))
						}
						continue
					}
					var x transit.Tap
					at := time.Date(2025, 3, 3, 20, s.min, 0, 0, shanghaiTZ)
					x.Time, x.Offset = at.UnixNano(), 8*3600
					x.Issuer, x.City, x.Mode, x.Action, x.Product = shanghai, transit.Ningbo, transit.ModeMetro, s.action, transit.ProductStandard
					must(t, x.ID.Set(fmt.Appendf(nil, "late-%d", i)))
					must(t, x.Card.Set([]byte("LATE")))
					stop := net.StationCode(s.station)
					must(t, x.Stop.Set(stop.Bytes()))
					p.Submit([]transit.Tap{x})
					// Another card's taps move the watermark on, so that a
					// tap older than the window is late.
					var o transit.Tap = x
					o.Time += int64(10 * time.Minute)
					must(t, o.Card.Set([]byte("OTHER")))
					must(t, o.ID.Set(fmt.Appendf(nil, "other-%d", i)))
					o.Mode, o.Action = transit.ModeBus, transit.ActionBoard
					p.Submit([]transit.Tap{o})
				}
				p.CloseDay(d + 1)
				var paid transit.Fen
				var adj []transit.Fen
				for _, r := range sink.rows {
					if string(r.Card.Bytes()) != "LATE" {
						continue
					}
					paid += r.Charged
					if r.Status == transit.StatusAdjustment {
						adj = append(adj, r.Charged)
						if r.RefDay != d || r.Day < d || r.Day > d+1 {
							t.Errorf("adjustment of %s settled on %v names day %v, want %v", r.ID.Bytes(), r.Day, r.RefDay, d)
						}
					}
				}
				if paid != c.paid || fmt.Sprint(adj) != fmt.Sprint(c.adjustments) {
					for _, r := range sink.rows {
						t.Logf("%s %v day %v ref %v charged %d %v", r.ID.Bytes(), r.Status, r.Day, r.RefDay, r.Charged, r.Rules)
					}
					t.Errorf("paid %d with adjustments %v, want %d with %v", paid, adj, c.paid, c.adjustments)
				}
			})
		}
	}
}
