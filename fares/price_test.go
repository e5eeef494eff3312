package fares

import (
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

var (
	march1 = transit.DayOf(2025, 3, 1)
	t0     = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC).UnixNano()
)

// ride is one leg of a scenario and the price it must get.
type ride struct {
	at         time.Duration // after t0
	mode       transit.Mode
	product    transit.Product
	issuer     transit.City
	gross      transit.Fen
	incomplete bool
	day        transit.Day // 0: march1

	want        transit.Fen // charged
	wantProduct transit.Fen
	wantXfer    transit.Fen
	wantCap     transit.Fen
	wantRules   transit.Rules // rules Price must add (checked as a subset)
	notRules    transit.Rules // rules Price must not add
}

// run prices a scenario of rides on one card and checks every quote,
// including the invariant Charged == Gross - discounts >= 0.
func run(t *testing.T, p *Policy, r *Rider, rides []ride) {
	t.Helper()
	for i, rd := range rides {
		day := rd.day
		if day == 0 {
			day = march1
		}
		leg := Leg{Mode: rd.mode, Product: rd.product, Issuer: rd.issuer, Start: t0 + int64(rd.at),
			Day: day, Gross: rd.gross, Incomplete: rd.incomplete}
		if leg.Product == 0 {
			leg.Product = transit.ProductStandard
		}
		if leg.Issuer == 0 {
			leg.Issuer = p.City
		}
		q := p.Price(&leg, r)
		if q.Charged != rd.want || q.ProductDiscount != rd.wantProduct || q.TransferDiscount != rd.wantXfer || q.CapDiscount != rd.wantCap {
			t.Errorf("ride %d (%v %s %d at %v): got charged %d (product %d, transfer %d, cap %d), want %d (%d, %d, %d)",
				i+1, leg.Product, leg.Mode, rd.gross, rd.at, q.Charged, q.ProductDiscount, q.TransferDiscount, q.CapDiscount,
				rd.want, rd.wantProduct, rd.wantXfer, rd.wantCap)
		}
		if q.Rules&rd.wantRules != rd.wantRules || q.Rules&rd.notRules != 0 {
			t.Errorf("ride %d: rules %s, want %s and not %s", i+1, q.Rules, rd.wantRules, rd.notRules)
		}
		if q.Gross-q.ProductDiscount-q.TransferDiscount-q.CapDiscount != q.Charged || q.Charged < 0 {
			t.Errorf("ride %d: quote %+v breaks Charged == Gross - discounts >= 0", i+1, q)
		}
	}
}

func ningbo(t *testing.T) *Policy {
	t.Helper()
	p := mustDefault(t).Policy(transit.Ningbo, march1)
	if p == nil {
		t.Fatal("no Ningbo policy")
	}
	return p
}

// ningboR1 is revision 1 of Ningbo's rules (testdata/ningbo-r1): two
// transfer rules with their own use counters, no senior fares.
func ningboR1(t *testing.T) *Policy {
	t.Helper()
	p := mustLoad(t, "testdata/ningbo-r1").Policy(transit.Ningbo, march1)
	if p == nil || p.Version != "ningbo-2020" {
		t.Fatalf("revision 1 of Ningbo's rules: %+v", p)
	}
	return p
}

// TestNingboProducts: the Join in Card pays 60% on the bus and 95% on the
// metro (六折 / 九五折) when issued in Ningbo; cards issued elsewhere pay
// the local fare; the local-card rule for standard cards ships disabled.
func TestNingboProducts(t *testing.T) {
	p := ningbo(t)
	const bus, metro = transit.ModeBus, transit.ModeMetro
	const joinin, std, student = transit.ProductJoinIn, transit.ProductStandard, transit.ProductStudent
	tests := []struct {
		name string
		ride ride
	}{
		{"joinin bus 2.00 pays 1.20", ride{mode: bus, product: joinin, gross: 200, want: 120, wantProduct: 80, wantRules: transit.RuleProduct}},
		{"joinin metro 4.00 pays 3.80", ride{mode: metro, product: joinin, gross: 400, want: 380, wantProduct: 20, wantRules: transit.RuleProduct}},
		{"joinin metro 2.50 pays 2.38 (half up)", ride{mode: metro, product: joinin, gross: 250, want: 238, wantProduct: 12, wantRules: transit.RuleProduct}},
		{"joinin metro 3.00 pays 2.85", ride{mode: metro, product: joinin, gross: 300, want: 285, wantProduct: 15, wantRules: transit.RuleProduct}},
		{"joinin from Beijing pays full bus", ride{mode: bus, product: joinin, issuer: 110100, gross: 200, want: 200, notRules: transit.RuleProduct}},
		{"joinin from Hangzhou pays full metro", ride{mode: metro, product: joinin, issuer: 330100, gross: 400, want: 400, notRules: transit.RuleProduct}},
		{"standard Ningbo card: rule disabled", ride{mode: bus, product: std, gross: 200, want: 200, notRules: transit.RuleProduct}},
		{"student metro pays 50%", ride{mode: metro, product: student, gross: 500, want: 250, wantProduct: 250, wantRules: transit.RuleProduct}},
		{"student bus: no bus rate", ride{mode: bus, product: student, gross: 200, want: 200, notRules: transit.RuleProduct}},
		{"senior: no rule", ride{mode: bus, product: transit.ProductSenior, gross: 200, want: 200, notRules: transit.RuleProduct}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, p, &Rider{}, []ride{tt.ride})
		})
	}
}

