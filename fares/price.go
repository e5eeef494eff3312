package fares

import (
	"github.com/tapsettle/tapsettle/transit"
)

// Leg is one journey to price: a bus ride, or a metro journey from entry to
// exit. The engine fills it from the taps and the gross fare it computed
// with BusFare, Network.Fare, Network.MaxFareFrom (over the time limit) or
// Network.MaxFare (incomplete).
type Leg struct {
	Mode    transit.Mode
	Product transit.Product
	Issuer  transit.City
	// Start is the board or entry instant in unix ns; transfer windows are
	// measured between legs' starts.
	Start int64
	// Day is the settlement day of the leg, which caps accumulate in.
	Day transit.Day
	// Gross is the full fare before any discount; it must not be negative
	// (every fare this package computes is positive).
	Gross transit.Fen
	// Rules are the rules that produced Gross; Price adds its own.
	Rules transit.Rules
	// Incomplete marks a journey missing a tap. It pays Gross less its
	// product discount and caps, but neither gets nor starts a transfer.
	Incomplete bool
}

// Quote is the price of a leg. Charged == Gross - ProductDiscount -
// TransferDiscount - CapDiscount, and Charged is never negative.
type Quote struct {
	Gross            transit.Fen
	ProductDiscount  transit.Fen
	TransferDiscount transit.Fen
	CapDiscount      transit.Fen
	Charged          transit.Fen
	Rules            transit.Rules
	// ProductRule and TransferRule name the rules that applied, for
	// people (Policy.Explain): 1 + the rule's index in the version, 0
	// when none did.
	ProductRule, TransferRule uint8
	// Chain is what the leg did to the card's transfer chain.
	Chain ChainStep
}

// ChainStep is what a leg did to its card's transfer chain.
type ChainStep uint8

// Chain steps.
const (
	// ChainNone: the leg took no part in chains (an incomplete journey,
	// or an invalid mode).
	ChainNone ChainStep = iota
	// ChainStarted: the leg started a new chain (the card's first leg,
	// one after the previous chain's last window, or one priced by
	// another version than the chain's).
	ChainStarted
	// ChainContinued: the leg belongs to the current chain, discounted
	// or not.
	ChainContinued
	// ChainRestarted: the chain had spent an allowance that restarts
	// chains, and the leg, which got no transfer discount, started a new
	// chain.
	ChainRestarted
)

