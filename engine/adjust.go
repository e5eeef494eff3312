package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/internal/varint"
	"github.com/tapsettle/tapsettle/transit"
)

// Adjustments for late taps.
//
// A metro tap that arrives after the journey it belongs to was charged as
// incomplete (its entry never closed, or its exit matched no entry) would
// otherwise be charged on its own: the rider would pay the network's
// maximum fare twice. The engine remembers, per card state, the latest
// incomplete metro charge of the dedup window (settledCharge), and a late
// tap that completes that journey books adjustments in its own (open) day
// instead: a reversal of the incomplete charge (transit.StatusAdjustment,
// its amounts negated, naming the charge's settlement day in RefDay) and
// the journey's true charge:
//
//   - a late exit of an entry charged incomplete is charged the journey's
//     fare on its own row (the fare sits on the exit, as always);
//   - a late entry of an exit charged incomplete is the paired entry
//     (charged 0), and the journey's fare is an adjustment on the exit.
//
// The tap completes the journey when it is of the same card and city, on
// the right side of the charge in time, within the time-in-system limit of
// it (the carry window: the policy's limit, else DefaultCarryWindow), and
// no other metro tap of the card falls between them. Taps in event-time
// order never meet these conditions (an entry closed before its exit came
// was closed for being older than the limit, or by another entry), so a
// batch run over in-order input books no adjustment; only late taps do.
//
// Transfers, caps and volume discounts are not re-priced: the late tap is
// priced against the rider's accumulators as they are when it arrives, and
// the reversed charge stays in them (docs/across-days.md says why).

// settledCharge is an incomplete metro charge remembered for a late tap to
// complete: the row as charged, its Day being the day it was settled in.
type settledCharge struct {
	row transit.Priced
	// next is the time of the earliest metro tap of the card priced after
	// the charge's tap (math.MaxInt64: none): a late exit must come
	// before it, or another journey lies between.
	next int64
}

// remember keeps row, an incomplete metro charge just appended for state
// si, replacing what the state remembered; next is the time of a metro
// tap of the card priced already after it (the entry that closed it), or
// math.MaxInt64.
func (pr *pricer) remember(si int32, row *transit.Priced, next int64) {
	if !pr.lateTaps {
		return // nothing can complete it: a batch run's every tap is priced in order
	}
	if pr.settled == nil {
		pr.settled = make(map[int32]settledCharge)
	}
	c := settledCharge{row: *row, next: next}
	c.row.Day = pr.settledDay(c.row.Day) // as flushOut will settle it
	pr.settled[si] = c
	st := pr.cards.at(si)
	st.settled = true
	pr.markDirty(st, si)
}

func (pr *pricer) forget(si int32) {
	delete(pr.settled, si)
	st := pr.cards.at(si)
	st.settled = false
	pr.markDirty(st, si)
}

// carryWindow is the time-in-system limit of pol, else DefaultCarryWindow.
func carryWindow(pol *fares.Policy) int64 {
	if pol != nil && pol.MaxInSystem > 0 {
		return pol.MaxInSystem
	}
	return int64(DefaultCarryWindow)
}

// adjustLate books the adjustments of metro tap t (at station at in net)
// when it completes the journey of the charge state si remembers, and
// reports whether it did; otherwise it notes t as a metro tap after the
// charge.
func (pr *pricer) adjustLate(t *transit.Tap, day transit.Day, pol *fares.Policy, st *cardState, si int32, at int32, flags transit.Rules) bool {
	c, ok := pr.settled[si]
	if !ok {
		st.settled = false
		return false
	}
	o := &c.row
	limit := carryWindow(pol)
	net := pol.Metro
	switch {
	case t.Action == transit.ActionExit && o.Action == transit.ActionEntry &&
		(st.journey == 0 || pr.journeys[st.journey-1].entry.Time > t.Time) &&
		o.Time < t.Time && t.Time < c.next && t.Time-o.Time <= limit:
		// An open journey entered after this exit is another journey:
		// it stays open.
		entry, ok := net.Station(o.Stop)
		if !ok {
			break
		}
		pr.reverse(o, day, flags)
		leg := pr.journeyLeg(pol, &o.Tap, t, entry, at, day, flags)
		q := pol.Price(&leg, &st.rider)
		p := pr.appendRow(t, day, transit.StatusCharged)
		setQuote(p, &q)
		p.EntryStop, p.EntryTime = o.Stop, o.Time
		pr.forget(si)
		return true
	case t.Action == transit.ActionEntry && o.Action == transit.ActionExit &&
		t.Time < o.Time && o.Time-t.Time <= limit:
		exit, ok := net.Station(o.Stop)
		if !ok {
			break
		}
		// An open journey entered after the exit: it stays open.
		pr.reverse(o, day, flags)
		leg := pr.journeyLeg(pol, t, &o.Tap, at, exit, day, flags)
		q := pol.Price(&leg, &st.rider)
		a := pr.appendRow(&o.Tap, day, transit.StatusAdjustment)
		setQuote(a, &q)
		a.RefDay, a.Rules = o.Day, a.Rules|flags&transit.RuleLate
		a.EntryStop, a.EntryTime = t.Stop, t.Time
		ep := pr.appendRow(t, day, transit.StatusCharged)
		ep.Rules = transit.RuleMetroEntry | flags
		pr.forget(si)
		return true
	}
	if t.Time > o.Time && t.Time < c.next {
		c.next = t.Time
		pr.settled[si] = c
		pr.markDirty(st, si)
	}
	return false
}