// TestNingboTransferWindow probes the bus->bus rebate (5..60 minutes after
// the first tap, inclusive) at its edges.
func TestNingboTransferWindow(t *testing.T) {
	p := ningbo(t)
	const bus = transit.ModeBus
	tests := []struct {
		after time.Duration
		want  transit.Fen
		xfer  transit.Fen
	}{
		{0, 200, 0},
		{4*time.Minute + 59*time.Second, 200, 0},
		{5 * time.Minute, 80, 120},
		{30 * time.Minute, 80, 120},
		{60 * time.Minute, 80, 120},
		{60*time.Minute + time.Second, 200, 0},
		{60*time.Minute + 1, 200, 0}, // one nanosecond late
	}
	for _, tt := range tests {
		t.Run(tt.after.String(), func(t *testing.T) {
			var rules transit.Rules
			if tt.xfer != 0 {
				rules = transit.RuleTransfer
			}
			run(t, p, &Rider{}, []ride{
				{at: 0, mode: bus, gross: 200, want: 200},
				{at: tt.after, mode: bus, gross: 200, want: tt.want, wantXfer: tt.xfer, wantRules: rules},
			})
		})
	}
}

// TestIndependentTransferRules: transfer rules with their own use
// counters (max_uses, no shared allowance) give one discount each per
// chain, and a chain lasts until the last window has passed. It runs on
// revision 1 of Ningbo's rules (testdata/ningbo-r1), which were written so;
// TestNingboSharedAllowance covers the rules Ningbo publishes.
func TestIndependentTransferRules(t *testing.T) {
	p := ningboR1(t)
	const bus, metro = transit.ModeBus, transit.ModeMetro
	const joinin = transit.ProductJoinIn
	m := time.Minute
	tests := []struct {
		name  string
		rides []ride
	}{
		{"max uses: one rebate, one mode change per chain", []ride{
			{at: 0, mode: bus, gross: 200, want: 200},
			{at: 10 * m, mode: bus, gross: 200, want: 80, wantXfer: 120, wantRules: transit.RuleTransfer},
			{at: 20 * m, mode: bus, gross: 200, want: 200, notRules: transit.RuleTransfer},
			{at: 30 * m, mode: metro, gross: 400, want: 300, wantXfer: 100, wantRules: transit.RuleTransfer},
			{at: 40 * m, mode: bus, gross: 200, want: 200, notRules: transit.RuleTransfer},
			// 100 minutes after the first tap: beyond every window, a new chain.
			{at: 100 * m, mode: metro, gross: 400, want: 400},
			{at: 110 * m, mode: bus, gross: 200, want: 100, wantXfer: 100},
		}},
		{"bus-metro window edges", []ride{
			{at: 0, mode: bus, gross: 200, want: 200},
			{at: 90 * m, mode: metro, gross: 400, want: 300, wantXfer: 100},
		}},
		{"bus-metro one second late", []ride{
			{at: 0, mode: bus, gross: 200, want: 200},
			{at: 90*m + time.Second, mode: metro, gross: 400, want: 400},
			{at: 100 * m, mode: bus, gross: 200, want: 100, wantXfer: 100}, // the metro leg started a chain
		}},
		{"metro to metro is no transfer", []ride{
			{at: 0, mode: metro, gross: 400, want: 400},
			{at: 20 * m, mode: metro, gross: 400, want: 400},
		}},
		{"too early for bus-bus, chain goes on", []ride{
			{at: 0, mode: bus, gross: 200, want: 200},
			{at: 3 * m, mode: bus, gross: 200, want: 200},
			{at: 10 * m, mode: bus, gross: 200, want: 80, wantXfer: 120},
		}},
		{"joinin: the rebate is capped by the discounted fare", []ride{
			{at: 0, mode: bus, product: joinin, gross: 200, want: 120, wantProduct: 80},
			{at: 10 * m, mode: bus, product: joinin, gross: 200, want: 0, wantProduct: 80, wantXfer: 120},
			{at: 20 * m, mode: metro, product: joinin, gross: 400, want: 280, wantProduct: 20, wantXfer: 100},
		}},
		{"incomplete legs neither get nor start transfers", []ride{
			{at: 0, mode: metro, gross: 1300, incomplete: true, want: 1300},
			{at: 10 * m, mode: bus, gross: 200, want: 200},
			{at: 15 * m, mode: metro, gross: 1300, incomplete: true, want: 1300, notRules: transit.RuleTransfer},
			{at: 20 * m, mode: bus, gross: 200, want: 80, wantXfer: 120}, // previous counted leg: the bus at 10
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, p, &Rider{}, tt.rides) })
	}
}

