package engine

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// The scenario files of testdata/scenarios are fare tests a fare analyst
// can read and write: taps in, the ledger columns each tap's row must
// show, and for each expectation the published sentence it comes from.
// docs/fare-scenarios.md describes the format; this file runs them.

var update = flag.Bool("update", false,
	"rewrite the expectations of testdata/scenarios/*.txt from what the engine prices (review the diff before committing)")

// scenarioDir holds the scenario files; policyDir the shipped policy files
// whose networks a scenario's test network replaces.
const (
	scenarioDir = "testdata/scenarios"
	policyDir   = "../fares/policies"
)

// The expectation of a tap is the run of ledger columns from
// settlement_day to cap_discount_fen, as settlement.AppendLedgerRow writes
// them; settlement_day may be left out when it is the settlement day of
// the tap's own time.
var (
	ledgerColumns = strings.Split(settlement.LedgerHeader, ",")
	firstColumn   = slices.Index(ledgerColumns, "settlement_day")
	lastColumn    = slices.Index(ledgerColumns, "cap_discount_fen")
)

// TestScenarios runs every scenario file: it prices the file's taps
// through an engine (unbounded window, so input order does not matter)
// over the shipped policies, with the file's test networks in place of
// the generated ones, and compares each tap's ledger row with the
// expectation written on the tap's line. With -update it rewrites the
// expectations from the rows instead of failing.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.txt"))
	must(t, err)
	if len(files) == 0 {
		t.Fatalf("no scenario files in %s", scenarioDir)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			t.Parallel()
			sc, err := parseScenario(path)
			if err != nil {
				t.Fatal(err)
			}
			sc.run(t)
		})
	}
}

// scenario is one parsed scenario file.
type scenario struct {
	path  string
	lines []string // the file's lines without their newlines, for -update
	nets  map[transit.City][]testLine
	order []transit.City // cities with a test network, in file order
	taps  []*scenarioTap
}

// testLine is a metro line of a scenario's test network.
type testLine struct {
	code      string
	stations  []string
	distances []int64 // metres between consecutive stations
}

// scenarioTap is one tap line of a scenario file, with its repetitions.
type scenarioTap struct {
	line   int           // 1-based line number in the file
	text   string        // the tap as written, for messages
	taps   []transit.Tap // one per repetition (one outside repeat blocks)
	want   string        // the expected ledger columns; "" if none is written
	source string        // the reported/ours comment that covers the line
}

// scenarioZone is the time zone of scenario times: every city of the
// clearing scheme is in China (UTC+8), as the engine tests' calendar is.
var scenarioZone = shanghaiTZ

