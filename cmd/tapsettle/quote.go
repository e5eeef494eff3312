package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

func newQuote() *cobra.Command {
	var city, issuer, mode, line, from, to, product, at string
	var minutes int
	var after []string
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "quote --city CITY --mode bus|metro [--from S --to S] [--product P] [--issuer CITY]",
		Short: "Price a single journey",
		Example: `  tapsettle quote --city Ningbo --mode bus --product joinin
  tapsettle quote --city 330200 --mode metro --from S001 --to S020 --product joinin
  tapsettle quote --city Shanghai --mode metro --from S001 --to S030 --issuer Ningbo --product joinin
  tapsettle quote --city Ningbo --mode metro --from S001 --to S020 --at 2025-03-03T08:40:00+08:00 --after bus@08:00 --after bus@08:20
  tapsettle quote --city Ningbo --mode metro --from S001 --to S020 --product senior --at 2025-03-03T08:59:00+08:00`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			c, err := cityArg(e.book, city)
			if err != nil {
				return err
			}
			iss := c
			if issuer != "" {
				if iss, err = cityArg(e.book, issuer); err != nil {
					return err
				}
			}
			m, err := transit.ParseMode([]byte(mode))
			if err != nil {
				return fmt.Errorf("--mode: %w", err)
			}
			prod, err := transit.ParseProduct([]byte(product))
			if err != nil {
				return fmt.Errorf("--product: %w", err)
			}
			when, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return fmt.Errorf("--at: want RFC 3339 with offset: %w", err)
			}
			day := e.cal.DayOf(when.UnixNano())
			pol := e.book.Policy(c, day)
			if pol == nil {
				return fmt.Errorf("no policy of %v is effective on %v", c, day)
			}
			leg := fares.Leg{Mode: m, Product: prod, Issuer: iss, Start: when.UnixNano(), Day: day}
			journey, err := quoteGross(pol, &leg, line, from, to, minutes)
			if err != nil {
				return err
			}
			var r fares.Rider
			prior, err := priceAfter(pol, &leg, &r, after, when)
			if err != nil {
				return err
			}
			q := pol.Price(&leg, &r)
			if output.format == outputJSON {
				doc := newQuoteDoc(e.book, pol, &leg, c, when, line, journey, q, prior)
				return writeJSON(cmd.OutOrStdout(), doc)
			}
			detail := ""
			if journey != nil {
				detail = journey.text()
			}
			return printQuote(cmd.OutOrStdout(), e.book, pol, &leg, c, detail, q, applied(pol, &leg, &q, prior))
		},
	}
	output = addOutputFlag(cmd, outputJSON)
	fl := cmd.Flags()
	fl.StringVar(&city, "city", "", "city where the journey is made (code or name)")
	fl.StringVar(&issuer, "issuer", "", "city that issued the card (default: --city)")
	fl.StringVar(&mode, "mode", "bus", "bus or metro")
	fl.StringVar(&line, "line", "", "bus line (per-line fares)")
	fl.StringVar(&from, "from", "", "metro entry station")
	fl.StringVar(&to, "to", "", "metro exit station")
	fl.IntVar(&minutes, "minutes", 30, "metro time in system")
	fl.StringVar(&product, "product", "standard", "standard, joinin, student or senior")
	fl.StringVar(&at, "at", "2025-03-03T09:00:00+08:00", "time of the first tap")
	fl.StringArrayVar(&after, "after", nil, "an earlier leg of the same card that day, MODE@HH:MM local (repeatable; metro at the base fare)")
	_ = cmd.MarkFlagRequired("city")
	return cmd
}

// quoteGross sets leg's gross fare and rules: the bus line's fare, or the
// metro fare between stations from and to (the overtime fare past the
// time-in-system limit). It returns a metro journey's stations and
// distance, nil for a bus.
func quoteGross(pol *fares.Policy, leg *fares.Leg, line, from, to string, minutes int) (*quoteJourney, error) {
	switch leg.Mode {
	case transit.ModeBus:
		var lc transit.Code
		if err := lc.Set([]byte(line)); err != nil {
			return nil, fmt.Errorf("--line: %w", err)
		}
		leg.Gross, leg.Rules = pol.BusFare(lc)
	case transit.ModeMetro:
		if pol.Metro == nil {
			return nil, fmt.Errorf("%v runs no metro", pol.City)
		}
		a, b, err := stationsArg(pol.Metro, from, to)
		if err != nil {
			return nil, err
		}
		leg.Gross, leg.Rules = pol.MetroFare(a, b, int64(minutes)*int64(time.Minute))
		return &quoteJourney{From: from, To: to, DistanceM: pol.Metro.Distance(a, b), Minutes: minutes}, nil
	}
	return nil, nil
}

