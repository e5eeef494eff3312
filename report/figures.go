package report

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// Amounts are a count of clearing rows and their sums in fen.
type Amounts struct {
	Count                    int64
	Gross, Discount, Charged transit.Fen
}

func amounts(a settlement.SummaryAmounts) Amounts {
	return Amounts{Count: a.Count, Gross: transit.Fen(a.GrossFen), Discount: transit.Fen(a.DiscountFen), Charged: transit.Fen(a.ChargedFen)}
}

// Totals returns the day's totals: all clearing rows, the interregional
// ones, and the adjustments among them (every figure is net of them).
func (d *Day) Totals() (all, interregional, adjustments Amounts) {
	s := d.Summary
	return amounts(s.Totals), amounts(s.Interregional), amounts(s.Adjustments)
}

// JoinInDiscount returns the product discount of Join in Cards on rides
// in Ningbo, as the summary gives it: the amount Ningbo claims for the
// card's concession.
func (d *Day) JoinInDiscount() transit.Fen { return transit.Fen(d.Summary.NingboJoinIn) }

// Flow is what an issuer's cards owe an acquirer for the day: one
// bilateral total, net of adjustments.
type Flow struct {
	Issuer, Acquirer transit.City
	Amounts
}

// Flows returns the day's bilateral flows, largest charged amount first
// (ties: more rows first, then by issuer and acquirer code).
func (d *Day) Flows() ([]Flow, error) {
	out := make([]Flow, 0, len(d.Summary.Bilateral))
	for _, b := range d.Summary.Bilateral {
		i, err := parseCity("bilateral issuer", b.Issuer)
		if err != nil {
			return nil, err
		}
		a, err := parseCity("bilateral acquirer", b.Acquirer)
		if err != nil {
			return nil, err
		}
		out = append(out, Flow{Issuer: i, Acquirer: a, Amounts: amounts(b.SummaryAmounts)})
	}
	slices.SortFunc(out, func(x, y Flow) int {
		return cmp.Or(cmp.Compare(y.Charged, x.Charged), cmp.Compare(y.Count, x.Count),
			cmp.Compare(x.Issuer, y.Issuer), cmp.Compare(x.Acquirer, y.Acquirer))
	})
	return out, nil
}

// Net is a participant's net position: what other issuers' cards owe it
// (receivable) less what its cards owe others (payable).
type Net struct {
	Participant                 transit.City
	Receivable, Payable, Amount transit.Fen
}

// NetPositions returns the net positions of every participant, largest
// creditor first and largest debtor last (ties by code).
func (d *Day) NetPositions() ([]Net, error) {
	out := make([]Net, 0, len(d.Summary.NetPositions))
	for _, n := range d.Summary.NetPositions {
		c, err := parseCity("net position participant", n.Participant)
		if err != nil {
			return nil, err
		}
		out = append(out, Net{Participant: c, Receivable: transit.Fen(n.ReceivableFen), Payable: transit.Fen(n.PayableFen), Amount: transit.Fen(n.NetFen)})
	}
	slices.SortFunc(out, func(x, y Net) int {
		return cmp.Or(cmp.Compare(y.Amount, x.Amount), cmp.Compare(x.Participant, y.Participant))
	})
	return out, nil
}

// Creditors returns at most n of nets (sorted as NetPositions returns
// them) with a positive position, largest first.
func Creditors(nets []Net, n int) []Net {
	k := 0
	for k < len(nets) && k < n && nets[k].Amount > 0 {
		k++
	}
	return nets[:k]
}

// Debtors returns at most n of nets (sorted as NetPositions returns them)
// with a negative position, largest debt first.
func Debtors(nets []Net, n int) []Net {
	var out []Net
	for i := len(nets) - 1; i >= 0 && len(out) < n && nets[i].Amount < 0; i-- {
		out = append(out, nets[i])
	}
	return out
}