// parseScenario reads and checks a scenario file. Errors name the file
// and line.
func parseScenario(path string) (*scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc := &scenario{path: path, lines: strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), nets: map[transit.City][]testLine{}}
	type card struct {
		product transit.Product
		issuer  transit.City
	}
	cards := map[string]card{}
	var (
		city      transit.City
		date      string
		source    string // the label of the current block of lines
		inLabel   bool   // the comment lines being read continue a label
		runLabel  bool   // the run of comment lines being read has a label
		repeatN   int    // 0 outside a repeat block
		repeatGap time.Duration
		repeatAt  int
		last      = map[transit.CardID]int64{} // each card's latest tap time, to keep a file in time order
		inBlock   []*scenarioTap               // taps of the current repeat block
	)
	var errs []string
	fail := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", path, n, fmt.Sprintf(format, args...)))
	}
	// checkOrder expands a repeat block (or a lone tap) repetition by
	// repetition and checks that each card's taps rise in time, as the
	// file reads.
	checkOrder := func(taps []*scenarioTap, reps int) {
		for r := range reps {
			for _, st := range taps {
				tp := &st.taps[r]
				if prev, ok := last[tp.Card]; ok && tp.Time <= prev {
					rep := ""
					if reps > 1 {
						rep = fmt.Sprintf(" (repetition %d)", r+1)
					}
					fail(st.line, "card %s: this tap%s is not after the card's previous tap; write a card's taps in time order", tp.Card, rep)
				}
				last[tp.Card] = tp.Time
			}
		}
	}
	for i, raw := range sc.lines {
		n := i + 1
		content, comment, _ := strings.Cut(raw, "#")
		content, comment = strings.TrimSpace(content), strings.TrimSpace(comment)
		if content == "" {
			switch {
			case comment == "":
				source, inLabel, runLabel = "", false, false // a blank line ends a block
			case isLabel(comment) && runLabel:
				source, inLabel = source+" / "+comment, true // labels of one run of comments add up
			case isLabel(comment):
				// A new run of comments gives the taps below a new source.
				source, inLabel, runLabel = comment, true, true
			case inLabel:
				source += " " + comment // a label's quote goes on
			}
			continue
		}
		inLabel, runLabel = false, false
		f := strings.Fields(content)
		switch f[0] {
		case "city":
			if len(f) != 2 {
				fail(n, "want: city CODE")
				continue
			}
			c, err := transit.ParseCity([]byte(f[1]))
			if err != nil {
				fail(n, "city %q: %v", f[1], err)
				continue
			}
			city = c
		case "date":
			if len(f) != 2 {
				fail(n, "want: date YYYY-MM-DD")
				continue
			}
			if _, err := time.Parse(time.DateOnly, f[1]); err != nil {
				fail(n, "date %q: want YYYY-MM-DD", f[1])
				continue
			}
			date = f[1]
		case "card":
			if len(f) != 4 {
				fail(n, "want: card ID PRODUCT ISSUER")
				continue
			}
			var id transit.CardID
			prod, err1 := transit.ParseProduct([]byte(f[2]))
			iss, err2 := transit.ParseCity([]byte(f[3]))
			switch {
			case id.Set([]byte(f[1])) != nil:
				fail(n, "card id %q is not a card identifier", f[1])
			case err1 != nil:
				fail(n, "product %q: %v", f[2], err1)
			case err2 != nil:
				fail(n, "issuer %q: %v", f[3], err2)
			default:
				if _, dup := cards[f[1]]; dup {
					fail(n, "card %s is declared twice", f[1])
				}
				cards[f[1]] = card{product: prod, issuer: iss}
			}
		case "metro-line":
			if city == 0 {
				fail(n, "metro-line before any city line")
				continue
			}
			l, err := parseTestLine(f[1:])
			if err != nil {
				fail(n, "%v", err)
				continue
			}
			if _, ok := sc.nets[city]; !ok {
				sc.order = append(sc.order, city)
			}
			sc.nets[city] = append(sc.nets[city], l)
		case "repeat":
			var err error
			if len(f) != 4 || f[2] != "every" {
				fail(n, "want: repeat N every DURATION (for example: repeat 11 every 1h)")
				continue
			}
			if repeatN != 0 {
				fail(n, "repeat inside a repeat block (line %d)", repeatAt)
				continue
			}
			repeatN, err = strconv.Atoi(f[1])
			if err != nil || repeatN < 1 || repeatN > 1000 {
				fail(n, "repeat %q: want a count of 1..1000", f[1])
				repeatN = 0
				continue
			}
			if repeatGap, err = time.ParseDuration(f[3]); err != nil || repeatGap <= 0 {
				fail(n, "every %q: want a positive duration such as 1h or 30m", f[3])
				repeatN = 0
				continue
			}
			repeatAt, inBlock = n, nil
		case "end":
			if repeatN == 0 {
				fail(n, "end without repeat")
				continue
			}
			if len(inBlock) == 0 {
				fail(n, "empty repeat block")
			}
			checkOrder(inBlock, repeatN)
			repeatN = 0
		default:
			if !isTapLine(content) {
				fail(n, "unknown line %q: want city, date, card, metro-line, repeat, end, a tap (HH:MM CARD MODE ACTION ...) or a # comment", f[0])
				continue
			}
			tapPart, want, hasWant := strings.Cut(content, "->")
			st := &scenarioTap{line: n, text: strings.Join(strings.Fields(tapPart), " "), want: strings.TrimSpace(want)}
			if hasWant && st.want == "" {
				fail(n, "nothing after ->: write the expected ledger columns")
			}
			switch {
			case isLabel(comment):
				st.source = comment
			case source != "":
				st.source = source
			default:
				fail(n, "no source: put a comment starting with \"reported:\" (quoting the published sentence) or \"ours:\" (saying why) above the taps")
			}
			tf := strings.Fields(tapPart)
			if len(tf) < 4 || len(tf) > 5 {
				fail(n, "want: HH:MM[:SS] CARD bus board [LINE], or HH:MM[:SS] CARD metro entry|exit STATION")
				continue
			}
			if date == "" || city == 0 {
				fail(n, "a tap before the date and city lines")
				continue
			}
			c, ok := cards[tf[1]]
			if !ok {
				fail(n, "card %s is not declared (card ID PRODUCT ISSUER)", tf[1])
				continue
			}
			hms := tf[0]
			if strings.Count(hms, ":") == 1 {
				hms += ":00"
			}
			when, err := time.ParseInLocation(time.DateTime, date+" "+hms, scenarioZone)
			if err != nil {
				fail(n, "time %q: want HH:MM or HH:MM:SS", tf[0])
				continue
			}
			var tp transit.Tap
			tp.City, tp.Issuer, tp.Product = city, c.issuer, c.product
			_, offset := when.Zone()
			tp.Time, tp.Offset = when.UnixNano(), int32(offset)
			// valid reports whether err is nil, and a problem if not.
			valid := func(err error, what string) bool {
				if err != nil {
					fail(n, "%s: %v", what, err)
				}
				return err == nil
			}
			if !valid(tp.Card.Set([]byte(tf[1])), "card") {
				continue
			}
			m, err := transit.ParseMode([]byte(tf[2]))
			if !valid(err, "mode") {
				continue
			}
			a, err := transit.ParseAction([]byte(tf[3]))
			if !valid(err, "action") {
				continue
			}
			tp.Mode, tp.Action = m, a
			if len(tf) == 5 {
				dst := &tp.Stop
				if m == transit.ModeBus {
					dst = &tp.Line
				}
				if !valid(dst.Set([]byte(tf[4])), "stop or line") {
					continue
				}
			} else if m == transit.ModeMetro {
				fail(n, "a metro tap needs its station")
				continue
			}
			reps := 1
			if repeatN != 0 {
				reps = repeatN
			}
			for r := range reps {
				x := tp
				x.Time += int64(r) * int64(repeatGap)
				id := fmt.Sprintf("L%d", n)
				if repeatN != 0 {
					id = fmt.Sprintf("L%d.%d", n, r+1)
				}
				if !valid(x.ID.Set([]byte(id)), "tap id") {
					break
				}
				st.taps = append(st.taps, x)
			}
			sc.taps = append(sc.taps, st)
			if repeatN != 0 {
				inBlock = append(inBlock, st)
			} else {
				checkOrder([]*scenarioTap{st}, 1)
			}
		}
	}
	if repeatN != 0 {
		fail(repeatAt, "repeat block without end")
	}
	if len(sc.taps) == 0 {
		fail(1, "no taps")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return sc, nil
}

