package fares

import (
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
	// nanoseconds; 0 means none. A journey over it pays the highest single
	// fare from its exit station (Network.MaxFareFrom), applied by the
	// engine with transit.RuleOvertime.
	MaxInSystem int64

	bus       busFares
	transfers []transferRule
	// maxWindow is the largest window end of any transfer rule, in ns; a
	// leg later than this after its chain's first tap starts a new chain.
	// -1 when the version has no transfer rules.
	maxWindow int64
	daily     *dailyCap
	volume    *volumeDiscount
	products  []productRule

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
	maxUses    uint8
	upTo       transit.Fen
	products   productSet
	source     string
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

// productRule is a card-product discount: product, issuers, per-mode rate.
type productRule struct {
	name    string
	product transit.Product
	issuers []transit.City // nil: any issuer
	enabled bool
	pay     [transit.NumModes]transit.BasisPoints
	has     modeSet // modes the rule prices
	source  string
}

func (r *productRule) matches(prod transit.Product, issuer transit.City, mode transit.Mode) bool {
	if !r.enabled || r.product != prod || !r.has.has(mode) {
		return false
	}
	if r.issuers == nil {
		return true
	}
	for _, c := range r.issuers {
		if c == issuer {
			return true
		}
	}
	return false
}

// metroTemplate is the metro section of the default template: everything
// but the network, which is generated per city.
type metroTemplate struct {
	ladder      ladder
	maxInSystem int64
	source      string
}
