package fares

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// templateCity is the "city" of policies/default.yaml: the template whose
// versions apply to every participant without a policy file of its own.
const templateCity = "default"

// Ranges of policy values. They are generous sanity bounds that catch a
// misplaced digit (a fare in yuan where fen belong gives 2, not 200, and
// passes; a fare of 2000000 does not), not statements about real fares.
const (
	maxFareFen     = 100_000    // 1000 CNY for one ride
	maxLadderKm    = 1_000      // ladder boundaries
	maxStepFen     = 10_000     // one ladder step
	maxWindowMin   = 24 * 60    // transfer windows and time in system
	maxSpendFen    = 10_000_000 // volume thresholds: 100000 CNY a month
	maxVersionName = 64
)

// compiledFile is one policy file after checking.
type compiledFile struct {
	name     string
	city     transit.City // 0 for the template
	template bool
	line     int // of the "city" key
	versions []*Policy
}

// compiler turns one decoded file into policies, reporting every problem
// against the file's key paths.
type compiler struct {
	f     *yamlFile
	known func(transit.City) bool
}

// compileFile decodes and checks one policy file. Networks are not built
// here (see Network.build): building is the expensive part and runs in
// parallel over all files afterwards. The result is nil if the file has
// problems; they are in probs.
func compileFile(name string, data []byte, known func(transit.City) bool, probs *problems) *compiledFile {
	before := len(probs.errs)
	var doc fileDoc
	c := &compiler{f: decodeYAML(name, data, &doc, probs), known: known}
	if len(probs.errs) > before {
		// Semantic checks on a half-decoded file would only repeat the
		// decoder's complaints in other words.
		return nil
	}
	out := c.file(&doc)
	if len(probs.errs) > before {
		return nil
	}
	return out
}

func (c *compiler) fail(p string, sentinel error, format string, args ...any) {
	c.f.failAt(p, sentinel, format, args...)
}

func (c *compiler) file(doc *fileDoc) *compiledFile {
	out := &compiledFile{name: c.f.name, line: c.f.line("city")}
	switch {
	case doc.City == "":
		c.fail("city", ErrMissing, "want a six-digit city code or %q", templateCity)
	case doc.City == templateCity:
		out.template = true
	default:
		city, err := transit.ParseCity([]byte(doc.City))
		switch {
		case err != nil:
			c.fail("city", ErrInvalid, "%q: %v", doc.City, err)
		case !c.known(city):
			c.fail("city", ErrUnknownCity, "%s is not a participant (data/cities.csv)", city)
		default:
			out.city = city
		}
	}
	if len(doc.Versions) == 0 {
		c.fail("versions", ErrMissing, "want at least one version")
	}
	seen := map[transit.Day]int{}
	for i := range doc.Versions {
		vp := "versions[" + strconv.Itoa(i) + "]"
		p := c.version(&doc.Versions[i], vp, out.template)
		if p == nil {
			continue
		}
		if j, dup := seen[p.EffectiveFrom]; dup {
			c.fail(vp+".effective_from", ErrDuplicate, "versions[%d] is effective from the same day", j)
			continue
		}
		seen[p.EffectiveFrom] = i
		p.City = out.city
		p.File = c.f.name
		out.versions = append(out.versions, p)
	}
	return out
}

// label checks a source label: every value in the data says whether it was
// reported (and where) or chosen by us.
func (c *compiler) label(p, s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		c.fail(p, ErrMissing, `want "reported: <source phrase>" or "ours: <why>"`)
	case !strings.HasPrefix(s, "reported") && !strings.HasPrefix(s, "ours"):
		c.fail(p, ErrLabel, "%q", s)
	}
	return s
}

// num checks an optional or required number against [lo, hi].
func (c *compiler) num(p string, v *int64, lo, hi int64, required bool) (int64, bool) {
	if v == nil {
		if required {
			c.fail(p, ErrMissing, "")
		}
		return 0, false
	}
	if *v < lo || *v > hi {
		c.fail(p, ErrRange, "%d, want %d..%d", *v, lo, hi)
		return 0, false
	}
	return *v, true
}