// journeyLeg is the leg of a metro journey from entry tap in (station a)
// to exit tap out (station b), priced on day: its distance fare, or over
// the time-in-system limit the version's overtime charge.
func (pr *pricer) journeyLeg(pol *fares.Policy, in, out *transit.Tap, a, b int32, day transit.Day, flags transit.Rules) fares.Leg {
	gross, rules := pol.MetroFare(a, b, out.Time-in.Time)
	rules |= flags
	if pol.Metro.Synthetic {
		rules |= transit.RuleSynthetic
	}
	if pol.Default {
		rules |= transit.RuleDefaultPolicy
	}
	return fares.Leg{Mode: transit.ModeMetro, Product: in.Product, Issuer: in.Issuer, Start: in.Time, Day: day, Gross: gross, Rules: rules}
}

// reverse books on day the reversal of charge o: an adjustment of o's tap
// with every amount negated, naming o's settlement day.
func (pr *pricer) reverse(o *transit.Priced, day transit.Day, flags transit.Rules) {
	a := pr.appendRow(&o.Tap, day, transit.StatusAdjustment)
	a.RefDay = o.Day
	a.Rules = o.Rules | flags&transit.RuleLate
	a.Gross, a.Discount, a.Charged = -o.Gross, -o.Discount, -o.Charged
	a.ProductDiscount, a.TransferDiscount, a.CapDiscount = -o.ProductDiscount, -o.TransferDiscount, -o.CapDiscount
	a.EntryStop, a.EntryTime = o.EntryStop, o.EntryTime
}

// expireSettled forgets the charges settled before oldest: a tap that late
// is past the dedup window too.
func (pr *pricer) expireSettled() {
	for si, c := range pr.settled {
		if c.row.Day < pr.oldest {
			pr.forget(si)
		}
	}
}

// appendSettled appends the charge state si remembers, for a checkpoint or
// the carried state: its day and next (varints), its tap (compact), rules
// (uvarint), status, and its amounts (varints: gross, the product, transfer
// and cap discounts, and charged, which a reader checks against the
// others).
func (pr *pricer) appendSettled(b []byte, si int32) []byte {
	c := pr.settled[si]
	o := &c.row
	b = binary.AppendVarint(b, int64(o.Day))
	b = binary.AppendVarint(b, c.next)
	b = o.Tap.AppendCompact(b)
	b = binary.AppendUvarint(b, uint64(o.Rules))
	b = append(b, byte(o.Status))
	for _, v := range [...]transit.Fen{o.Gross, o.ProductDiscount, o.TransferDiscount, o.CapDiscount, o.Charged} {
		b = binary.AppendVarint(b, int64(v))
	}
	return b
}

// readSettled reads a charge written by appendSettled into state si and
// returns the rest of b.
func (pr *pricer) readSettled(b []byte, si int32) ([]byte, error) {
	var c settledCharge
	o := &c.row
	d, b, err := varint.Int32(b)
	if err != nil {
		return nil, fmt.Errorf("settled charge's day: %w", err)
	}
	if c.next, b, err = varint.Varint(b); err != nil {
		return nil, fmt.Errorf("settled charge's next: %w", err)
	}
	if b, err = o.Tap.DecodeCompact(b); err != nil {
		return nil, fmt.Errorf("settled charge's tap: %w", err)
	}
	rules, b, err := varint.Uvarint(b)
	if err != nil || rules > math.MaxUint32 || transit.Rules(rules)&^transit.KnownRules != 0 {
		return nil, errors.New("settled charge's rules")
	}
	if len(b) == 0 || transit.Status(b[0]) != transit.StatusIncomplete || o.Mode != transit.ModeMetro {
		return nil, errors.New("settled charge is not an incomplete metro charge")
	}
	o.Day, o.Rules, o.Status = transit.Day(d), transit.Rules(rules), transit.StatusIncomplete
	b = b[1:]
	var v [5]int64
	for i := range v {
		if v[i], b, err = varint.Varint(b); err != nil {
			return nil, fmt.Errorf("settled charge's amounts: %w", err)
		}
	}
	o.Gross, o.ProductDiscount, o.TransferDiscount, o.CapDiscount, o.Charged = transit.Fen(v[0]), transit.Fen(v[1]), transit.Fen(v[2]), transit.Fen(v[3]), transit.Fen(v[4])
	o.Discount = o.ProductDiscount + o.TransferDiscount + o.CapDiscount
	if o.Charged != o.Gross-o.Discount || o.Gross < 0 || o.Charged < 0 || o.Discount < 0 {
		return nil, errors.New("settled charge's amounts do not add up")
	}
	if pr.settled == nil {
		pr.settled = make(map[int32]settledCharge)
	}
	pr.settled[si] = c
	pr.cards.at(si).settled = true
	return b, nil
}