// isLabel reports whether a comment is a source label, as policy files
// label their values.
func isLabel(comment string) bool {
	return strings.HasPrefix(comment, "reported") || strings.HasPrefix(comment, "ours")
}

// isTapLine reports whether content starts with a time, as a tap does.
func isTapLine(content string) bool {
	return len(content) >= 5 && content[2] == ':' && strings.IndexFunc(content[:2], func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// parseTestLine parses "CODE STATION@METRES ...": stations at their
// positions along the line, in metres from its start (underscores may
// group digits), in order.
func parseTestLine(f []string) (testLine, error) {
	if len(f) < 3 {
		return testLine{}, fmt.Errorf("want: metro-line CODE STATION@METRES STATION@METRES ...")
	}
	l := testLine{code: f[0]}
	prev := int64(-1)
	for _, s := range f[1:] {
		at := strings.LastIndexByte(s, '@')
		if at <= 0 {
			return l, fmt.Errorf("station %q: want CODE@METRES", s)
		}
		m, err := strconv.ParseInt(strings.ReplaceAll(s[at+1:], "_", ""), 10, 64)
		if err != nil || m < 0 {
			return l, fmt.Errorf("station %q: the position is not a number of metres", s)
		}
		if prev >= 0 {
			switch d := m - prev; {
			case d < 1:
				return l, fmt.Errorf("station %q: positions must rise along the line", s)
			case d > fares.MaxInterStation:
				return l, fmt.Errorf("station %q: %d m from the previous station, at most %d: add a station between", s, d, fares.MaxInterStation)
			default:
				l.distances = append(l.distances, d)
			}
		}
		prev = m
		l.stations = append(l.stations, s[:at])
	}
	return l, nil
}

// book returns the shipped fare book with the scenario's test networks in
// place of the networks of their cities: each city's shipped policy file,
// with the network of every version replaced, laid over the embedded data
// as an operator's override directory would be.
func (sc *scenario) book(t *testing.T) *fares.Book {
	t.Helper()
	if len(sc.nets) == 0 {
		return book(t)
	}
	dir := t.TempDir()
	for _, city := range sc.order {
		matches, err := filepath.Glob(filepath.Join(policyDir, city.String()+"_*.yaml"))
		must(t, err)
		if len(matches) != 1 {
			t.Fatalf("%s: a test network for %v needs the city's policy file in %s; found %d", sc.path, city, policyDir, len(matches))
		}
		data, err := os.ReadFile(matches[0])
		must(t, err)
		var doc yaml.Node
		must(t, yaml.Unmarshal(data, &doc))
		var net yaml.Node
		must(t, net.Encode(networkDoc(sc.path, sc.nets[city])))
		if n := replaceNetworks(&doc, &net); n == 0 {
			t.Fatalf("%s: %s has no metro section for a test network", sc.path, matches[0])
		}
		out, err := yaml.Marshal(&doc)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, filepath.Base(matches[0])), out, 0o644))
	}
	b, err := fares.Load(dir)
	if err != nil {
		t.Fatalf("%s: the test networks do not load: %v", sc.path, err)
	}
	return b
}

