package fares

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// The rules of issue 17: transfer allowances shared across kinds, chains
// that restart, timeframes on product rules, and the overtime charge. Each
// test states the published sentence it checks and probes both sides of
// every time and count boundary; each fails on the model and data before
// (ningbo-2020, beijing-2020).

// TestNingboSharedAllowance: "以市民首次刷卡时间起算，90分钟(含)…享受1次换乘优惠" and
// "如果已使用了1次公交'1小时优惠换乘'，那么接下去再乘坐地铁，就无法再享受换乘优惠": one
// transfer discount per 90 minutes from the first tap, whichever kind.
func TestNingboSharedAllowance(t *testing.T) {
	p := ningbo(t)
	const bus, metro = transit.ModeBus, transit.ModeMetro
	const xfer = transit.RuleTransfer
	day := "2025-03-03 "
	tests := []struct {
		name  string
		rides []ride
	}{
		{"bus, bus rebated, then the metro pays full (the issue's case)", []ride{
			rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
			rideAt(t, day+"08:20:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120, wantRules: xfer}),
			rideAt(t, day+"08:40:00", ride{mode: metro, gross: 300, want: 300, notRules: xfer}),
		}},
		{"bus then metro: the one discount is the bus-metro one", []ride{
			rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
			rideAt(t, day+"08:40:00", ride{mode: metro, gross: 300, want: 200, wantXfer: 100, wantRules: xfer}),
			// Spent: a bus 5-60 minutes after the first tap gets nothing.
			rideAt(t, day+"08:59:00", ride{mode: bus, gross: 200, want: 200, notRules: xfer}),
		}},
		{"bus-metro at 90 minutes exactly (inclusive)", []ride{
			rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
			rideAt(t, day+"09:30:00", ride{mode: metro, gross: 300, want: 200, wantXfer: 100, wantRules: xfer}),
		}},
		{"bus-metro one second past 90 minutes", []ride{
			rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
			rideAt(t, day+"09:30:01", ride{mode: metro, gross: 300, want: 300, notRules: xfer}),
		}},
		{"joinin: bus, bus free, metro pays its 95%", []ride{
			rideAt(t, day+"08:00:00", ride{mode: bus, product: transit.ProductJoinIn, gross: 200, want: 120, wantProduct: 80}),
			rideAt(t, day+"08:20:00", ride{mode: bus, product: transit.ProductJoinIn, gross: 200, want: 0, wantProduct: 80, wantXfer: 120}),
			rideAt(t, day+"08:40:00", ride{mode: metro, product: transit.ProductJoinIn, gross: 400, want: 380, wantProduct: 20, notRules: xfer}),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, p, &Rider{}, tt.rides) })
	}
}

