package fares

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tapsettle/tapsettle/transit"
)

// Describe writes the compiled rules of the version for people (the output
// of `tapsettle policy show CITY`): every fare, window, cap and rate as the
// engine applies it, each with its source label.
func (p *Policy) Describe(w io.Writer) error {
	bw := bufio.NewWriter(w)
	pf := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	city := p.City.String()
	if p.Default && p.City == 0 {
		city = "default template"
	}
	pf("city %s, version %q, effective from %s\n", city, p.Version, p.EffectiveFrom)
	if p.Default {
		pf("  documented default, not data about the city\n")
	}
	pf("  source: %s\n", p.Source)
	pf("  file: %s\n", p.File)

	pf("bus\n")
	pf("  flat fare %s  [%s]\n", yuan(p.bus.flat), p.bus.source)
	for _, l := range p.bus.order {
		pf("  line %s: %s", l.line, yuan(l.fare))
		if l.source != "" {
			pf("  [%s]", l.source)
		}
		pf("\n")
	}

	switch {
	case p.Metro != nil:
		describeMetro(bw, p.Metro, p.MaxInSystem, &p.overtime)
	case p.tmpl != nil:
		pf("metro (for each city in data/metro_cities.csv, on a generated network)\n")
		pf("  ladder: %s  [%s]\n", p.tmpl.ladder.describe(), p.tmpl.source)
		describeLimit(bw, p.tmpl.maxInSystem, &p.tmpl.overtime)
	default:
		pf("metro: none\n")
	}

	if len(p.transfers) == 0 {
		pf("transfers: none\n")
	} else {
		pf("transfers (first matching rule applies; windows from the chain's first tap, inclusive)\n")
	}
	for _, t := range p.transfers {
		pf("  %s  [%s]\n", p.describeTransfer(&t), t.source)
	}
	for _, a := range p.allowances {
		pf("  allowance %s  [%s]\n", p.describeAllowance(&a), a.source)
	}

	if p.daily == nil && p.volume == nil {
		pf("caps: none\n")
	} else {
		pf("caps\n")
	}
	if v := p.volume; v != nil {
		pf("  monthly volume on %s, by spend in the calendar month before the ride  [%s]\n", v.modes, v.source)
		for _, t := range v.tiers {
			pf("    from %s: pay %s\n", yuan(t.after), percent(t.pay))
		}
	}
	if d := p.daily; d != nil {
		pf("  daily cap %s on %s per settlement day  [%s]\n", yuan(d.cap), d.modes, d.source)
	}

	if len(p.products) == 0 {
		pf("products: none\n")
	} else {
		pf("products (first matching enabled rule applies)\n")
	}
	for _, r := range p.products {
		issuers := "any issuer"
		if r.issuers != nil {
			codes := make([]string, len(r.issuers))
			for i, c := range r.issuers {
				codes[i] = c.String()
			}
			issuers = "issued in " + strings.Join(codes, ", ")
		}
		state := ""
		if !r.enabled {
			state = "DISABLED "
		}
		var rates []string
		for m := transit.Mode(1); m < transit.NumModes; m++ {
			if r.has.has(m) {
				rates = append(rates, fmt.Sprintf("%s pays %s", m, percent(r.pay[m])))
			}
		}
		when := ""
		if r.timeframe != nil {
			when = " in timeframe " + r.timeframe.name
		}
		pf("  %s%s: %s %s: %s%s  [%s]\n", state, r.name, r.product, issuers, strings.Join(rates, ", "), when, r.source)
	}
	if len(p.timeframes) != 0 {
		pf("timeframes (local time, UTC+8; start included, end excluded; a metro journey counts at its entry)\n")
	}
	for _, tf := range p.timeframes {
		pf("  %s: %s  [%s]\n", tf.name, tf.describe(), tf.source)
	}
	for _, c := range p.calendars {
		pf("  calendar %s: %s  [%s]\n", c.name, c.describe(), c.source)
	}
	return bw.Flush()
}

// describeTransfer renders a transfer rule.
func (p *Policy) describeTransfer(t *transferRule) string {
	change := ""
	if t.modeChange {
		change = " (mode must change)"
	}
	uses := fmt.Sprintf("%d %s per chain", t.maxUses, plural(int(t.maxUses), "use", "uses"))
	if t.allowance >= 0 {
		uses = "uses allowance " + p.allowances[t.allowance].name
	}
	return fmt.Sprintf("%s: %s -> %s%s, %d..%d min, up to %s off, %s, %s",
		t.name, t.from, t.to, change, t.minMinutes, t.maxMinutes, yuan(t.upTo), uses, t.products)
}

