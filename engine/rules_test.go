package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// The fare rules of issue 17 through the engine, from taps to rows: the
// shared transfer allowance and chain restart in Ningbo, Ningbo's senior
// fares by the entry tap's time, and Beijing's overtime surcharge. Each
// case probes one side of a time or count boundary; each would fail with
// the rules before (ningbo-2020, beijing-2020).

// pairWithFare returns two stations of net whose fare is fare.
func pairWithFare(t testing.TB, net *fares.Network, fare transit.Fen) (a, b string) {
	t.Helper()
	for i := range int32(net.NumStations()) {
		for j := range int32(net.NumStations()) {
			if net.Fare(i, j) == fare {
				return net.StationCode(i).String(), net.StationCode(j).String()
			}
		}
	}
	t.Fatalf("no pair of stations at %v", fare)
	return "", ""
}

// leg is a journey of a rules case: a bus ride at board, or a metro
// journey from entry to exit (local times on 2025-03-03, a Monday, unless
// the time has a date), and the money it must charge.
type leg struct {
	mode        transit.Mode
	board, exit string
	charged     transit.Fen
	rules       transit.Rules // on the charged row, checked as a subset
	not         transit.Rules // never on it
}

func TestFareRulesEndToEnd(t *testing.T) {
	d := mustDay(t, day1)
	nb := book(t).Policy(transit.Ningbo, d)
	bj := book(t).Policy(110100, d)
	na, nz := pairWithFare(t, nb.Metro, 300)
	ba, bz := pairWithFare(t, bj.Metro, 400)
	const bus, metro = transit.ModeBus, transit.ModeMetro
	const xfer, ot = transit.RuleTransfer, transit.RuleOvertime
	cases := []struct {
		name    string
		city    transit.City
		product transit.Product
		legs    []leg
	}{
		// "以市民首次刷卡时间起算，90分钟(含)…享受1次换乘优惠": the bus->bus rebate
		// spends the one discount; the metro pays its 3.00.
		{"shared allowance: bus, bus, metro", transit.Ningbo, transit.ProductStandard, []leg{
			{mode: bus, board: "08:00:00", charged: 200},
			{mode: bus, board: "08:20:00", charged: 80, rules: xfer},
			{mode: metro, board: "08:40:00", exit: "09:00:00", charged: 300, not: xfer},
		}},
		{"shared allowance: bus, metro at 90 min", transit.Ningbo, transit.ProductStandard, []leg{
			{mode: bus, board: "08:00:00", charged: 200},
			{mode: metro, board: "09:30:00", exit: "09:50:00", charged: 200, rules: xfer},
		}},
		{"shared allowance: bus, metro at 90 min 1 s", transit.Ningbo, transit.ProductStandard, []leg{
			{mode: bus, board: "08:00:00", charged: 200},
			{mode: metro, board: "09:30:01", exit: "09:50:00", charged: 300, not: xfer},
		}},
		// "a third within the 60 min pays full, a fourth and later tap,
		// within the time conditions, can be rebated again".
		{"chain restart: a fourth bus 10 min after the third", transit.Ningbo, transit.ProductStandard, []leg{
			{mode: bus, board: "08:00:00", charged: 200},
			{mode: bus, board: "08:20:00", charged: 80, rules: xfer},
			{mode: bus, board: "08:40:00", charged: 200, not: xfer},
			{mode: bus, board: "08:50:00", charged: 80, rules: xfer},
		}},
		{"chain restart: a fourth bus 4:59 after the third", transit.Ningbo, transit.ProductStandard, []leg{
			{mode: bus, board: "08:00:00", charged: 200},
			{mode: bus, board: "08:20:00", charged: 80, rules: xfer},
			{mode: bus, board: "08:40:00", charged: 200, not: xfer},
			{mode: bus, board: "08:44:59", charged: 200, not: xfer},
		}},
		// "在法定工作日早晚高峰时段（7:00～9:00，17:00～19:00；以刷卡进站时间为准）
		// 购买半票乘车，其余时段免费乘车": the entry's time counts.
		{"senior: entry 08:59:59, exit after the peak: half", transit.Ningbo, transit.ProductSenior, []leg{
			{mode: metro, board: "08:59:59", exit: "09:30:00", charged: 150, rules: transit.RuleProduct},
		}},
		{"senior: entry 09:00:00: free", transit.Ningbo, transit.ProductSenior, []leg{
			{mode: metro, board: "09:00:00", exit: "09:30:00", charged: 0, rules: transit.RuleProduct},
		}},
		{"senior: entry 06:59:59, exit in the peak: free", transit.Ningbo, transit.ProductSenior, []leg{
			{mode: metro, board: "06:59:59", exit: "07:30:00", charged: 0, rules: transit.RuleProduct},
		}},
		{"senior: Labour Day 08:00: free", transit.Ningbo, transit.ProductSenior, []leg{
			{mode: metro, board: "2025-05-01T08:00:00", exit: "2025-05-01T08:30:00", charged: 0},
		}},
		// "按单程起步价3元补交超时车费": over 4 hours, the distance fare and 3 CNY.
		{"Beijing: 240 min in the system", 110100, transit.ProductStandard, []leg{
			{mode: metro, board: "08:00:00", exit: "12:00:00", charged: 400, rules: transit.RuleMetroDistance, not: ot},
		}},
		{"Beijing: 240 min 1 s in the system", 110100, transit.ProductStandard, []leg{
			{mode: metro, board: "08:00:00", exit: "12:00:01", charged: 700, rules: transit.RuleMetroDistance | ot},
		}},
	}
	stamp := func(s string) string {
		if strings.Contains(s, "T") {
			return s + "+08:00"
		}
		return day1 + "T" + s + "+08:00"
	}
	tp := &tapper{t: t}
	var taps []transit.Tap
	for i, c := range cases {
		card := fmt.Sprintf("R%02d", i)
		a, z := na, nz
		if c.city == 110100 {
			a, z = ba, bz
		}
		for _, l := range c.legs {
			if l.mode == bus {
				taps = append(taps, tp.tap(card, c.product, transit.Ningbo, c.city, bus, transit.ActionBoard, "", stamp(l.board)))
				continue
			}
			taps = append(taps,
				tp.tap(card, c.product, transit.Ningbo, c.city, metro, transit.ActionEntry, a, stamp(l.board)),
				tp.tap(card, c.product, transit.Ningbo, c.city, metro, transit.ActionExit, z, stamp(l.exit)))
		}
	}
	for _, opts := range []Options{{Window: Unbounded}, {Window: time.Minute, Shards: 2}} {
		rows := run(t, taps, opts)
		for i, c := range cases {
			t.Run(fmt.Sprintf("%s/window=%v", c.name, opts.Window), func(t *testing.T) {
				card := fmt.Sprintf("R%02d", i)
				var money []transit.Priced
				for _, r := range rows {
					if r.Card.String() == card && r.Rules&transit.RuleMetroEntry == 0 {
						money = append(money, r)
					}
				}
				if len(money) != len(c.legs) {
					t.Fatalf("%d charged rows, want %d: %+v", len(money), len(c.legs), money)
				}
				for j, l := range c.legs {
					r := money[j]
					if r.Status != transit.StatusCharged || r.Charged != l.charged || r.Rules&l.rules != l.rules || r.Rules&l.not != 0 {
						t.Errorf("leg %d: %v charged %v (gross %v) rules %s, want charged %v with %s, without %s",
							j+1, r.Status, r.Charged, r.Gross, r.Rules, l.charged, l.rules, l.not)
					}
				}
			})
		}
	}
}