// networkDoc is the policy-file form of a test network.
func networkDoc(path string, lines []testLine) any {
	type lineDoc struct {
		Code      string   `yaml:"code"`
		Stations  []string `yaml:"stations,flow"`
		Distances []int64  `yaml:"distances_m,flow"`
	}
	type netDoc struct {
		Source string    `yaml:"source"`
		Lines  []lineDoc `yaml:"lines"`
	}
	d := netDoc{Source: "ours: test network of " + filepath.ToSlash(path)}
	for _, l := range lines {
		d.Lines = append(d.Lines, lineDoc{Code: l.code, Stations: l.stations, Distances: l.distances})
	}
	return d
}

// replaceNetworks sets the metro network of every version of a policy
// file to net and returns how many it replaced.
func replaceNetworks(doc, net *yaml.Node) int {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	versions := mappingValue(root, "versions")
	if versions == nil {
		return 0
	}
	n := 0
	for _, v := range versions.Content {
		if metro := mappingValue(v, "metro"); metro != nil {
			if nw := mappingValue(metro, "network"); nw != nil {
				*nw = *net
				n++
			}
		}
	}
	return n
}

// mappingValue returns the value of key in mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// run checks the scenario, reports what differs and, with -update,
// rewrites the file's expectations.
func (sc *scenario) run(t *testing.T) {
	o := sc.check(t, *update)
	for _, p := range o.problems {
		t.Error(p)
	}
	if o.mismatches > 0 {
		t.Logf("%d expectations differ from the engine's rows. If the rows are right (a published rule changed), rewrite them with\n\tgo test ./engine -run 'TestScenarios/%s' -update\nand review the diff.",
			o.mismatches, strings.TrimSuffix(filepath.Base(sc.path), ".txt"))
	}
	if len(o.rewrite) > 0 {
		sc.rewrite(t, o.rewrite)
	}
}

// outcome is what checking a scenario found.
type outcome struct {
	problems   []string       // each names the file and line
	mismatches int            // how many problems are expectations that differ
	rewrite    map[int]string // when updating: line number -> expectation to write
}

// check prices the scenario's taps and compares each tap's row with its
// expectation. When updating it compares nothing but collects the
// expectations to rewrite: those that differ from the rows, and those
// not written yet.
func (sc *scenario) check(t *testing.T, updating bool) outcome {
	cal := calendar(t)
	var taps []transit.Tap
	for _, st := range sc.taps {
		taps = append(taps, st.taps...)
	}
	opts := Options{Window: Unbounded, Shards: 2, Calendar: cal}
	opts.EnsureDefaults()
	c := newCollect(opts.Shards)
	e, err := New(sc.book(t), c, opts)
	must(t, err)
	e.Submit(taps)
	e.Close()

	rows := map[transit.TapID][]transit.Priced{}
	for _, r := range c.rows() {
		rows[r.ID] = append(rows[r.ID], r)
	}
	o := outcome{rewrite: map[int]string{}}
	problem := func(format string, args ...any) { o.problems = append(o.problems, fmt.Sprintf(format, args...)) }
	for _, st := range sc.taps {
		var got string
		agree := true
		for rep, tp := range st.taps {
			rs := rows[tp.ID]
			delete(rows, tp.ID)
			if len(rs) != 1 {
				problem("%s:%d: %s: %d ledger rows, want one per tap", sc.path, st.line, st.text, len(rs))
				agree = false
				continue
			}
			tapDay := cal.DayOf(tp.Time)
			g := ledgerColumnsOf(&rs[0], tapDay)
			if rep == 0 {
				got = g
			} else if g != got {
				agree = false
				if updating {
					problem("%s:%d: %s: repetition %d gives %s, repetition 1 %s: one expectation cannot hold both; split the repeat block",
						sc.path, st.line, st.text, rep+1, g, got)
				}
			}
			if updating || st.want == "" {
				continue
			}
			if want := canonicalColumns(st.want, tapDay); g != want {
				o.mismatches++
				problem("%s", mismatch(sc.path, st, rep, tp, tapDay, want, g))
			}
		}
		switch {
		case st.want == "" && !updating:
			problem("%s:%d: %s: no expectation: write \"-> \" and the ledger columns from the published rule (go test -update fills in what the engine gives)",
				sc.path, st.line, st.text)
		case updating && agree && got != canonicalColumns(st.want, cal.DayOf(st.taps[0].Time)):
			o.rewrite[st.line] = got
		}
	}
	for _, id := range slices.SortedFunc(maps.Keys(rows), func(a, b transit.TapID) int { return strings.Compare(a.String(), b.String()) }) {
		problem("%s: %d ledger rows of tap %s that no line of the file wrote", sc.path, len(rows[id]), id)
	}
	return o
}