func (c *compiler) fen(p string, v *int64, lo, hi int64) transit.Fen {
	x, _ := c.num(p, v, lo, hi, true)
	return transit.Fen(x)
}

func (c *compiler) modes(p string, names []string) modeSet {
	if len(names) == 0 {
		c.fail(p, ErrMissing, "want a list of modes (bus, metro)")
	}
	var s modeSet
	for i, n := range names {
		m, err := transit.ParseMode([]byte(n))
		if err != nil {
			c.fail(fmt.Sprintf("%s[%d]", p, i), ErrInvalid, "%q: %v", n, err)
			continue
		}
		s |= 1 << m
	}
	return s
}

// products returns the named products, or every product for an empty list.
func (c *compiler) products(p string, names []string) productSet {
	if len(names) == 0 {
		return allProducts
	}
	var s productSet
	for i, n := range names {
		pr, err := transit.ParseProduct([]byte(n))
		if err != nil {
			c.fail(fmt.Sprintf("%s[%d]", p, i), ErrInvalid, "%q: %v", n, err)
			continue
		}
		s |= 1 << pr
	}
	return s
}

func (c *compiler) version(v *versionDoc, vp string, template bool) *Policy {
	p := &Policy{Source: c.label(vp+".source", v.Source), maxWindow: -1}
	// A version without a valid date is still checked to the end, so that
	// one run reports all of its problems; it is dropped afterwards.
	dated := false
	if v.EffectiveFrom == "" {
		c.fail(vp+".effective_from", ErrMissing, "want YYYY-MM-DD")
	} else if day, err := transit.ParseDay(v.EffectiveFrom); err != nil {
		c.fail(vp+".effective_from", ErrInvalid, "%v", err)
	} else {
		p.EffectiveFrom, dated = day, true
	}
	p.Version = v.Version
	if p.Version == "" {
		p.Version = v.EffectiveFrom
	}
	if len(p.Version) > maxVersionName {
		c.fail(vp+".version", ErrRange, "at most %d bytes", maxVersionName)
	}
	if template {
		p.Default = true
		p.rules = transit.RuleDefaultPolicy
	}
	if v.Bus == nil {
		c.fail(vp+".bus", ErrMissing, "every city runs buses")
	} else {
		p.bus = c.bus(v.Bus, vp+".bus")
	}
	if v.Metro != nil {
		c.metro(v.Metro, vp+".metro", p, template)
	}
	if len(v.Transfers) > MaxTransferRules {
		c.fail(vp+".transfers", ErrRange, "%d rules, at most %d", len(v.Transfers), MaxTransferRules)
	}
	allowances := c.allowances(v.Allowances, vp+".transfer_allowances", p)
	names := map[string]bool{}
	for i := range v.Transfers {
		tp := fmt.Sprintf("%s.transfers[%d]", vp, i)
		t := c.transfer(&v.Transfers[i], tp, allowances)
		if names[t.name] {
			c.fail(tp+".name", ErrDuplicate, "%q", t.name)
		}
		names[t.name] = true
		if t.allowance >= 0 && i < MaxTransferRules {
			a := &p.allowances[t.allowance]
			a.rules |= 1 << i
			if t.maxNS > a.durationNS {
				c.fail(tp+".window_minutes", ErrRange, "ends at %d min, after the %d min of allowance %q", t.maxMinutes, a.durationMin, a.name)
			}
		}
		p.transfers = append(p.transfers, t)
		p.maxWindow = max(p.maxWindow, t.maxNS)
	}
	for i := range p.transfers {
		t := &p.transfers[i]
		if t.allowance >= 0 {
			t.shared, t.limit = p.allowances[t.allowance].rules, p.allowances[t.allowance].count
		} else if i < MaxTransferRules {
			t.shared, t.limit = 1<<i, t.maxUses
		}
	}
	for i, a := range p.allowances {
		if a.rules == 0 {
			c.fail(fmt.Sprintf("%s.transfer_allowances[%d]", vp, i), ErrInvalid, "allowance %q: no transfer rule draws on it", a.name)
		}
		p.maxWindow = max(p.maxWindow, a.durationNS)
		p.restarts = p.restarts || a.restarts
	}
	if v.Caps != nil {
		c.caps(v.Caps, vp+".caps", p)
	}
	timeframes := c.timeframes(v, vp, p)
	clear(names)
	for i := range v.Products {
		pp := fmt.Sprintf("%s.products[%d]", vp, i)
		r := c.product(&v.Products[i], pp, timeframes)
		if names[r.name] {
			c.fail(pp+".name", ErrDuplicate, "%q", r.name)
		}
		names[r.name] = true
		if r.enabled && len(p.products) <= math.MaxUint8 && r.product < transit.NumProducts {
			p.byProduct[r.product] = append(p.byProduct[r.product], uint8(len(p.products)))
		}
		p.products = append(p.products, r)
	}
	if !dated {
		return nil
	}
	return p
}