// quoteJourney is the metro journey a quote priced.
type quoteJourney struct {
	// From and To are the entry and exit stations.
	From string `json:"from"`
	To   string `json:"to"`
	// DistanceM is the length of the shortest path between them, in
	// metres: the distance the fare ladder priced.
	DistanceM int32 `json:"distance_m"`
	// Minutes is the time in the system (--minutes).
	Minutes int `json:"minutes"`
}

// text describes the journey for people, the distance to the metre: a
// ladder's bands end on whole kilometres, and 4,018 m rounded to "4.0
// km" hides why it pays the fare of more than 4 km.
func (j *quoteJourney) text() string {
	return fmt.Sprintf("%s -> %s, %s on the shortest path, %d min", j.From, j.To, metres(j.DistanceM), j.Minutes)
}

// printQuote prints the quote q of leg in city c as a table.
func printQuote(w io.Writer, book *fares.Book, pol *fares.Policy, leg *fares.Leg, c transit.City, detail string, q fares.Quote, more [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "city\t%s (policy %s, effective %v)\n", cityName(book, c), pol.Version, pol.EffectiveFrom)
	fmt.Fprintf(tw, "card\t%v issued by %s\n", leg.Product, cityName(book, leg.Issuer))
	if detail != "" {
		fmt.Fprintf(tw, "journey\t%s\n", detail)
	}
	fmt.Fprintf(tw, "gross\t%s CNY\n", q.Gross)
	fmt.Fprintf(tw, "product discount\t%s CNY\n", q.ProductDiscount)
	fmt.Fprintf(tw, "transfer discount\t%s CNY\n", q.TransferDiscount)
	fmt.Fprintf(tw, "cap discount\t%s CNY\n", q.CapDiscount)
	fmt.Fprintf(tw, "charged\t%s CNY\n", q.Charged)
	fmt.Fprintf(tw, "rules\t%v\n", q.Rules)
	if leg.Issuer != c {
		// Domain notes: the issuing region owes the riding city's
		// operator, netted by the clearing house each settlement day.
		fmt.Fprintf(tw, "clearing\tinterregional: the issuer, %s, owes the operator of %s the %s CNY charged\n", cityName(book, leg.Issuer), cityName(book, c), q.Charged)
	} else {
		fmt.Fprintf(tw, "clearing\tlocal: the card's own city; nothing to clear between regions\n")
	}
	for _, m := range more {
		fmt.Fprintf(tw, "%s\t%s\n", m[0], m[1])
	}
	return tw.Flush()
}

// cityName is c's code with its English and Chinese names, or the code
// alone for a city the book does not know.
func cityName(book *fares.Book, c transit.City) string {
	if ci, ok := book.City(c); ok {
		return fmt.Sprintf("%v %s (%s)", c, ci.NameEN, ci.NameZH)
	}
	return c.String()
}

func stationsArg(n *fares.Network, from, to string) (int32, int32, error) {
	get := func(flag, s string) (int32, error) {
		var c transit.Code
		if err := c.Set([]byte(s)); err != nil || c.IsZero() {
			return 0, fmt.Errorf("--%s: give a station code such as %v", flag, n.StationCode(0))
		}
		i, ok := n.Station(c)
		if !ok {
			return 0, fmt.Errorf("--%s: no station %q (this network has %d, %v..%v)", flag, s, n.NumStations(), n.StationCode(0), n.StationCode(int32(n.NumStations()-1)))
		}
		return i, nil
	}
	a, err := get("from", from)
	if err != nil {
		return 0, 0, err
	}
	b, err := get("to", to)
	return a, b, err
}