// ledgerColumnsOf returns the expectation form of row r: its ledger
// columns settlement_day..cap_discount_fen, less settlement_day when it
// is tapDay.
func ledgerColumnsOf(r *transit.Priced, tapDay transit.Day) string {
	f := strings.Split(strings.TrimSuffix(string(settlement.AppendLedgerRow(nil, r)), "\n"), ",")
	cols := f[firstColumn : lastColumn+1]
	if r.Day == tapDay {
		cols = cols[1:]
	}
	return strings.Join(cols, ",")
}

// canonicalColumns drops a written settlement_day that is the tap's own
// day, so that writing it does not count as a difference.
func canonicalColumns(want string, tapDay transit.Day) string {
	if day, rest, ok := strings.Cut(want, ","); ok && day == tapDay.String() && strings.Count(want, ",") == lastColumn-firstColumn {
		return rest
	}
	return want
}

// mismatch describes a difference between an expectation and a row, with
// the columns that differ named as the ledger names them.
func mismatch(path string, st *scenarioTap, rep int, tp transit.Tap, tapDay transit.Day, want, got string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: %s", path, st.line, st.text)
	if len(st.taps) > 1 {
		fmt.Fprintf(&b, " (repetition %d of %d, at %s)", rep+1, len(st.taps), time.Unix(0, tp.Time).In(scenarioZone).Format(time.DateTime))
	}
	fmt.Fprintf(&b, "\n\twant %s\n\tgot  %s\n", want, got)
	names := ledgerColumns[firstColumn : lastColumn+1]
	full := func(s string) []string {
		f := strings.Split(s, ",")
		if len(f) == len(names)-1 {
			f = append([]string{tapDay.String()}, f...)
		}
		return f
	}
	if w, g := full(want), full(got); len(w) == len(names) {
		var diff []string
		for i := range names {
			if w[i] != g[i] {
				diff = append(diff, fmt.Sprintf("%s %q, got %q", names[i], w[i], g[i]))
			}
		}
		fmt.Fprintf(&b, "\tdiffers: want %s\n", strings.Join(diff, "; "))
	} else {
		fmt.Fprintf(&b, "\twant %d columns, or %d with settlement_day first: %s\n", len(names)-1, len(names), strings.Join(names, ","))
	}
	fmt.Fprintf(&b, "\tsource: %s", st.source)
	return b.String()
}