func (c *compiler) bus(b *busDoc, bp string) busFares {
	out := busFares{flat: c.fen(bp+".fare", b.Fare, 1, maxFareFen), source: c.label(bp+".source", b.Source)}
	for i, l := range b.Lines {
		lp := fmt.Sprintf("%s.lines[%d]", bp, i)
		var code transit.Code
		if err := code.Set([]byte(l.Line)); err != nil || l.Line == "" {
			c.fail(lp+".line", ErrInvalid, "%q: want a line code of 1..%d bytes", l.Line, transit.MaxCode)
			continue
		}
		if out.lines == nil {
			out.lines = map[transit.Code]transit.Fen{}
		}
		if _, dup := out.lines[code]; dup {
			c.fail(lp+".line", ErrDuplicate, "%q", l.Line)
			continue
		}
		bl := busLine{line: code, fare: c.fen(lp+".fare", l.Fare, 1, maxFareFen), source: l.Source}
		if l.Source != "" {
			c.label(lp+".source", l.Source)
		}
		out.lines[code] = bl.fare
		out.order = append(out.order, bl)
	}
	return out
}

func (c *compiler) metro(m *metroDoc, mp string, p *Policy, template bool) {
	source := c.label(mp+".source", m.Source)
	var l ladder
	if m.Ladder == nil {
		c.fail(mp+".ladder", ErrMissing, "")
	} else {
		l = c.ladder(m.Ladder, mp+".ladder", source)
	}
	mins, _ := c.num(mp+".max_in_system_min", m.MaxInSystemMin, 0, maxWindowMin, false)
	maxInSystem := mins * int64(time.Minute)
	ot := c.overtime(m.Overtime, mp+".overtime", maxInSystem)
	if template {
		if m.Network != nil {
			c.fail(mp+".network", ErrInvalid, "the default template generates a synthetic network for each city in data/metro_cities.csv; give none")
		}
		p.tmpl = &metroTemplate{ladder: l, maxInSystem: maxInSystem, overtime: ot, source: source}
		return
	}
	p.MaxInSystem = maxInSystem
	p.overtime = ot
	if m.Network == nil {
		c.fail(mp+".network", ErrMissing, "want synthetic or lines")
		return
	}
	p.Metro = c.network(m.Network, mp+".network", l)
}

func (c *compiler) ladder(d *ladderDoc, lp string, source string) ladder {
	l := ladder{source: source}
	if d.Base == nil {
		c.fail(lp+".base", ErrMissing, "want {fare, up_to_km}")
		return l
	}
	l.base = c.fen(lp+".base.fare", d.Base.Fare, 1, maxFareFen)
	km, _ := c.num(lp+".base.up_to_km", d.Base.UpToKm, 1, maxLadderKm, true)
	l.baseUpTo = int32(km * 1000)
	prev := km
	for i, s := range d.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", lp, i)
		step := ladderStep{add: 100} // "+1 CNY per S km", the shape of every published ladder
		if s.Add != nil {
			step.add = c.fen(sp+".add", s.Add, 1, maxStepFen)
		}
		per, _ := c.num(sp+".per_km", s.PerKm, 1, maxLadderKm, true)
		step.per = int32(per * 1000)
		last := i == len(d.Steps)-1
		switch {
		case last && s.UpToKm != nil:
			c.fail(sp+".up_to_km", ErrInvalid, "the last step is open-ended; remove up_to_km")
		case !last && s.UpToKm == nil:
			c.fail(sp+".up_to_km", ErrMissing, "every step but the last needs an upper bound")
		case !last:
			if up, ok := c.num(sp+".up_to_km", s.UpToKm, 1, maxLadderKm, true); ok {
				if up <= prev {
					c.fail(sp+".up_to_km", ErrRange, "%d km is not above the previous bound %d km; the ladder must rise", up, prev)
				}
				prev = up
				step.upTo = int32(up * 1000)
			}
		}
		l.steps = append(l.steps, step)
	}
	return l
}