// priceAfter prices, on r, the earlier legs of the card that --after
// gives (MODE@HH:MM, local time on the day of leg's start), so that the
// quoted leg meets the transfer chain they leave. A bus leg pays the flat
// fare, a metro leg the base fare. It returns the legs priced.
func priceAfter(pol *fares.Policy, leg *fares.Leg, r *fares.Rider, after []string, when time.Time) ([]quoteLeg, error) {
	var legs []quoteLeg
	for _, a := range after {
		m, hhmm, ok := strings.Cut(a, "@")
		mode, err := transit.ParseMode([]byte(m))
		clock, err2 := time.Parse("15:04", hhmm)
		if !ok || err != nil || err2 != nil {
			return nil, fmt.Errorf("--after %q: want MODE@HH:MM, such as bus@08:00", a)
		}
		y, mo, d := when.Date()
		start := time.Date(y, mo, d, clock.Hour(), clock.Minute(), 0, 0, when.Location())
		if !start.Before(when) {
			return nil, fmt.Errorf("--after %q: not before --at %s", a, when.Format(time.RFC3339))
		}
		prior := fares.Leg{Mode: mode, Product: leg.Product, Issuer: leg.Issuer, Start: start.UnixNano(), Day: leg.Day}
		switch {
		case mode == transit.ModeBus:
			prior.Gross, prior.Rules = pol.BusFare(transit.Code{})
		case pol.Metro != nil:
			prior.Gross, prior.Rules = pol.Metro.Fare(0, 0), transit.RuleMetroDistance
		default:
			return nil, fmt.Errorf("--after %q: %v runs no metro", a, pol.City)
		}
		q := pol.Price(&prior, r)
		legs = append(legs, quoteLeg{Mode: mode.String(), Time: start.Format(time.RFC3339), GrossFen: int64(q.Gross), ChargedFen: int64(q.Charged),
			Rules: ruleNames(q.Rules), start: start, gross: q.Gross, charged: q.Charged, rules: q.Rules})
	}
	return legs, nil
}

// quoteLeg is an earlier leg of the card (--after), priced before the
// quoted one.
type quoteLeg struct {
	Mode string `json:"mode"`
	// Time is the leg's start, RFC 3339 with offset.
	Time       string   `json:"time"`
	GrossFen   int64    `json:"gross_fen"`
	ChargedFen int64    `json:"charged_fen"`
	Rules      []string `json:"rules"`

	start          time.Time
	gross, charged transit.Fen
	rules          transit.Rules
}

// text describes the leg for people, on one line.
func (l *quoteLeg) text() string {
	return fmt.Sprintf("%s %s: gross %s, charged %s CNY, rules %v", l.Mode, l.start.Format("15:04"), l.gross, l.charged, l.rules)
}

// applied returns the rows that follow a quote: the earlier legs, then
// the rules that priced it (fares.Policy.Explain: time of day, product,
// transfer, overtime).
func applied(pol *fares.Policy, leg *fares.Leg, q *fares.Quote, prior []quoteLeg) [][2]string {
	var rows [][2]string
	for i := range prior {
		rows = append(rows, [2]string{"after", prior[i].text()})
	}
	for _, l := range pol.Explain(leg, q) {
		rows = append(rows, [2]string{"applied", l})
	}
	return rows
}

// ruleNames lists the names of the rules r, as the ledger spells them;
// an empty list for none.
func ruleNames(r transit.Rules) []string {
	if r == 0 {
		return []string{}
	}
	return strings.Split(r.String(), "+")
}

