package fares

import (
	"math/bits"
	"slices"

	"github.com/tapsettle/tapsettle/transit"
)

// Policy is one compiled version of a city's fare rules, effective from
// EffectiveFrom until the next version of the same city. A Policy is
// immutable and safe for concurrent use; its exported fields are read-only
// (they are fields, not methods, because the engine reads them per tap).
type Policy struct {
	// City is the acquirer city the rules apply to.
	City transit.City
	// Version labels the version (the file's "version", or the date).
	Version string
	// EffectiveFrom is the first settlement day the version applies to.
	EffectiveFrom transit.Day
	// Default is true when the rules are the documented default of
	// policies/default.yaml, not data about the city. Price adds
	// transit.RuleDefaultPolicy to every quote of such a version.
	Default bool
	// Source cites where the rules come from, as written in the file.
	Source string
	// File names the file the version was read from ("embedded:..." for
	// the data compiled into the binary).
	File string
	// Metro is the city's compiled metro network and fare ladder; nil when
	// the city runs no metro.
	Metro *Network
	// MaxInSystem is the time-in-system limit of a metro journey in
	// nanoseconds; 0 means none. A journey over it pays the version's
	// overtime charge (MetroFare), with transit.RuleOvertime.
	MaxInSystem int64

	bus busFares
	// overtime is how a journey over MaxInSystem is charged.
	overtime  overtime
	transfers []transferRule
	// allowances are the transfer allowances that rules share.
	allowances []allowance
	// restarts is set when an allowance restarts chains once spent.
	restarts bool
	// maxWindow is the largest window end of any transfer rule or
	// duration of any allowance, in ns; a leg later than this after its
	// chain's first tap starts a new chain. -1 when the version has no
	// transfer rules.
	maxWindow int64
	daily     *dailyCap
	volume    *volumeDiscount
	products  []productRule
	// byProduct lists, per card product, the indices of its enabled
	// product rules in file order: the rules Price tries for a leg, so
	// that a leg passes over no rule of another product.
	byProduct [transit.NumProducts][]uint8
	// calendars and timeframes are what product rules' timeframes refer
	// to, in file order (for Describe).
	calendars  []*calendar
	timeframes []*timeframe

	// tmpl holds the metro section of the default template, from which a
	// Network is generated for each city that runs a metro. Nil elsewhere.
	tmpl *metroTemplate
	// rules are added to every quote: RuleDefaultPolicy for a default
	// version.
	rules transit.Rules
}

// busFares is the bus section: a flat fare with per-line overrides.
type busFares struct {
	flat   transit.Fen
	source string
	lines  map[transit.Code]transit.Fen
	order  []busLine // the overrides in file order, for Describe and the fingerprint
}

type busLine struct {
	line   transit.Code
	fare   transit.Fen
	source string
}

// BusFare returns the bus fare of line: its per-line override
// (transit.RuleBusLine) or the city's flat fare (transit.RuleBusFlat). A
// zero line code gets the flat fare. It does not allocate.
func (p *Policy) BusFare(line transit.Code) (transit.Fen, transit.Rules) {
	if len(p.bus.lines) != 0 {
		if f, ok := p.bus.lines[line]; ok {
			return f, transit.RuleBusLine
		}
	}
	return p.bus.flat, transit.RuleBusFlat
}

// modeSet is a set of transit.Mode, one bit per mode.
type modeSet uint8

func (s modeSet) has(m transit.Mode) bool { return m < transit.NumModes && s&(1<<m) != 0 }

// productSet is a set of transit.Product, one bit per product.
type productSet uint8

func (s productSet) has(p transit.Product) bool {
	return p < transit.NumProducts && s&(1<<p) != 0
}

// allProducts is the product set of a rule that names none.
const allProducts = productSet(1<<transit.NumProducts-1) &^ 1

// MaxTransferRules bounds the transfer rules of one version, because a
// Rider keeps a fixed-size use counter per rule (it is pointer-free and
// checkpointed).
const MaxTransferRules = 8

// transferRule grants a discount on a leg that follows another within a
// window measured from the chain's first tap.
type transferRule struct {
	name       string
	from, to   modeSet
	modeChange bool  // the leg's mode must differ from the previous leg's
	minMinutes int64 // window, inclusive, in minutes (for Describe)
	maxMinutes int64
	minNS      int64 // the same window in nanoseconds
	maxNS      int64
	maxUses    uint8 // per chain, when the rule has no allowance
	// allowance is the index of the shared allowance the rule draws on,
	// -1 for none (the rule's own maxUses).
	allowance int8
	// shared and limit decide, for Price, whether the rule is spent:
	// the use counters of the rules in shared (the rule's allowance's,
	// or the rule alone) sum to limit (transfer_count, or maxUses).
	shared, limit uint8
	upTo          transit.Fen
	products      productSet
	source        string
}

// allowance is a transfer allowance shared by several rules (GTFS-Fares v2
// fare_transfer_rules.transfer_count and duration_limit, measured from the
// departure of the chain's first leg to the departure of this one,
// duration_limit_type 1): count discounted transfers per chain, whichever
// of its rules gives them, within duration of the chain's first tap.
type allowance struct {
	name        string
	count       uint8
	durationMin int64
	durationNS  int64
	// restarts: once count is spent, the next leg that gets no transfer
	// discount starts a new chain (Ningbo's bus chains restart).
	restarts bool
	rules    uint8 // bit i: transfer rule i draws on it
	source   string
}