// describeAllowance renders a transfer allowance.
func (p *Policy) describeAllowance(a *allowance) string {
	var rules []string
	for i := range p.transfers {
		if a.rules&(1<<i) != 0 {
			rules = append(rules, p.transfers[i].name)
		}
	}
	s := fmt.Sprintf("%s: %d discounted %s per chain, shared by %s, within %d min of the chain's first tap (board or entry)",
		a.name, a.count, plural(int(a.count), "transfer", "transfers"), strings.Join(rules, ", "), a.durationMin)
	if a.restarts {
		s += "; once spent, the next leg without a transfer discount starts a new chain"
	}
	return s
}

// describe renders a timeframe's spans and days.
func (tf *timeframe) describe() string {
	spans := make([]string, len(tf.spans))
	for i, s := range tf.spans {
		spans[i] = clock(s.start) + "-" + clock(s.end)
	}
	days := "every day"
	if tf.cal != nil {
		days = "days of calendar " + tf.cal.name
	}
	return strings.Join(spans, ", ") + " on " + days
}

// describe renders a calendar's weekdays and exceptions.
func (c *calendar) describe() string {
	var days []string
	for wd := 1; wd <= 7; wd++ { // Monday first
		if c.weekdays&(1<<(wd%7)) != 0 {
			days = append(days, weekdayNames[wd%7])
		}
	}
	s := strings.Join(days, " ")
	if s == "" {
		s = "no weekday"
	}
	if len(c.removed) != 0 {
		s += fmt.Sprintf("; less %d %s (%s)", len(c.removed), plural(len(c.removed), "date", "dates"), strings.Join(c.removedText, " "))
	}
	if len(c.added) != 0 {
		s += fmt.Sprintf("; plus %d %s (%s)", len(c.added), plural(len(c.added), "date", "dates"), strings.Join(c.addedText, " "))
	}
	if lo, hi := c.span(); lo <= hi {
		s += fmt.Sprintf("; dates listed from %s to %s only: outside them, the weekdays alone", transit.Day(lo), transit.Day(hi))
	}
	return s
}

// span returns the first and last dates the calendar lists (lo > hi when
// it lists none).
func (c *calendar) span() (lo, hi int32) {
	lo, hi = math.MaxInt32, math.MinInt32
	for _, l := range [][]int32{c.removed, c.added} {
		if len(l) != 0 {
			lo, hi = min(lo, l[0]), max(hi, l[len(l)-1])
		}
	}
	return lo, hi
}

// describeOvertime renders the overtime charge and its label.
func describeOvertime(o *overtime) string {
	if o.surcharge > 0 {
		return fmt.Sprintf("a longer journey pays its distance fare plus %s  [%s]", yuan(o.surcharge), o.source)
	}
	src := o.source
	if src == "" {
		src = defaultOvertimeSource
	}
	return fmt.Sprintf("a longer journey pays the highest single fare from its exit station  [%s]", src)
}

func describeMetro(w io.Writer, n *Network, maxInSystem int64, o *overtime) {
	fmt.Fprintf(w, "metro\n")
	fmt.Fprintf(w, "  ladder: %s  [%s]\n", n.ladder.describe(), n.ladder.source)
	kind := "explicit"
	if n.Synthetic {
		kind = fmt.Sprintf("synthetic (seed %d)", n.seed)
	}
	fmt.Fprintf(w, "  network: %s, %d lines, %d stations, shortest-path fares up to %s  [%s]\n",
		kind, len(n.lines), n.n, yuan(n.maxFare), n.source)
	for _, l := range n.lines {
		var m int64
		for _, d := range l.Distances {
			m += int64(d)
		}
		fmt.Fprintf(w, "    %s: %d stations, %s\n", l.Code, len(l.Stations), km(m))
	}
	describeLimit(w, maxInSystem, o)
}

func describeLimit(w io.Writer, maxInSystem int64, o *overtime) {
	if maxInSystem == 0 {
		fmt.Fprintf(w, "  time in system: no limit\n")
		return
	}
	fmt.Fprintf(w, "  time in system: %d min; %s\n", maxInSystem/60e9, describeOvertime(o))
}