func (c *compiler) network(d *networkDoc, np string, l ladder) *Network {
	n := &Network{source: c.label(np+".source", d.Source), ladder: l, file: c.f.name, line: c.f.line(np), key: np}
	switch {
	case d.Synthetic != nil && d.Lines != nil:
		c.fail(np, ErrInvalid, "give synthetic or lines, not both")
		return nil
	case d.Synthetic != nil:
		sp := np + ".synthetic"
		seed, _ := c.num(sp+".seed", d.Synthetic.Seed, 0, math.MaxInt64, true)
		lines, ok1 := c.num(sp+".lines", d.Synthetic.Lines, MinSyntheticLines, MaxSyntheticLines, true)
		stations := int64(DefaultSyntheticStations)
		ok2 := true
		if d.Synthetic.MaxStations != nil {
			stations, ok2 = c.num(sp+".max_stations", d.Synthetic.MaxStations, minLineStations*MinSyntheticLines, MaxStations, true)
		}
		if !ok1 || !ok2 {
			return nil
		}
		if stations < lines*minLineStations {
			c.fail(sp+".max_stations", ErrRange, "%d stations cannot make %d lines of %d", stations, lines, minLineStations)
			return nil
		}
		g := newSyntheticNetwork(uint64(seed), int(lines), int(stations), l, n.source)
		g.file, g.line, g.key = n.file, n.line, n.key
		return g
	case len(d.Lines) == 0:
		c.fail(np, ErrMissing, "want synthetic or lines")
		return nil
	}
	index := map[transit.Code]int32{}
	lineCodes := map[transit.Code]bool{}
	for i, ld := range d.Lines {
		lp := fmt.Sprintf("%s.lines[%d]", np, i)
		var line Line
		if err := line.Code.Set([]byte(ld.Code)); err != nil || ld.Code == "" {
			c.fail(lp+".code", ErrInvalid, "%q: want a line code of 1..%d bytes", ld.Code, transit.MaxCode)
		} else if lineCodes[line.Code] {
			c.fail(lp+".code", ErrDuplicate, "line %q", ld.Code)
		}
		lineCodes[line.Code] = true
		if len(ld.Stations) < 2 {
			c.fail(lp+".stations", ErrMissing, "a line needs at least two stations")
			continue
		}
		if len(ld.DistancesM) != len(ld.Stations)-1 {
			c.fail(lp+".distances_m", ErrInvalid, "%d distances for %d stations, want %d", len(ld.DistancesM), len(ld.Stations), len(ld.Stations)-1)
			continue
		}
		onLine := map[int32]bool{}
		for j, s := range ld.Stations {
			sp := fmt.Sprintf("%s.stations[%d]", lp, j)
			var code transit.Code
			if err := code.Set([]byte(s)); err != nil || s == "" {
				c.fail(sp, ErrInvalid, "%q: want a station code of 1..%d bytes", s, transit.MaxCode)
				continue
			}
			idx, ok := index[code]
			if !ok {
				idx = int32(len(n.codes))
				index[code] = idx
				n.codes = append(n.codes, code)
			}
			// A station may appear once per line; the one exception is a
			// loop line, which ends where it started.
			loopEnd := j == len(ld.Stations)-1 && j > 2 && line.Stations[0] == idx
			if onLine[idx] && !loopEnd {
				c.fail(sp, ErrDuplicate, "station %q is already on line %q", s, ld.Code)
			}
			onLine[idx] = true
			line.Stations = append(line.Stations, idx)
		}
		for j, m := range ld.DistancesM {
			if m < 1 || m > MaxInterStation {
				c.fail(fmt.Sprintf("%s.distances_m[%d]", lp, j), ErrRange, "%d m, want 1..%d", m, MaxInterStation)
			}
			line.Distances = append(line.Distances, int32(min(max(m, 0), MaxInterStation)))
		}
		n.lines = append(n.lines, line)
	}
	if len(n.codes) > MaxStations {
		c.fail(np+".lines", ErrRange, "%d stations, at most %d", len(n.codes), MaxStations)
	}
	return n
}