// TestChainOfOtherVersion: use counters belong to the version that started
// the chain, so a leg priced by another version starts a new chain.
func TestChainOfOtherVersion(t *testing.T) {
	p := ningbo(t)
	r := Rider{ChainStart: t0, ChainFrom: p.EffectiveFrom - 1, LastMode: transit.ModeBus}
	run(t, p, &r, []ride{{at: 10 * time.Minute, mode: transit.ModeBus, gross: 200, want: 200}})
	if r.ChainFrom != p.EffectiveFrom || r.ChainStart != t0+int64(10*time.Minute) {
		t.Errorf("rider %+v did not start a new chain", r)
	}
}

// TestBeijingVolume: 20% off after 100 CNY spent on the metro in the
// calendar month, 50% off after 150, none after 400; the rate comes from
// the spend before the ride.
func TestBeijingVolume(t *testing.T) {
	p := mustDefault(t).Policy(110100, march1)
	const metro = transit.ModeMetro
	withSpend := func(fen transit.Fen) *Rider {
		r := &Rider{Day: march1, Month: march1.Month(), HasDay: true}
		r.MonthSpend[metro] = fen
		return r
	}
	tests := []struct {
		spent transit.Fen
		want  transit.Fen
	}{
		{0, 500}, {9999, 500}, {10000, 400}, {14999, 400}, {15000, 250}, {39999, 250}, {40000, 500}, {90000, 500},
	}
	for _, tt := range tests {
		var rules, not transit.Rules
		if tt.want != 500 {
			rules = transit.RuleVolume
		} else {
			not = transit.RuleVolume
		}
		run(t, p, withSpend(tt.spent), []ride{{mode: metro, gross: 500, want: tt.want, wantCap: 500 - tt.want, wantRules: rules, notRules: not}})
	}
	// The bus is not covered, however much was spent on the metro.
	run(t, p, withSpend(20000), []ride{{mode: transit.ModeBus, gross: 200, want: 200}})

	// A month of 6 CNY rides, crossing every threshold (sums by hand):
	// rides 1-17 pay 6.00 (spend before ride 17: 96.00); ride 18 sees
	// 102.00 and pays 4.80; rides 18-27 bring the spend to exactly 150.00,
	// so ride 28 pays 3.00; ride 111 sees 399.00 and pays 3.00; ride 112
	// sees 402.00 and pays 6.00 again.
	r := &Rider{}
	want := map[int]transit.Fen{1: 600, 17: 600, 18: 480, 27: 480, 28: 300, 111: 300, 112: 600, 120: 600}
	for i := 1; i <= 120; i++ {
		day := march1 + transit.Day(i/5) // five rides a day, all in March
		q := p.Price(&Leg{Mode: metro, Product: transit.ProductStandard, Issuer: 110100, Start: t0 + int64(i)*int64(time.Hour), Day: day, Gross: 600}, r)
		if w, ok := want[i]; ok && q.Charged != w {
			t.Errorf("ride %d: charged %d, want %d (month spend after: %d)", i, q.Charged, w, r.MonthSpend[metro])
		}
	}
	// A new calendar month starts from zero.
	r = withSpend(12000)
	run(t, p, r, []ride{
		{mode: metro, gross: 600, want: 480, wantCap: 120},
		{mode: metro, gross: 600, day: transit.DayOf(2025, 3, 31), want: 480, wantCap: 120},
		{mode: metro, gross: 600, day: transit.DayOf(2025, 4, 1), want: 600},
	})
}