// Price prices leg for the card whose state in this city is r, and
// updates r. It applies, in this order:
//
//  1. Gross is leg.Gross (a negative Gross is treated as 0).
//  2. Product discount: the first enabled product rule matching the leg's
//     product, issuer (or any issuer), mode and, if the rule names one,
//     timeframe (the leg's Start, local time) sets the pay rate; the fare
//     becomes transit.ApplyRate(gross, rate), rounded half up
//     (transit.RuleProduct).
//  3. Transfer, unless the leg is incomplete: the leg continues the card's
//     chain if it starts no later than the largest window end (or
//     allowance duration) of the version after the chain's first tap. The
//     first rule whose window [min, max] (inclusive, measured from the
//     chain's first tap) holds the leg, whose from-modes hold the previous
//     leg's mode and to-modes the leg's, whose products hold the leg's,
//     and whose uses in the chain (its own max_uses, or its allowance's
//     transfer_count, shared with the allowance's other rules) are not
//     spent, takes up to its amount off the fare left after step 2
//     (transit.RuleTransfer). A leg with nothing left to pay takes no
//     transfer and spends no use. A leg beyond every window, or with no
//     chain, starts a new chain; so does a leg that gets no transfer
//     discount in a chain that has spent an allowance that restarts
//     chains (ChainRestarted).
//  4. Caps, on the fare left after step 3: the monthly volume discount
//     sets a pay rate from what the card spent on the covered modes in the
//     calendar month before this ride (transit.RuleVolume); then the daily
//     cap charges at most what is left of the cap in the settlement day
//     (transit.RuleDailyCap). Both go to CapDiscount.
//  5. The charged fare is added to the day's and the month's spend.
//
// Price does not allocate. r must belong to this city (caps and chains are
// per city); legs must come in the order of their taps. A leg with an
// invalid mode gets no transfer and is not counted in the spend.
func (p *Policy) Price(leg *Leg, r *Rider) Quote {
	q := Quote{Gross: max(leg.Gross, 0), Rules: leg.Rules | p.rules}
	if leg.Mode == transit.ModeMetro && p.Metro != nil && p.Metro.Synthetic {
		q.Rules |= transit.RuleSynthetic
	}
	fare := q.Gross

	if leg.Product < transit.NumProducts {
		for _, i := range p.byProduct[leg.Product] {
			pr := &p.products[i]
			if pr.matches(leg.Issuer, leg.Mode, leg.Start) {
				after := transit.ApplyRate(fare, pr.pay[leg.Mode])
				q.ProductDiscount = fare - after
				fare = after
				q.Rules |= transit.RuleProduct
				q.ProductRule = i + 1
				break
			}
		}
	}

	validMode := leg.Mode > 0 && leg.Mode < transit.NumModes
	if !leg.Incomplete && validMode {
		fare = p.transfer(leg, r, &q, fare)
	}

	if r.Day != leg.Day || !r.HasDay {
		r.DaySpend = [transit.NumModes]transit.Fen{}
		// Month is a calendar computation; doing it only when the day
		// changes keeps it off the per-leg path.
		if m := leg.Day.Month(); m != r.Month || !r.HasDay {
			r.MonthSpend = [transit.NumModes]transit.Fen{}
			r.Month = m
		}
		r.Day, r.HasDay = leg.Day, true
	}
	if v := p.volume; v != nil && v.modes.has(leg.Mode) {
		if bp := v.rate(spent(&r.MonthSpend, v.modes)); bp != transit.Full {
			after := transit.ApplyRate(fare, bp)
			q.CapDiscount += fare - after
			fare = after
			q.Rules |= transit.RuleVolume
		}
	}
	if d := p.daily; d != nil && d.modes.has(leg.Mode) {
		left := max(d.cap-spent(&r.DaySpend, d.modes), 0)
		if fare > left {
			q.CapDiscount += fare - left
			fare = left
			q.Rules |= transit.RuleDailyCap
		}
	}

	q.Charged = fare
	if validMode {
		r.DaySpend[leg.Mode] += fare
		r.MonthSpend[leg.Mode] += fare
	}
	return q
}

// transfer applies step 3 of Price and returns the fare left.
func (p *Policy) transfer(leg *Leg, r *Rider, q *Quote, fare transit.Fen) transit.Fen {
	elapsed := leg.Start - r.ChainStart
	if r.LastMode == 0 || r.ChainFrom != p.EffectiveFrom || elapsed > p.maxWindow {
		startChain(leg, r, p.EffectiveFrom)
		q.Chain = ChainStarted
		return fare
	}
	q.Chain = ChainContinued
	for i := range p.transfers {
		t := &p.transfers[i]
		if elapsed < t.minNS || elapsed > t.maxNS ||
			!t.from.has(r.LastMode) || !t.to.has(leg.Mode) || !t.products.has(leg.Product) ||
			(t.modeChange && r.LastMode == leg.Mode) || fare == 0 || t.spent(r) {
			continue
		}
		d := min(t.upTo, fare)
		q.TransferDiscount = d
		fare -= d
		r.Uses[i]++
		q.Rules |= transit.RuleTransfer
		q.TransferRule = uint8(i + 1)
		r.LastMode = leg.Mode
		return fare
	}
	if p.restarts && p.chainSpent(r) {
		// The chain's allowance is spent and this leg pays for itself:
		// its tap is the first of a new chain, whose windows run from it.
		startChain(leg, r, p.EffectiveFrom)
		q.Chain = ChainRestarted
		return fare
	}
	r.LastMode = leg.Mode
	return fare
}

// startChain makes leg the first of a new chain of r, priced by the
// version effective from v.
func startChain(leg *Leg, r *Rider, v transit.Day) {
	r.ChainStart, r.ChainFrom, r.LastMode = leg.Start, v, leg.Mode
	r.Uses = [MaxTransferRules]uint8{}
}

// spent sums the spend of the modes in s.
func spent(by *[transit.NumModes]transit.Fen, s modeSet) transit.Fen {
	var t transit.Fen
	for m := transit.Mode(1); m < transit.NumModes; m++ {
		if s.has(m) {
			t += by[m]
		}
	}
	return t
}