// Overtime charges, as written in policy files.
const (
	overtimeHighest   = "highest_fare_from_exit"
	overtimeSurcharge = "surcharge"
)

// overtime checks a metro section's overtime charge; limit is its
// time-in-system limit in ns (0: none).
func (c *compiler) overtime(d *overtimeDoc, op string, limit int64) overtime {
	if d == nil {
		return overtime{}
	}
	out := overtime{source: c.label(op+".source", d.Source)}
	if limit == 0 {
		c.fail(op, ErrInvalid, "an overtime charge needs a time-in-system limit (max_in_system_min)")
	}
	switch d.Charge {
	case overtimeHighest:
		if d.Surcharge != nil {
			c.fail(op+".surcharge", ErrInvalid, "only with charge: %s", overtimeSurcharge)
		}
	case overtimeSurcharge:
		out.surcharge = c.fen(op+".surcharge", d.Surcharge, 1, maxFareFen)
	case "":
		c.fail(op+".charge", ErrMissing, "want %s or %s", overtimeHighest, overtimeSurcharge)
	default:
		c.fail(op+".charge", ErrInvalid, "%q, want %s or %s", d.Charge, overtimeHighest, overtimeSurcharge)
	}
	return out
}

// durationFromFirstDeparture is the one duration_limit_type allowances
// support: GTFS-Fares v2 type 1, from a departure (board or entry) to a
// departure, here the chain's first leg's and this leg's. A bus ride has
// no arrival tap, so the arrival-based types cannot be priced.
const durationFromFirstDeparture = "departure_to_departure"

// allowances checks the transfer allowances of a version into
// p.allowances and returns their indices by name.
func (c *compiler) allowances(docs []allowanceDoc, ap string, p *Policy) map[string]int8 {
	if len(docs) > MaxTransferRules {
		c.fail(ap, ErrRange, "%d allowances, at most %d (one per transfer rule)", len(docs), MaxTransferRules)
		docs = docs[:MaxTransferRules]
	}
	byName := map[string]int8{}
	for i := range docs {
		d := &docs[i]
		p2 := fmt.Sprintf("%s[%d]", ap, i)
		a := allowance{name: d.Name, restarts: d.ChainRestarts, source: c.label(p2+".source", d.Source)}
		if d.Name == "" {
			c.fail(p2+".name", ErrMissing, "")
		} else if _, dup := byName[d.Name]; dup {
			c.fail(p2+".name", ErrDuplicate, "%q", d.Name)
		}
		n, _ := c.num(p2+".transfer_count", d.TransferCount, 1, math.MaxUint8, true)
		a.count = uint8(n)
		a.durationMin, _ = c.num(p2+".duration_limit_min", d.DurationLimitMin, 1, maxWindowMin, true)
		a.durationNS = a.durationMin * int64(time.Minute)
		if d.DurationLimitType != "" && d.DurationLimitType != durationFromFirstDeparture {
			c.fail(p2+".duration_limit_type", ErrInvalid, "%q: only %s (GTFS 1, from the chain's first board or entry to this leg's) is supported: a bus ride has no arrival tap",
				d.DurationLimitType, durationFromFirstDeparture)
		}
		byName[d.Name] = int8(len(p.allowances))
		p.allowances = append(p.allowances, a)
	}
	return byName
}