// TestNingboChainRestart: "a third within the 60 min pays full, a fourth
// and later tap, within the time conditions, can be rebated again (the
// chain restarts)". Our reading: once the allowance is spent, the next leg
// that gets no transfer discount is the first tap of a new chain, whose
// windows (5-60 minutes bus->bus, 0-90 bus<->metro) run from it.
func TestNingboChainRestart(t *testing.T) {
	p := ningbo(t)
	const bus, metro = transit.ModeBus, transit.ModeMetro
	const xfer = transit.RuleTransfer
	day := "2025-03-03 "
	three := []ride{
		rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
		rideAt(t, day+"08:20:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120, wantRules: xfer}),
		rideAt(t, day+"08:40:00", ride{mode: bus, gross: 200, want: 200, notRules: xfer}), // the new chain's first tap
	}
	with := func(more ...ride) []ride { return append(append([]ride(nil), three...), more...) }
	tests := []struct {
		name  string
		rides []ride
	}{
		{"a fourth bus 10 min after the third is rebated (the issue's case)", with(
			rideAt(t, day+"08:50:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120, wantRules: xfer}))},
		{"4:59 after the third: too early", with(
			rideAt(t, day+"08:44:59", ride{mode: bus, gross: 200, want: 200, notRules: xfer}))},
		{"5:00 after the third", with(
			rideAt(t, day+"08:45:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120}))},
		{"60:00 after the third", with(
			rideAt(t, day+"09:40:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120}))},
		{"60:01 after the third", with(
			rideAt(t, day+"09:40:01", ride{mode: bus, gross: 200, want: 200, notRules: xfer}))},
		{"the fifth bus after a rebated fourth pays full, the sixth is rebated", with(
			rideAt(t, day+"08:50:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120}),
			rideAt(t, day+"09:00:00", ride{mode: bus, gross: 200, want: 200, notRules: xfer}),
			rideAt(t, day+"09:10:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120}))},
		{"a metro 30 min after the third gets the bus-metro discount of the new chain", with(
			rideAt(t, day+"09:10:00", ride{mode: metro, gross: 300, want: 200, wantXfer: 100, wantRules: xfer}))},
		{"metro after a spent chain starts one too: the next bus transfers from it", []ride{
			rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
			rideAt(t, day+"08:20:00", ride{mode: bus, gross: 200, want: 80, wantXfer: 120}),
			rideAt(t, day+"08:40:00", ride{mode: metro, gross: 300, want: 300, notRules: xfer}),
			rideAt(t, day+"10:10:00", ride{mode: bus, gross: 200, want: 100, wantXfer: 100, wantRules: xfer}), // 90 min after the entry
		}},
		{"an unspent chain does not restart: a leg too early stays in it", []ride{
			rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
			rideAt(t, day+"08:03:00", ride{mode: bus, gross: 200, want: 200}),
			// 61 minutes after 08:03 but 64 after the chain's first tap.
			rideAt(t, day+"09:04:00", ride{mode: bus, gross: 200, want: 200, notRules: xfer}),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, p, &Rider{}, tt.rides) })
	}

	// The quotes say what happened to the chain.
	var r Rider
	var steps []ChainStep
	for _, local := range []string{"08:00:00", "08:20:00", "08:40:00", "08:50:00", "10:30:00"} {
		d, sd := at(t, day+local)
		q := p.Price(&Leg{Mode: bus, Product: transit.ProductStandard, Issuer: transit.Ningbo, Start: t0 + int64(d), Day: sd, Gross: 200}, &r)
		steps = append(steps, q.Chain)
	}
	want := []ChainStep{ChainStarted, ChainContinued, ChainRestarted, ChainContinued, ChainStarted}
	if !slices.Equal(steps, want) {
		t.Errorf("chain steps %v, want %v", steps, want)
	}
	if d, _ := at(t, day+"10:30:00"); r.ChainStart != t0+int64(d) {
		t.Errorf("chain start %d, want the last leg's", r.ChainStart)
	}
}

// TestNingboSeniors: "市内外70周岁及以上老年人，在法定工作日早晚高峰时段（7:00～9:00，
// 17:00～19:00；以刷卡进站时间为准）购买半票乘车，其余时段免费乘车". A span includes
// its start and excludes its end (ours, as GTFS timeframes); 法定工作日 are
// Monday to Friday less the State Council's holidays plus its make-up
// working days (sourced for 2025 and 2026).
func TestNingboSeniors(t *testing.T) {
	p := ningbo(t)
	const metro = transit.ModeMetro
	half := ride{mode: metro, product: transit.ProductSenior, gross: 300, want: 150, wantProduct: 150, wantRules: transit.RuleProduct}
	free := ride{mode: metro, product: transit.ProductSenior, gross: 300, want: 0, wantProduct: 300, wantRules: transit.RuleProduct}
	tests := []struct {
		local string
		want  ride
	}{
		{"2025-03-03 06:59:59", free}, // Monday
		{"2025-03-03 07:00:00", half},
		{"2025-03-03 08:59:59", half},
		{"2025-03-03 09:00:00", free},
		{"2025-03-03 12:00:00", free},
		{"2025-03-03 16:59:59", free},
		{"2025-03-03 17:00:00", half},
		{"2025-03-03 18:59:59", half},
		{"2025-03-03 19:00:00", free},
		{"2025-03-07 08:00:00", half}, // Friday
		{"2025-03-08 08:00:00", free}, // Saturday
		{"2025-03-09 18:00:00", free}, // Sunday
		{"2025-05-01 08:00:00", free}, // Labour Day, a Thursday
		{"2025-05-05 08:00:00", free}, // the holiday's last day, a Monday
		{"2025-05-06 08:00:00", half}, // back to work
		{"2025-04-27 08:00:00", half}, // a Sunday worked instead (调休)
		{"2025-10-08 17:30:00", free}, // National Day and Mid-Autumn, a Wednesday
		{"2025-10-11 17:30:00", half}, // a Saturday worked instead
		{"2026-02-16 08:00:00", free}, // Spring Festival 2026, a Monday
		{"2026-02-28 08:00:00", half}, // a Saturday worked instead
		{"2024-10-01 08:00:00", half}, // 2024's holidays are not sourced: a Tuesday counts as a working day
	}
	for _, tt := range tests {
		t.Run(tt.local, func(t *testing.T) {
			run(t, p, &Rider{}, []ride{rideAt(t, tt.local, tt.want)})
		})
	}
	// Seniors of any city ("市内外"); the bus has no senior fare.
	run(t, p, &Rider{}, []ride{rideAt(t, "2025-03-03 08:00:00", ride{mode: metro, product: transit.ProductSenior, issuer: 110100,
		gross: 500, want: 250, wantProduct: 250, wantRules: transit.RuleProduct})})
	run(t, p, &Rider{}, []ride{rideAt(t, "2025-03-03 12:00:00", ride{mode: transit.ModeBus, product: transit.ProductSenior,
		gross: 200, want: 200, notRules: transit.RuleProduct})})
	// Other products are not touched by the peaks.
	run(t, p, &Rider{}, []ride{rideAt(t, "2025-03-03 08:00:00", ride{mode: metro, gross: 300, want: 300, notRules: transit.RuleProduct})})
}

// TestSeniorTransfers: a transfer discount comes off what is left after
// the senior rate; a free ride takes none, so it leaves the allowance to
// the next leg (ours).
func TestSeniorTransfers(t *testing.T) {
	p := ningbo(t)
	const bus, metro = transit.ModeBus, transit.ModeMetro
	const senior = transit.ProductSenior
	run(t, p, &Rider{}, []ride{
		rideAt(t, "2025-03-03 08:00:00", ride{mode: bus, product: senior, gross: 200, want: 200}),
		rideAt(t, "2025-03-03 08:10:00", ride{mode: metro, product: senior, gross: 300, want: 50, wantProduct: 150, wantXfer: 100}),
	})
	run(t, p, &Rider{}, []ride{
		rideAt(t, "2025-03-03 09:30:00", ride{mode: bus, product: senior, gross: 200, want: 200}),
		rideAt(t, "2025-03-03 09:40:00", ride{mode: metro, product: senior, gross: 300, want: 0, wantProduct: 300, notRules: transit.RuleTransfer}),
		// metro -> bus: the discount the free ride did not take.
		rideAt(t, "2025-03-03 10:10:00", ride{mode: bus, product: senior, gross: 200, want: 100, wantXfer: 100}),
	})
}

// TestOvertime: Ningbo charges the highest single fare from the exit
// station past 120 minutes; Beijing the distance fare plus the 3 CNY base
// fare past 4 hours ("按单程起步价3元补交超时车费"). Exactly the limit is not
// over it.
func TestOvertime(t *testing.T) {
	b := mustDefault(t)
	nb := b.Policy(transit.Ningbo, march1)
	bj := b.Policy(110100, march1)
	const m = int64(time.Minute)
	for _, tt := range []struct {
		p        *Policy
		inSystem int64
		over     bool
	}{
		{nb, 120 * m, false}, {nb, 120*m + 1, true}, {bj, 240 * m, false}, {bj, 240*m + 1, true}, {bj, 240*m + 60e9, true},
	} {
		n := tt.p.Metro
		a, z := int32(0), int32(1)
		fare, rules := tt.p.MetroFare(a, z, tt.inSystem)
		var want transit.Fen
		wantRules := transit.RuleMetroDistance
		switch {
		case !tt.over:
			want = n.Fare(a, z)
		case tt.p == nb:
			want, wantRules = n.MaxFareFrom(z), transit.RuleOvertime
		default:
			want, wantRules = n.Fare(a, z)+300, transit.RuleMetroDistance|transit.RuleOvertime
		}
		if fare != want || rules != wantRules {
			t.Errorf("%s, %v in system: %v %s, want %v %s", tt.p.Version, time.Duration(tt.inSystem), fare, rules, want, wantRules)
		}
	}
	// The surcharge is part of the gross: Beijing's volume discount
	// applies to all of it (ours).
	r := &Rider{Day: march1, Month: march1.Month(), HasDay: true}
	r.MonthSpend[transit.ModeMetro] = 10000
	fare, rules := bj.MetroFare(0, 1, 241*m)
	run(t, bj, r, []ride{{mode: transit.ModeMetro, gross: fare, want: transit.ApplyRate(fare, 8000), wantCap: fare - transit.ApplyRate(fare, 8000)}})
	if rules&transit.RuleOvertime == 0 {
		t.Error("no overtime rule")
	}
	// A city without a limit never charges overtime.
	free := *nb
	free.MaxInSystem = 0
	if f, r := free.MetroFare(0, 1, 1000*m); f != nb.Metro.Fare(0, 1) || r != transit.RuleMetroDistance {
		t.Errorf("no limit: %v %s", f, r)
	}
}

// TestExplain: the lines `tapsettle quote` prints name the rules applied.
func TestExplain(t *testing.T) {
	p := ningbo(t)
	var r Rider
	price := func(local string, mode transit.Mode, prod transit.Product) []string {
		d, sd := at(t, local)
		leg := Leg{Mode: mode, Product: prod, Issuer: transit.Ningbo, Start: t0 + int64(d), Day: sd, Gross: 300}
		q := p.Price(&leg, &r)
		return p.Explain(&leg, &q)
	}
	has := func(lines []string, want ...string) {
		t.Helper()
		all := strings.Join(lines, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("explanation lacks %q:\n%s", w, all)
			}
		}
	}
	has(price("2025-03-03 08:00:00", transit.ModeMetro, transit.ProductSenior),
		"time: Mon 2025-03-03 08:00 (UTC+8, the entry)", "timeframe working-day-peak, 07:00-09:00, 17:00-19:00 on days of calendar statutory-working-days: in effect (the day is on calendar statutory-working-days)",
		"product senior-ningbo-peak: senior pays 50% on the metro in timeframe working-day-peak", "starts a new one")
	has(price("2025-03-03 08:20:00", transit.ModeBus, transit.ProductStandard),
		"transfer bus-metro", "allowance one-per-90-min: 1 discounted transfer per chain")
	has(price("2025-03-03 08:30:00", transit.ModeBus, transit.ProductStandard), "had spent allowance one-per-90-min")
	bj := mustDefault(t).Policy(110100, march1)
	fare, rules := bj.MetroFare(0, 1, int64(5*time.Hour))
	leg := Leg{Mode: transit.ModeMetro, Product: transit.ProductStandard, Issuer: 110100, Gross: fare, Rules: rules}
	q := bj.Price(&leg, &Rider{})
	has(bj.Explain(&leg, &q), "overtime: over 240 min in the system; a longer journey pays its distance fare plus 3.00 CNY")
}

// TestRulesAllocs: the new rules price without allocating: timeframes
// (a senior at the peaks and off them), the shared allowance and its
// restart, and the overtime charges.
func TestRulesAllocs(t *testing.T) {
	p := ningbo(t)
	bj := mustDefault(t).Policy(110100, march1)
	var r Rider
	d, day := at(t, "2025-03-03 06:00:00")
	legs := []Leg{
		{Mode: transit.ModeMetro, Product: transit.ProductSenior, Issuer: 110100, Gross: 300},
		{Mode: transit.ModeBus, Product: transit.ProductStandard, Issuer: transit.Ningbo, Gross: 200},
		{Mode: transit.ModeBus, Product: transit.ProductStandard, Issuer: transit.Ningbo, Gross: 200},
	}
	start, i := t0+int64(d), 0
	if n := testing.AllocsPerRun(2000, func() {
		leg := &legs[i%len(legs)]
		start += int64(7 * time.Minute)
		leg.Start, leg.Day = start, day
		p.Price(leg, &r)
		_, _ = bj.MetroFare(0, 1, int64(i)*int64(time.Minute))
		_, _ = p.MetroFare(0, 1, int64(i)*int64(time.Minute))
		i++
	}); n != 0 {
		t.Errorf("Price with timeframes and allowances allocates %v times per call", n)
	}
}