// Claim is the discounts given in one city to one card product, over
// both modes: the operators' subsidy claim, split by kind of reduction.
type Claim struct {
	City    transit.City
	Product transit.Product
	Count   int64
	Gross   transit.Fen
	// ProductDiscount is the card-product reduction (e.g. the Join in
	// Card's), TransferDiscount the transfers', CapDiscount the daily
	// caps' and volume discounts'.
	ProductDiscount, TransferDiscount, CapDiscount transit.Fen
	Charged                                        transit.Fen
}

// Total returns the claim: the sum of the three reductions.
func (c *Claim) Total() transit.Fen { return c.ProductDiscount + c.TransferDiscount + c.CapDiscount }

func (c *Claim) add(t *settlement.SummaryDiscount) {
	c.Count += t.Count
	c.Gross += transit.Fen(t.GrossFen)
	c.ProductDiscount += transit.Fen(t.ProductDiscountFen)
	c.TransferDiscount += transit.Fen(t.TransferDiscountFen)
	c.CapDiscount += transit.Fen(t.CapDiscountFen)
	c.Charged += transit.Fen(t.ChargedFen)
}

// Claims returns the subsidy claim per city and card product: the
// summary's discount totals summed over the modes, those with any
// discount (a day's adjustments can make one negative), by city code and
// then product.
func (d *Day) Claims() ([]Claim, error) {
	type key struct {
		c transit.City
		p transit.Product
	}
	byKey := map[key]*Claim{}
	var keys []key
	for i := range d.Summary.Discounts {
		t := &d.Summary.Discounts[i]
		c, err := parseCity("discount city", t.City)
		if err != nil {
			return nil, err
		}
		p, err := transit.ParseProduct([]byte(t.Product))
		if err != nil {
			return nil, fmt.Errorf("report: summary: discount card product %q: %w", t.Product, err)
		}
		k := key{c, p}
		cl := byKey[k]
		if cl == nil {
			cl = &Claim{City: c, Product: p}
			byKey[k] = cl
			keys = append(keys, k)
		}
		cl.add(t)
	}
	slices.SortFunc(keys, func(x, y key) int { return cmp.Or(cmp.Compare(x.c, y.c), cmp.Compare(x.p, y.p)) })
	var out []Claim
	for _, k := range keys {
		if cl := byKey[k]; cl.ProductDiscount != 0 || cl.TransferDiscount != 0 || cl.CapDiscount != 0 {
			out = append(out, *cl)
		}
	}
	return out, nil
}

// CityClaims sums claims per city, largest claim first (ties by code).
func CityClaims(claims []Claim) []Claim {
	byCity := map[transit.City]*Claim{}
	for i := range claims {
		c := &claims[i]
		t := byCity[c.City]
		if t == nil {
			t = &Claim{City: c.City}
			byCity[c.City] = t
		}
		t.Count += c.Count
		t.Gross += c.Gross
		t.ProductDiscount += c.ProductDiscount
		t.TransferDiscount += c.TransferDiscount
		t.CapDiscount += c.CapDiscount
		t.Charged += c.Charged
	}
	out := make([]Claim, 0, len(byCity))
	for _, c := range sortedCities(byCity) {
		out = append(out, *byCity[c])
	}
	slices.SortStableFunc(out, func(x, y Claim) int { return cmp.Compare(y.Total(), x.Total()) })
	return out
}

func parseCity(what, s string) (transit.City, error) {
	c, err := transit.ParseCity([]byte(s))
	if err != nil {
		return 0, fmt.Errorf("report: summary: %s %q: %w", what, s, err)
	}
	return c, nil
}

// tables returns the three tables both renderings show: the flows, the
// net positions and the claims.
func (d *Day) tables() ([]Flow, []Net, []Claim, error) {
	flows, err := d.Flows()
	if err != nil {
		return nil, nil, nil, err
	}
	nets, err := d.NetPositions()
	if err != nil {
		return nil, nil, nil, err
	}
	claims, err := d.Claims()
	if err != nil {
		return nil, nil, nil, err
	}
	return flows, nets, claims, nil
}