// describe renders the ladder as the sources phrase it.
func (l *ladder) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s up to %s", yuan(l.base), km(int64(l.baseUpTo)))
	for _, s := range l.steps {
		fmt.Fprintf(&b, "; +%s per %s", yuan(s.add), km(int64(s.per)))
		if s.upTo != 0 {
			fmt.Fprintf(&b, " up to %s", km(int64(s.upTo)))
		} else {
			b.WriteString(" beyond")
		}
	}
	return b.String()
}

func (s modeSet) String() string {
	var names []string
	for m := transit.Mode(1); m < transit.NumModes; m++ {
		if s.has(m) {
			names = append(names, m.String())
		}
	}
	return strings.Join(names, "|")
}

func (s productSet) String() string {
	if s == allProducts {
		return "every product"
	}
	var names []string
	for p := transit.Product(1); p < transit.NumProducts; p++ {
		if s.has(p) {
			names = append(names, p.String())
		}
	}
	return "products " + strings.Join(names, ", ")
}

func yuan(f transit.Fen) string { return f.String() + " CNY" }

// km renders metres as kilometres to 0.1 km, without a trailing ".0"
// ("4 km", "37.6 km").
func km(m int64) string {
	return strings.TrimSuffix(strconv.FormatFloat(float64(m)/1000, 'f', 1, 64), ".0") + " km"
}

// percent renders a rate in basis points as a percentage ("95%", "95.25%").
func percent(bp transit.BasisPoints) string {
	s := strconv.Itoa(int(bp) / 100)
	if frac := int(bp) % 100; frac != 0 {
		s += fmt.Sprintf(".%02d", frac)
		s = strings.TrimRight(s, "0")
	}
	return s + "%"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Explain returns, one line each, the rules of the version that priced
// leg into q, for people (`tapsettle quote`): the local time the leg
// counts at and the timeframes in effect then, when the version has any;
// the product rule; what the leg did to its transfer chain and the
// transfer rule; and the overtime charge. Each rule comes with its source
// label.
func (p *Policy) Explain(leg *Leg, q *Quote) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(p.timeframes) != 0 {
		at := "board"
		if leg.Mode == transit.ModeMetro {
			at = "entry"
		}
		add("time: %s (UTC+8, the %s)", LocalTime(leg.Start), at)
		day, _ := localDay(leg.Start)
		for _, tf := range p.timeframes {
			in := "not in effect"
			if tf.holds(leg.Start) {
				in = "in effect"
			}
			note := ""
			if tf.cal != nil {
				on := "not on"
				if tf.cal.on(day) {
					on = "on"
				}
				note = fmt.Sprintf(" (the day is %s calendar %s)", on, tf.cal.name)
			}
			add("timeframe %s, %s: %s%s  [%s]", tf.name, tf.describe(), in, note, tf.source)
		}
	}
	if i := int(q.ProductRule) - 1; i >= 0 && i < len(p.products) {
		r := &p.products[i]
		when := ""
		if r.timeframe != nil {
			when = " in timeframe " + r.timeframe.name
		}
		add("product %s: %s pays %s on the %s%s  [%s]", r.name, r.product, percent(r.pay[leg.Mode]), leg.Mode, when, r.source)
	}
	switch q.Chain {
	case ChainStarted:
		add("transfer chain: this leg starts a new one")
	case ChainContinued:
		add("transfer chain: this leg continues the card's chain")
	case ChainRestarted:
		var spent []string
		for _, a := range p.allowances {
			if a.restarts {
				spent = append(spent, a.name)
			}
		}
		add("transfer chain: the chain had spent allowance %s, so this leg, with no transfer discount, starts a new one", strings.Join(spent, ", "))
	}
	if i := int(q.TransferRule) - 1; i >= 0 && i < len(p.transfers) {
		t := &p.transfers[i]
		add("transfer %s  [%s]", p.describeTransfer(t), t.source)
		if t.allowance >= 0 {
			a := &p.allowances[t.allowance]
			add("allowance %s  [%s]", p.describeAllowance(a), a.source)
		}
	}
	if q.Rules&transit.RuleOvertime != 0 {
		add("overtime: over %d min in the system; %s", p.MaxInSystem/60e9, describeOvertime(&p.overtime))
	}
	return out
}
