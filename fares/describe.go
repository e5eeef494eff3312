package fares

import (
	"bufio"
	"fmt"
	"io"
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
		describeMetro(bw, p.Metro, p.MaxInSystem)
	case p.tmpl != nil:
		pf("metro (for each city in data/metro_cities.csv, on a generated network)\n")
		pf("  ladder: %s  [%s]\n", p.tmpl.ladder.describe(), p.tmpl.source)
		describeLimit(bw, p.tmpl.maxInSystem)
	default:
		pf("metro: none\n")
	}

	if len(p.transfers) == 0 {
		pf("transfers: none\n")
	} else {
		pf("transfers (first matching rule applies; windows from the chain's first tap, inclusive)\n")
	}
	for _, t := range p.transfers {
		change := ""
		if t.modeChange {
			change = " (mode must change)"
		}
		pf("  %s: %s -> %s%s, %d..%d min, up to %s off, %d %s per chain, %s  [%s]\n",
			t.name, t.from, t.to, change, t.minMinutes, t.maxMinutes, yuan(t.upTo),
			t.maxUses, plural(int(t.maxUses), "use", "uses"), t.products, t.source)
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
		pf("  %s%s: %s %s: %s  [%s]\n", state, r.name, r.product, issuers, strings.Join(rates, ", "), r.source)
	}
	return bw.Flush()
}

func describeMetro(w io.Writer, n *Network, maxInSystem int64) {
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
	describeLimit(w, maxInSystem)
}

func describeLimit(w io.Writer, maxInSystem int64) {
	if maxInSystem == 0 {
		fmt.Fprintf(w, "  time in system: no limit\n")
		return
	}
	fmt.Fprintf(w, "  time in system: %d min; a longer journey pays the highest single fare from its exit station\n",
		maxInSystem/60e9)
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