func (c *compiler) transfer(d *transferDoc, tp string, allowances map[string]int8) transferRule {
	t := transferRule{
		name:       d.Name,
		from:       c.modes(tp+".from", d.From),
		to:         c.modes(tp+".to", d.To),
		modeChange: d.ModeChange,
		allowance:  -1,
		products:   c.products(tp+".products", d.Products),
		source:     c.label(tp+".source", d.Source),
	}
	if d.Name == "" {
		c.fail(tp+".name", ErrMissing, "")
	}
	if len(d.WindowMinutes) != 2 {
		c.fail(tp+".window_minutes", ErrInvalid, "want [min, max] minutes after the chain's first tap")
	} else {
		t.minMinutes, t.maxMinutes = d.WindowMinutes[0], d.WindowMinutes[1]
		switch {
		case t.minMinutes < 0 || t.maxMinutes > maxWindowMin:
			c.fail(tp+".window_minutes", ErrRange, "[%d, %d], want minutes in 0..%d", t.minMinutes, t.maxMinutes, maxWindowMin)
		case t.minMinutes > t.maxMinutes:
			c.fail(tp+".window_minutes", ErrRange, "[%d, %d]: min is after max", t.minMinutes, t.maxMinutes)
		}
		t.minNS = t.minMinutes * int64(time.Minute)
		t.maxNS = t.maxMinutes * int64(time.Minute)
	}
	if d.Allowance != "" {
		if d.MaxUses != nil {
			c.fail(tp+".max_uses", ErrInvalid, "a rule with an allowance takes its count from the allowance's transfer_count")
		}
		if a, ok := allowances[d.Allowance]; ok {
			t.allowance = a
		} else {
			c.fail(tp+".allowance", ErrInvalid, "%q is not in transfer_allowances", d.Allowance)
		}
	} else {
		uses, _ := c.num(tp+".max_uses", d.MaxUses, 1, math.MaxUint8, true)
		t.maxUses = uint8(uses)
	}
	t.upTo = c.fen(tp+".up_to", d.UpTo, 1, maxFareFen)
	return t
}

// timeframes checks the calendars and timeframes of a version into p and
// returns the timeframes by name.
func (c *compiler) timeframes(v *versionDoc, vp string, p *Policy) map[string]*timeframe {
	cals := map[string]*calendar{}
	for i := range v.Calendars {
		cp := fmt.Sprintf("%s.calendars[%d]", vp, i)
		cal := c.calendar(&v.Calendars[i], cp)
		if cal.name == "" {
			c.fail(cp+".name", ErrMissing, "")
		} else if cals[cal.name] != nil {
			c.fail(cp+".name", ErrDuplicate, "%q", cal.name)
		}
		cals[cal.name] = cal
		p.calendars = append(p.calendars, cal)
	}
	tfs := map[string]*timeframe{}
	for i := range v.Timeframes {
		d := &v.Timeframes[i]
		tp := fmt.Sprintf("%s.timeframes[%d]", vp, i)
		tf := &timeframe{name: d.Name, source: c.label(tp+".source", d.Source)}
		if d.Name == "" {
			c.fail(tp+".name", ErrMissing, "")
		} else if tfs[d.Name] != nil {
			c.fail(tp+".name", ErrDuplicate, "%q", d.Name)
		}
		if d.Calendar != "" {
			if tf.cal = cals[d.Calendar]; tf.cal == nil {
				c.fail(tp+".calendar", ErrInvalid, "%q is not in calendars", d.Calendar)
			}
		}
		if len(d.Times) == 0 {
			c.fail(tp+".times", ErrMissing, "want a list of {start, end} local times")
		}
		for j, s := range d.Times {
			sp := fmt.Sprintf("%s.times[%d]", tp, j)
			start, ok1 := c.clock(sp+".start", s.Start, false)
			end, ok2 := c.clock(sp+".end", s.End, true)
			if !ok1 || !ok2 {
				continue
			}
			if start >= end {
				c.fail(sp, ErrRange, "%s..%s: the start is not before the end (a span across midnight is two spans)", s.Start, s.End)
				continue
			}
			tf.spans = append(tf.spans, daySpan{start: start, end: end})
		}
		slices.SortFunc(tf.spans, func(a, b daySpan) int { return cmp.Compare(a.start, b.start) })
		for j := 1; j < len(tf.spans); j++ {
			if tf.spans[j].start < tf.spans[j-1].end {
				c.fail(tp+".times", ErrRange, "spans %s..%s and %s..%s overlap", clock(tf.spans[j-1].start), clock(tf.spans[j-1].end),
					clock(tf.spans[j].start), clock(tf.spans[j].end))
			}
		}
		tfs[d.Name] = tf
		p.timeframes = append(p.timeframes, tf)
	}
	return tfs
}

