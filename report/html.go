package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed page.html.tmpl
var pageText string

// page is the HTML template. html/template escapes every figure and name
// by its context; only the charts are inserted as they are (see chart).
var pageTemplate = template.Must(template.New("page").Parse(pageText))

// chart is one chart of the page: its SVG (none where there is nothing
// to draw) and a caption saying what it shows, or why there is none.
type chart struct {
	Title string
	// SVG is gonum/plot's SVG document, inserted unescaped: it is made by
	// this package from numbers and city names, and the SVG canvas
	// escapes every text it draws.
	SVG     template.HTML
	Caption string
}

// pageData is what the template shows; every amount is already CNY text.
type pageData struct {
	Day, Dir, Producer, Policy string
	Ledger                     bool
	Files                      int
	Counts                     [][2]string
	Records                    int64
	Malformed                  int64
	Totals                     []amountsRow
	JoinIn                     string
	Flows                      []flowRow
	Pairs                      int
	Participants               int
	Creditors, Debtors         []netRow
	Claims                     []claimRow
	NetChart, FlowChart        chart
	DiscountChart, HoursChart  chart
}

type amountsRow struct{ Name, Count, Gross, Discount, Charged string }

type flowRow struct {
	Issuer, IssuerZH, Acquirer, AcquirerZH string
	amountsRow
}

type netRow struct{ Name, NameZH, Receivable, Payable, Net string }

type claimRow struct {
	City, CityZH, Product, Count, Gross, ProductDiscount, TransferDiscount, CapDiscount, Total string
}

// WriteHTML writes one self-contained HTML page for the day: the figures
// of WriteText (top flows, creditors and debtors) and four charts, drawn
// by gonum/plot as SVG and inlined: the net positions of every
// participant, the 2*top largest flows, the discounts per city of the
// 2*top largest claims, and taps per hour. The page holds no script and
// refers to nothing outside itself (its Content-Security-Policy forbids
// any fetch), so it opens offline and the same day gives the same bytes.
func WriteHTML(w io.Writer, d *Day, top int) error {
	flows, nets, claims, err := d.tables()
	if err != nil {
		return err
	}
	s := d.Summary
	all, inter, adj := d.Totals()
	data := pageData{
		Day: s.Day, Dir: d.Dir, Producer: s.Producer, Policy: s.PolicyFingerprint, Ledger: s.Ledger, Files: d.Files,
		Counts: [][2]string{
			{"charged", num(s.Counts.Charged)}, {"open", num(s.Counts.Open)}, {"duplicate", num(s.Counts.Duplicate)},
			{"rejected", num(s.Counts.Rejected)}, {"incomplete", num(s.Counts.Incomplete)},
		},
		Records: s.Records, Malformed: s.Malformed,
		Totals: []amountsRow{
			amountsText("all", all), amountsText("interregional", inter), amountsText("adjustments", adj),
		},
		JoinIn: d.JoinInDiscount().String(), Pairs: len(flows), Participants: len(nets),
	}
	for _, f := range flows[:min(top, len(flows))] {
		data.Flows = append(data.Flows, flowRow{Issuer: d.place(f.Issuer), IssuerZH: d.NameZH(f.Issuer),
			Acquirer: d.place(f.Acquirer), AcquirerZH: d.NameZH(f.Acquirer), amountsRow: amountsText("", f.Amounts)})
	}
	netRows := func(ns []Net) []netRow {
		var out []netRow
		for _, n := range ns {
			out = append(out, netRow{Name: d.place(n.Participant), NameZH: d.NameZH(n.Participant),
				Receivable: n.Receivable.String(), Payable: n.Payable.String(), Net: n.Amount.String()})
		}
		return out
	}
	data.Creditors, data.Debtors = netRows(Creditors(nets, top)), netRows(Debtors(nets, top))
	for i := range claims {
		c := &claims[i]
		data.Claims = append(data.Claims, claimRow{City: d.place(c.City), CityZH: d.NameZH(c.City), Product: c.Product.String(),
			Count: num(c.Count), Gross: c.Gross.String(), ProductDiscount: c.ProductDiscount.String(),
			TransferDiscount: c.TransferDiscount.String(), CapDiscount: c.CapDiscount.String(), Total: c.Total().String()})
	}
	cs, err := charts(d, nets, flows, claims, top)
	if err != nil {
		return err
	}
	data.NetChart, data.FlowChart, data.DiscountChart, data.HoursChart = cs[0], cs[1], cs[2], cs[3]
	if err := pageTemplate.Execute(w, &data); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}

func amountsText(name string, a Amounts) amountsRow {
	return amountsRow{Name: name, Count: num(a.Count), Gross: a.Gross.String(), Discount: a.Discount.String(), Charged: a.Charged.String()}
}

// charts draws the page's four charts, each with a caption, or with a
// caption saying why it has nothing to show.
func charts(d *Day, nets []Net, flows []Flow, claims []Claim, top int) ([]chart, error) {
	var out []chart
	add := func(title, caption string, draw func() ([]byte, error)) error {
		c := chart{Title: title, Caption: caption}
		if draw != nil {
			b, err := draw()
			if err != nil {
				return err
			}
			c.SVG = template.HTML(b) // gonum's SVG, its text escaped (see chart.SVG)
		}
		out = append(out, c)
		return nil
	}
	var moved bool
	for _, n := range nets {
		moved = moved || n.Amount != 0
	}
	if moved {
		err := add("Net positions", fmt.Sprintf("Receivable less payable of each of the %d participants, sorted; they sum to zero.", len(nets)),
			func() ([]byte, error) { return netChart(d, nets) })
		if err != nil {
			return nil, err
		}
	} else if err := add("Net positions", "Every participant's net position is zero: no card rode outside its issuer's city.", nil); err != nil {
		return nil, err
	}
	if len(flows) > 0 {
		shown := flows[:min(2*top, len(flows))]
		err := add("Top flows between cities", fmt.Sprintf("The %d largest of %d bilateral flows: what the issuer's cards were charged in the acquirer's city, which the issuer pays.", len(shown), len(flows)),
			func() ([]byte, error) { return flowsChart(d, shown) })
		if err != nil {
			return nil, err
		}
	} else if err := add("Top flows between cities", "No flows: no card rode outside its issuer's city.", nil); err != nil {
		return nil, err
	}
	if cities := CityClaims(claims); len(cities) > 0 {
		shown := cities[:min(2*top, len(cities))]
		err := add("Discounts per city", fmt.Sprintf("The %d of %d cities with the largest subsidy claims, by kind of reduction (bus and metro).", len(shown), len(cities)),
			func() ([]byte, error) { return discountChart(d, shown) })
		if err != nil {
			return nil, err
		}
	} else if err := add("Discounts per city", "No discount was given on this day.", nil); err != nil {
		return nil, err
	}
	h := &d.Hours
	caption := "Taps per hour: " + h.Note() + "."
	var draw func() ([]byte, error)
	if h.Source != HoursNone && h.Total() > 0 {
		draw = func() ([]byte, error) { return hoursChart(h) }
	} else {
		caption += " Nothing to chart."
	}
	if err := add("Taps per hour", caption, draw); err != nil {
		return nil, err
	}
	return out, nil
}