// rewrite writes the file with new expectations on the given lines,
// keeping everything else (the tap, the spacing before "->", a trailing
// comment) as it was, and logs every line it changes.
func (sc *scenario) rewrite(t *testing.T, want map[int]string) {
	lines := slices.Clone(sc.lines)
	for _, n := range slices.Sorted(maps.Keys(want)) {
		w := want[n]
		raw := lines[n-1]
		body, comment, hasComment := strings.Cut(raw, "#")
		line := strings.TrimRight(body, " \t") + " -> " + w
		if i := strings.Index(body, "->"); i >= 0 {
			line = body[:i] + "-> " + w
		}
		if hasComment {
			line += "  #" + comment
		}
		lines[n-1] = line
		t.Logf("%s:%d: rewrote\n\t%s\n\t%s", sc.path, n, raw, line)
	}
	must(t, os.WriteFile(sc.path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

// TestScenarioRunner checks the runner itself on small files: a wrong
// expectation fails, naming file, line and columns; -update rewrites it
// (and only it) so that the file then passes; a file that breaks the
// format's rules is refused with the line at fault.
func TestScenarioRunner(t *testing.T) {
	write := func(text string) string {
		path := filepath.Join(t.TempDir(), "s.txt")
		must(t, os.WriteFile(path, []byte(text), 0o644))
		return path
	}
	const good = `city 440100
date 2025-03-03
metro-line T1 O@0 M4001@4_001
card C standard 440100

# ours: test
08:00 C metro entry O     -> charged,0,0,0,metro-entry,,0,0,0
08:10 C metro exit M4001  -> 2025-03-03,charged,300,0,300,metro-distance,,0,0,0
`
	sc, err := parseScenario(write(good))
	must(t, err)
	if o := sc.check(t, false); len(o.problems) != 0 {
		t.Fatalf("a right scenario fails: %q", o.problems)
	}

	wrong := strings.Replace(good, "charged,300,0,300,", "charged,200,0,200,", 1)
	path := write(wrong)
	sc, err = parseScenario(path)
	must(t, err)
	o := sc.check(t, false)
	if len(o.problems) != 1 || o.mismatches != 1 ||
		!strings.Contains(o.problems[0], path+":8: 08:10 C metro exit M4001") ||
		!strings.Contains(o.problems[0], `gross_fen "200", got "300"; charged_fen "200", got "300"`) ||
		!strings.Contains(o.problems[0], "source: ours: test") {
		t.Fatalf("a wrong expectation gives %q", o.problems)
	}
	o = sc.check(t, true)
	if len(o.problems) != 0 || len(o.rewrite) != 1 || o.rewrite[8] != "charged,300,0,300,metro-distance,,0,0,0" {
		t.Fatalf("update: problems %q, rewrite %v; want line 8 alone", o.problems, o.rewrite)
	}
	sc.rewrite(t, o.rewrite)
	data, err := os.ReadFile(path)
	must(t, err)
	if want := strings.Replace(good, "-> 2025-03-03,charged,300", "-> charged,300", 1); string(data) != want {
		t.Fatalf("rewritten file:\n%s\nwant:\n%s", data, want)
	}

	// A row settled on a day other than its tap's shows settlement_day:
	// an entry at 02:00 (settlement day 2025-03-03) within the 240-minute
	// limit of the cut-off carries into 2025-03-04, where the end of the
	// input closes it as incomplete at the network's highest fare.
	carried := good + "\ncard K standard 440100\n# ours: test\ndate 2025-03-04\n02:00 K metro entry O  -> 2025-03-04,incomplete,300,0,300,unclosed-entry+carried,,0,0,0\n"
	sc, err = parseScenario(write(carried))
	must(t, err)
	if o := sc.check(t, false); len(o.problems) != 0 {
		t.Fatalf("carried entry: %q", o.problems)
	}
	sc, err = parseScenario(write(strings.Replace(carried, "-> 2025-03-04,incomplete", "-> incomplete", 1)))
	must(t, err)
	if o := sc.check(t, false); len(o.problems) != 1 || !strings.Contains(o.problems[0], `settlement_day "2025-03-03", got "2025-03-04"`) {
		t.Fatalf("carried entry without its day: %q", o.problems)
	}

	for _, tt := range []struct{ name, text, want string }{
		{"no source", strings.Replace(good, "# ours: test\n", "", 1), ":7: no source"},
		{"no expectation", strings.Replace(good, "  -> 2025-03-03,charged,300,0,300,metro-distance,,0,0,0", "", 1), ""},
		{"undeclared card", strings.Replace(good, "08:10 C ", "08:10 D ", 1), ":8: card D is not declared"},
		{"out of order", strings.Replace(good, "08:10 C", "07:10 C", 1), ":8: card C: this tap is not after"},
		{"positions fall", strings.Replace(good, "M4001@4_001", "M4001@4_001 X@4001", 1), ":3: station \"X@4001\": positions must rise"},
		{"unknown line", good + "bogus\n", ":9: unknown line"},
		{"open repeat", good + "repeat 2 every 1h\n", ":9: repeat block without end"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := parseScenario(write(tt.text))
			if tt.want == "" { // parses, but fails when checked
				must(t, err)
				if o := sc.check(t, false); len(o.problems) != 1 || !strings.Contains(o.problems[0], ":8: 08:10 C metro exit M4001: no expectation") {
					t.Fatalf("problems %q", o.problems)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