// clock parses a local time of day, HH:MM or HH:MM:SS, into seconds after
// midnight; 24:00 is allowed as an end.
func (c *compiler) clock(p, s string, end bool) (int32, bool) {
	if s == "" {
		c.fail(p, ErrMissing, "want HH:MM")
		return 0, false
	}
	two := func(i int) int {
		if i+2 > len(s) || s[i] < '0' || s[i] > '9' || s[i+1] < '0' || s[i+1] > '9' {
			return -1
		}
		return int(s[i]-'0')*10 + int(s[i+1]-'0')
	}
	h, m, sec := two(0), two(3), 0
	ok := (len(s) == 5 || len(s) == 8) && s[2] == ':'
	if len(s) == 8 {
		sec = two(6)
		ok = ok && s[5] == ':'
	}
	if !ok || h < 0 || m < 0 || m > 59 || sec < 0 || sec > 59 {
		c.fail(p, ErrInvalid, "%q: want HH:MM or HH:MM:SS", s)
		return 0, false
	}
	v := int32(h*3600 + m*60 + sec)
	if v > 86400 || (v == 86400 && !end) {
		c.fail(p, ErrRange, "%q: want 00:00..24:00 (24:00 only as an end)", s)
		return 0, false
	}
	return v, true
}

// calendar checks a calendar: weekday names, and dates or date ranges.
func (c *compiler) calendar(d *calendarDoc, cp string) *calendar {
	cal := &calendar{name: d.Name, source: c.label(cp+".source", d.Source),
		removedText: d.RemovedDates, addedText: d.AddedDates}
	if len(d.Days) == 0 && len(d.AddedDates) == 0 {
		c.fail(cp+".days", ErrMissing, "want weekdays (mon..sun) or added_dates")
	}
	for i, n := range d.Days {
		wd := slices.Index(weekdayNames[:], n)
		if wd < 0 {
			c.fail(fmt.Sprintf("%s.days[%d]", cp, i), ErrInvalid, "%q, want one of %s", n, strings.Join(weekdayNames[:], ", "))
			continue
		}
		if cal.weekdays&(1<<wd) != 0 {
			c.fail(fmt.Sprintf("%s.days[%d]", cp, i), ErrDuplicate, "%q", n)
		}
		cal.weekdays |= 1 << wd
	}
	cal.removed = c.dates(cp+".removed_dates", d.RemovedDates)
	cal.added = c.dates(cp+".added_dates", d.AddedDates)
	for _, day := range cal.added {
		if _, both := slices.BinarySearch(cal.removed, day); both {
			c.fail(cp+".added_dates", ErrDuplicate, "%s is also in removed_dates", transit.Day(day))
		}
	}
	return cal
}

// maxCalendarDays bounds the days one date range may span, against a
// typo that expands to a century.
const maxCalendarDays = 366

// dates expands dates and inclusive ranges (A/B) into sorted, unique days.
func (c *compiler) dates(p string, list []string) []int32 {
	var out []int32
	for i, s := range list {
		ip := fmt.Sprintf("%s[%d]", p, i)
		a, b, isRange := strings.Cut(s, "/")
		if !isRange {
			b = a
		}
		from, err1 := transit.ParseDay(a)
		to, err2 := transit.ParseDay(b)
		switch {
		case err1 != nil || err2 != nil:
			c.fail(ip, ErrInvalid, "%q: want YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD", s)
			continue
		case to < from || to-from >= maxCalendarDays:
			c.fail(ip, ErrRange, "%q: want a range of 1..%d days, first to last", s, maxCalendarDays)
			continue
		}
		for d := from; d <= to; d++ {
			out = append(out, int32(d))
		}
	}
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			c.fail(p, ErrDuplicate, "%s is listed twice", transit.Day(out[i]))
		}
	}
	return slices.Compact(out)
}