// TestDailyCap uses the test policies of testdata/override/340100_hefei.yaml.
func TestDailyCap(t *testing.T) {
	b := mustLoad(t, "testdata/override")
	const bus, metro = transit.ModeBus, transit.ModeMetro
	t.Run("bus and metro, 5 CNY", func(t *testing.T) {
		p := b.Policy(340100, march1)
		run(t, p, &Rider{}, []ride{
			{mode: bus, gross: 200, want: 200},
			{at: time.Hour, mode: bus, gross: 200, want: 200},
			{at: 2 * time.Hour, mode: metro, gross: 300, want: 100, wantCap: 200, wantRules: transit.RuleDailyCap},
			{at: 3 * time.Hour, mode: bus, gross: 200, want: 0, wantCap: 200, wantRules: transit.RuleDailyCap},
			{at: 24 * time.Hour, day: march1 + 1, mode: bus, gross: 200, want: 200},
		})
	})
	t.Run("metro only, 3 CNY", func(t *testing.T) {
		day := transit.DayOf(2025, 6, 2)
		p := b.Policy(340100, day)
		if p.Version != "2025-06-01" {
			t.Fatalf("version %q effective on %s, want 2025-06-01", p.Version, day)
		}
		run(t, p, &Rider{}, []ride{
			{day: day, mode: bus, gross: 200, want: 200},
			{day: day, at: time.Hour, mode: metro, gross: 200, want: 200},
			{day: day, at: 2 * time.Hour, mode: metro, gross: 200, want: 100, wantCap: 100, wantRules: transit.RuleDailyCap},
			{day: day, at: 3 * time.Hour, mode: bus, gross: 200, want: 200, notRules: transit.RuleDailyCap},
		})
	})
}

// TestPriceRules: rows priced by the default template or on a synthetic
// network say so.
func TestPriceRules(t *testing.T) {
	b := mustDefault(t)
	suzhou := b.Policy(320500, march1)
	if !suzhou.Default {
		t.Fatal("Suzhou should use the default template")
	}
	run(t, suzhou, &Rider{}, []ride{
		{mode: transit.ModeMetro, gross: 300, want: 300, wantRules: transit.RuleDefaultPolicy | transit.RuleSynthetic},
		{at: time.Hour, mode: transit.ModeBus, gross: 200, want: 200, wantRules: transit.RuleDefaultPolicy, notRules: transit.RuleSynthetic},
	})
	run(t, ningbo(t), &Rider{}, []ride{
		{mode: transit.ModeBus, gross: 200, want: 200, notRules: transit.RuleDefaultPolicy | transit.RuleSynthetic},
	})
	// A leg with an invalid mode (a caller's bug) gets no transfer and
	// leaves a rider that still checkpoints.
	var r Rider
	run(t, ningbo(t), &r, []ride{{mode: 7, gross: 200, want: 200, notRules: transit.RuleTransfer}})
	if _, err := new(Rider).DecodeCompact(r.AppendCompact(nil)); err != nil {
		t.Errorf("rider after an invalid mode: %v", err)
	}
	// A negative gross (a caller's bug) is priced as 0, never charged below 0.
	run(t, ningbo(t), &Rider{}, []ride{{mode: transit.ModeBus, product: transit.ProductJoinIn, gross: -5, want: 0}})
}

func TestBusFare(t *testing.T) {
	b := mustLoad(t, "testdata/override")
	p := b.Policy(320500, march1)
	if f, r := p.BusFare(transit.MustCode("K1")); f != 300 || r != transit.RuleBusLine {
		t.Errorf("BusFare(K1) = %d, %s; want 300, bus-line", f, r)
	}
	if f, r := p.BusFare(transit.MustCode("K2")); f != 200 || r != transit.RuleBusFlat {
		t.Errorf("BusFare(K2) = %d, %s; want 200, bus-flat", f, r)
	}
	if f, r := p.BusFare(transit.Code{}); f != 200 || r != transit.RuleBusFlat {
		t.Errorf("BusFare(none) = %d, %s; want 200, bus-flat", f, r)
	}
	p = b.Policy(320500, transit.DayOf(2026, 1, 1))
	if f, _ := p.BusFare(transit.MustCode("K1")); f != 250 {
		t.Errorf("2026 BusFare(K1) = %d, want the flat 250", f)
	}
}

func TestPriceAllocs(t *testing.T) {
	p := ningbo(t)
	var r Rider
	leg := Leg{Mode: transit.ModeBus, Product: transit.ProductJoinIn, Issuer: transit.Ningbo, Start: t0, Day: march1, Gross: 200}
	if n := testing.AllocsPerRun(1000, func() {
		leg.Start += int64(7 * time.Minute)
		p.Price(&leg, &r)
	}); n != 0 {
		t.Errorf("Price allocates %v times per call", n)
	}
	n := p.Metro
	a, z := int32(0), int32(n.NumStations()-1)
	code := n.StationCode(z)
	if allocs := testing.AllocsPerRun(1000, func() {
		i, _ := n.Station(code)
		_ = n.Fare(a, i) + n.MaxFareFrom(i)
	}); allocs != 0 {
		t.Errorf("Station+Fare allocate %v times per call", allocs)
	}
}