// quoteDoc is quote's --output json document (schema tapsettle.quote/1):
// what the text shows, money in integer fen.
type quoteDoc struct {
	Schema string `json:"schema"`
	// City is where the journey is made (the acquirer).
	City   quoteCity   `json:"city"`
	Policy quotePolicy `json:"policy"`
	Card   quoteCard   `json:"card"`
	Mode   string      `json:"mode"`
	// Time is the time of the first tap (--at), RFC 3339 with offset;
	// SettlementDay the day it settles in (YYYY-MM-DD).
	Time          string `json:"time"`
	SettlementDay string `json:"settlement_day"`
	// Line is the bus line given (--line), empty for the city's fare.
	Line string `json:"line,omitempty"`
	// Journey is the metro journey, absent for a bus.
	Journey             *quoteJourney `json:"journey,omitempty"`
	GrossFen            int64         `json:"gross_fen"`
	ProductDiscountFen  int64         `json:"product_discount_fen"`
	TransferDiscountFen int64         `json:"transfer_discount_fen"`
	CapDiscountFen      int64         `json:"cap_discount_fen"`
	ChargedFen          int64         `json:"charged_fen"`
	// Rules are the names of the rules that priced the journey, as in
	// the ledger's rule column.
	Rules    []string      `json:"rules"`
	Clearing quoteClearing `json:"clearing"`
	// After are the earlier legs of the card (--after), in order.
	After []quoteLeg `json:"after"`
	// Applied explains, one line each, the rules that priced the
	// journey, for people: their wording may change within the schema.
	Applied []string `json:"applied"`
}

// quoteCity is a participant city: its six-digit code and its names.
type quoteCity struct {
	Code   string `json:"code"`
	NameEN string `json:"name_en"`
	NameZH string `json:"name_zh"`
}

// quotePolicy is the policy version that priced the journey.
type quotePolicy struct {
	Version string `json:"version"`
	// EffectiveFrom is its first settlement day (YYYY-MM-DD).
	EffectiveFrom string `json:"effective_from"`
}

// quoteCard is the card quoted.
type quoteCard struct {
	Product string    `json:"product"`
	Issuer  quoteCity `json:"issuer"`
}

// quoteClearing says who owes whom for the journey: the issuing region
// owes the riding city's operator the charged fare when they differ
// (interregional), nothing is cleared between regions otherwise (local).
type quoteClearing struct {
	// Kind is "interregional" or "local".
	Kind string `json:"kind"`
	// Payer (the issuer) owes Payee (the acquirer) AmountFen; both
	// absent, and AmountFen 0, for a local journey.
	Payer     string `json:"payer,omitempty"`
	Payee     string `json:"payee,omitempty"`
	AmountFen int64  `json:"amount_fen"`
}

// newQuoteDoc returns the document of the quote q of leg in city c.
func newQuoteDoc(book *fares.Book, pol *fares.Policy, leg *fares.Leg, c transit.City, when time.Time, line string, journey *quoteJourney, q fares.Quote, prior []quoteLeg) *quoteDoc {
	doc := &quoteDoc{
		Schema:              schemaQuote,
		City:                newQuoteCity(book, c),
		Policy:              quotePolicy{Version: pol.Version, EffectiveFrom: pol.EffectiveFrom.String()},
		Card:                quoteCard{Product: leg.Product.String(), Issuer: newQuoteCity(book, leg.Issuer)},
		Mode:                leg.Mode.String(),
		Time:                when.Format(time.RFC3339),
		SettlementDay:       leg.Day.String(),
		Journey:             journey,
		GrossFen:            int64(q.Gross),
		ProductDiscountFen:  int64(q.ProductDiscount),
		TransferDiscountFen: int64(q.TransferDiscount),
		CapDiscountFen:      int64(q.CapDiscount),
		ChargedFen:          int64(q.Charged),
		Rules:               ruleNames(q.Rules),
		Clearing:            quoteClearing{Kind: "local"},
		After:               prior,
		Applied:             pol.Explain(leg, &q),
	}
	if leg.Mode == transit.ModeBus {
		doc.Line = line
	}
	if leg.Issuer != c {
		doc.Clearing = quoteClearing{Kind: "interregional", Payer: leg.Issuer.String(), Payee: c.String(), AmountFen: int64(q.Charged)}
	}
	if doc.After == nil {
		doc.After = []quoteLeg{}
	}
	if doc.Applied == nil {
		doc.Applied = []string{}
	}
	return doc
}

// newQuoteCity returns c with its names, empty for a city the book does
// not know.
func newQuoteCity(book *fares.Book, c transit.City) quoteCity {
	qc := quoteCity{Code: c.String()}
	if ci, ok := book.City(c); ok {
		qc.NameEN, qc.NameZH = ci.NameEN, ci.NameZH
	}
	return qc
}

// metres formats a distance to the metre, with thousands grouped:
// "4,018 m".
func metres(m int32) string {
	s := strconv.Itoa(int(m))
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " m"
}