func (c *compiler) caps(d *capsDoc, cp string, p *Policy) {
	if d.Daily != nil {
		dp := cp + ".daily"
		p.daily = &dailyCap{
			cap:    c.fen(dp+".cap", d.Daily.Cap, 1, maxFareFen),
			modes:  c.modes(dp+".modes", d.Daily.Modes),
			source: c.label(dp+".source", d.Daily.Source),
		}
	}
	if d.Volume != nil {
		vp := cp + ".volume"
		v := &volumeDiscount{modes: c.modes(vp+".modes", d.Volume.Modes), source: c.label(vp+".source", d.Volume.Source)}
		if len(d.Volume.Tiers) == 0 {
			c.fail(vp+".tiers", ErrMissing, "want at least one tier")
		}
		for i, td := range d.Volume.Tiers {
			tp := fmt.Sprintf("%s.tiers[%d]", vp, i)
			after, ok := c.num(tp+".after", td.After, 0, maxSpendFen, true)
			if ok && i > 0 && transit.Fen(after) <= v.tiers[len(v.tiers)-1].after {
				c.fail(tp+".after", ErrRange, "%d fen is not above the previous tier's %d", after, v.tiers[len(v.tiers)-1].after)
			}
			pay, _ := c.num(tp+".pay_bp", td.PayBP, 0, int64(transit.Full), true)
			v.tiers = append(v.tiers, volumeTier{after: transit.Fen(after), pay: transit.BasisPoints(pay)})
		}
		p.volume = v
	}
}

func (c *compiler) product(d *productDoc, pp string, timeframes map[string]*timeframe) productRule {
	r := productRule{name: d.Name, enabled: true, source: c.label(pp+".source", d.Source)}
	if d.Name == "" {
		c.fail(pp+".name", ErrMissing, "")
	}
	if d.Timeframe != "" {
		if r.timeframe = timeframes[d.Timeframe]; r.timeframe == nil {
			c.fail(pp+".timeframe", ErrInvalid, "%q is not in timeframes", d.Timeframe)
		}
	}
	pr, err := transit.ParseProduct([]byte(d.Product))
	if err != nil {
		c.fail(pp+".product", ErrInvalid, "%q: %v", d.Product, err)
	}
	r.product = pr
	if d.Enabled != nil {
		r.enabled = *d.Enabled
	}
	seen := map[transit.City]bool{}
	for i, s := range d.Issuers {
		ip := fmt.Sprintf("%s.issuers[%d]", pp, i)
		city, err := transit.ParseCity([]byte(s))
		switch {
		case err != nil:
			c.fail(ip, ErrInvalid, "%q: %v", s, err)
		case !c.known(city):
			c.fail(ip, ErrUnknownCity, "%s is not a participant", city)
		case seen[city]:
			c.fail(ip, ErrDuplicate, "%s", city)
		default:
			seen[city] = true
			r.issuers = append(r.issuers, city)
		}
	}
	if d.PayBP == nil || (d.PayBP.Bus == nil && d.PayBP.Metro == nil) {
		c.fail(pp+".pay_bp", ErrMissing, "want a rate in basis points for bus, metro or both")
		return r
	}
	for _, m := range []struct {
		mode transit.Mode
		v    *int64
	}{{transit.ModeBus, d.PayBP.Bus}, {transit.ModeMetro, d.PayBP.Metro}} {
		if bp, ok := c.num(pp+".pay_bp."+m.mode.String(), m.v, 0, int64(transit.Full), false); ok {
			r.pay[m.mode] = transit.BasisPoints(bp)
			r.has |= 1 << m.mode
		}
	}
	return r
}