// TestJourneyLegOvertime: the late-tap path (adjust.go) prices a journey
// with the version's overtime charge too: Beijing's surcharge on top of
// the distance fare, Ningbo's highest fare from the exit.
func TestJourneyLegOvertime(t *testing.T) {
	d := mustDay(t, day1)
	var pr pricer
	for _, tt := range []struct {
		city    transit.City
		minutes int64
		want    func(n *fares.Network) transit.Fen
		rules   transit.Rules
	}{
		{110100, 240, func(n *fares.Network) transit.Fen { return n.Fare(0, 1) }, transit.RuleMetroDistance},
		{110100, 241, func(n *fares.Network) transit.Fen { return n.Fare(0, 1) + 300 }, transit.RuleMetroDistance | transit.RuleOvertime},
		{transit.Ningbo, 121, func(n *fares.Network) transit.Fen { return n.MaxFareFrom(1) }, transit.RuleOvertime},
	} {
		pol := book(t).Policy(tt.city, d)
		in := transit.Tap{Time: time.Date(2025, 3, 3, 8, 0, 0, 0, shanghaiTZ).UnixNano()}
		out := transit.Tap{Time: in.Time + tt.minutes*int64(time.Minute)}
		leg := pr.journeyLeg(pol, &in, &out, 0, 1, d, 0)
		if want := tt.want(pol.Metro); leg.Gross != want || leg.Rules&(transit.RuleMetroDistance|transit.RuleOvertime) != tt.rules {
			t.Errorf("%v, %d min: gross %v rules %s, want %v %s", tt.city, tt.minutes, leg.Gross, leg.Rules, want, tt.rules)
		}
	}
}