// used returns the discounts the chain of r took from the rules in mask:
// the sum of their use counters.
func used(mask uint8, r *Rider) int {
	n := 0
	for ; mask != 0; mask &= mask - 1 {
		n += int(r.Uses[bits.TrailingZeros8(mask)])
	}
	return n
}

// spent reports whether rule t may give no more discounts in the chain of
// r: its allowance's count, or its own max_uses, is reached.
func (t *transferRule) spent(r *Rider) bool { return used(t.shared, r) >= int(t.limit) }

// chainSpent reports whether the chain of r has spent an allowance that
// restarts chains.
func (p *Policy) chainSpent(r *Rider) bool {
	for i := range p.allowances {
		if a := &p.allowances[i]; a.restarts && used(a.rules, r) >= int(a.count) {
			return true
		}
	}
	return false
}

// overtime is how a version charges a metro journey over MaxInSystem:
// the highest single fare from the exit station when surcharge is 0, else
// the distance fare plus surcharge.
type overtime struct {
	surcharge transit.Fen
	// source labels the rule; "" for a version that does not say, which
	// gets the highest fare from the exit (ours, see defaultOvertime).
	source string
}

// defaultOvertimeSource labels the overtime charge of a version that
// gives none.
const defaultOvertimeSource = "ours: the default overtime charge, the highest single fare from the exit station"

// MetroFare returns the gross fare of a metro journey from station a to
// station b (indices in p.Metro) that spent inSystem nanoseconds in the
// system, and the rules that produced it: the distance fare
// (transit.RuleMetroDistance), or past MaxInSystem the version's overtime
// charge (OvertimeFare). p.Metro must not be nil. It does not allocate.
func (p *Policy) MetroFare(a, b int32, inSystem int64) (transit.Fen, transit.Rules) {
	if p.Overtime(inSystem) {
		return p.OvertimeFare(a, b)
	}
	return p.Metro.Fare(a, b), transit.RuleMetroDistance
}

// Overtime reports whether a journey that spent inSystem nanoseconds in
// the system is over the time-in-system limit (strictly: exactly the
// limit is within it). The engine's exit path tests it inline and calls
// OvertimeFare only past the limit.
func (p *Policy) Overtime(inSystem int64) bool {
	return p.MaxInSystem > 0 && inSystem > p.MaxInSystem
}

// OvertimeFare returns the gross fare of a metro journey from station a
// to station b over the time-in-system limit, and its rules
// (transit.RuleOvertime): the highest single fare from b, or the distance
// fare plus the version's surcharge (with transit.RuleMetroDistance).
func (p *Policy) OvertimeFare(a, b int32) (transit.Fen, transit.Rules) {
	if s := p.overtime.surcharge; s > 0 {
		return p.Metro.Fare(a, b) + s, transit.RuleMetroDistance | transit.RuleOvertime
	}
	return p.Metro.MaxFareFrom(b), transit.RuleOvertime
}

// dailyCap limits what a card pays per settlement day for the given modes.
type dailyCap struct {
	cap    transit.Fen
	modes  modeSet
	source string
}

// volumeDiscount sets a pay rate from what the card spent on the given
// modes in the calendar month before the ride (Beijing's metro discount).
type volumeDiscount struct {
	modes  modeSet
	tiers  []volumeTier // ascending by after
	source string
}

type volumeTier struct {
	after transit.Fen
	pay   transit.BasisPoints
}

// rate returns the pay rate for a month's spend before the ride: that of
// the last tier whose threshold the spend has reached, else Full.
func (v *volumeDiscount) rate(spent transit.Fen) transit.BasisPoints {
	bp := transit.Full
	for _, t := range v.tiers {
		if spent < t.after {
			break
		}
		bp = t.pay
	}
	return bp
}

// productRule is a card-product discount: product, issuers, per-mode
// rate, and optionally the timeframe the leg must start in.
type productRule struct {
	name      string
	product   transit.Product
	issuers   []transit.City // nil: any issuer
	enabled   bool
	pay       [transit.NumModes]transit.BasisPoints
	has       modeSet    // modes the rule prices
	timeframe *timeframe // nil: any time
	source    string
}

// matches reports whether the rule, enabled and of the leg's product
// (see Policy.byProduct), prices a leg issued in issuer, of mode, starting
// at start (unix ns). The timeframe, the dearest check, comes last.
func (r *productRule) matches(issuer transit.City, mode transit.Mode, start int64) bool {
	if !r.has.has(mode) {
		return false
	}
	if r.issuers != nil && !slices.Contains(r.issuers, issuer) {
		return false
	}
	return r.timeframe == nil || r.timeframe.holds(start)
}

// metroTemplate is the metro section of the default template: everything
// but the network, which is generated per city.
type metroTemplate struct {
	ladder      ladder
	maxInSystem int64
	overtime    overtime
	source      string
}
