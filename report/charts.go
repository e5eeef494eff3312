package report

import (
	"bytes"
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tapsettle/tapsettle/transit"
)

// The charts' colours: a receivable and the bus in blue, a payable and
// the metro in orange, the kinds of discount in three more.
var (
	blue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	orange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	green  = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	purple = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	grey   = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
)

// yuan converts an amount to CNY for placing a bar: the one place where
// money becomes a float, and only to be drawn.
func yuan(f transit.Fen) float64 { return float64(f) / 100 }

// sans is the charts' typeface, Liberation Sans (gonum/plot's default is
// its serif): the page around them is sans-serif.
const sans = "Sans"

// newPlot returns a plot with the report's title and axis labels, all its
// text sans-serif.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	for _, s := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		s.Font.Variant = sans
	}
	return p
}

// bars returns a bar chart of vs in c, without outlines.
func bars(vs plotter.Values, width vg.Length, c color.Color) (*plotter.BarChart, error) {
	b, err := plotter.NewBarChart(vs, width)
	if err != nil {
		return nil, fmt.Errorf("report: chart: %w", err)
	}
	b.Color = c
	b.LineStyle.Width = 0
	return b, nil
}

// svg renders p as an SVG element for inlining in HTML: gonum's
// document without its XML declaration and comment. Its text is escaped
// by the SVG canvas (html.EscapeString).
func svg(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return nil, fmt.Errorf("report: chart %q: %w", p.Title.Text, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("report: chart %q: %w", p.Title.Text, err)
	}
	out := b.Bytes()
	i := bytes.Index(out, []byte("<svg"))
	if i < 0 {
		return nil, fmt.Errorf("report: chart %q: no <svg> element", p.Title.Text)
	}
	return out[i:], nil
}

// netChart draws the net positions of every participant as bars, largest
// creditor to largest debtor, naming the two ends.
func netChart(d *Day, nets []Net) ([]byte, error) {
	vs := make(plotter.Values, len(nets))
	for i, n := range nets {
		vs[i] = yuan(n.Amount)
	}
	p := newPlot(fmt.Sprintf("Net positions of the %d participants", len(nets)),
		"participants, largest creditor to largest debtor", "net position, CNY")
	b, err := bars(vs, 1.5, blue)
	if err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid(), b)
	// Name the largest creditor and debtor beside their bars.
	for _, end := range []struct {
		i     int
		align text.XAlignment
		off   vg.Length
	}{{0, draw.XLeft, 4}, {len(nets) - 1, draw.XRight, -4}} {
		n := nets[end.i]
		if n.Amount == 0 {
			continue
		}
		l, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    plotter.XYs{{X: float64(end.i), Y: yuan(n.Amount) / 2}},
			Labels: []string{fmt.Sprintf("%s %s", d.Name(n.Participant), n.Amount)},
		})
		if err != nil {
			return nil, fmt.Errorf("report: chart: %w", err)
		}
		l.TextStyle[0].XAlign = end.align
		l.TextStyle[0].Font.Variant = sans
		l.Offset = vg.Point{X: end.off}
		p.Add(l)
	}
	p.X.Min, p.X.Max = -1, float64(len(nets))
	return svg(p, 9*vg.Inch, 4*vg.Inch)
}

// flowsChart draws the largest flows as horizontal bars, largest on top.
func flowsChart(d *Day, flows []Flow) ([]byte, error) {
	n := len(flows)
	vs := make(plotter.Values, n)
	names := make([]string, n)
	for i, f := range flows {
		vs[n-1-i] = yuan(f.Charged)
		names[n-1-i] = d.Name(f.Issuer) + " → " + d.Name(f.Acquirer)
	}
	p := newPlot(fmt.Sprintf("The %d largest flows between cities (issuer → acquirer)", n), "charged, CNY", "")
	b, err := bars(vs, 8, blue)
	if err != nil {
		return nil, err
	}
	b.Horizontal = true
	p.Add(plotter.NewGrid(), b)
	p.NominalY(names...)
	return svg(p, 9*vg.Inch, vg.Length(1+n/4)*vg.Inch)
}

// discountChart draws the discounts of the cities with the largest
// claims, stacked by kind, largest on top.
func discountChart(d *Day, cities []Claim) ([]byte, error) {
	n := len(cities)
	prod, xfer, capv := make(plotter.Values, n), make(plotter.Values, n), make(plotter.Values, n)
	names := make([]string, n)
	for i, c := range cities {
		j := n - 1 - i
		prod[j], xfer[j], capv[j] = yuan(c.ProductDiscount), yuan(c.TransferDiscount), yuan(c.CapDiscount)
		names[j] = d.Name(c.City)
	}
	p := newPlot(fmt.Sprintf("Discounts given per city (%d cities with the largest claims)", n), "discount, CNY", "")
	var under *plotter.BarChart
	for _, k := range []struct {
		vs    plotter.Values
		c     color.Color
		label string
	}{{prod, green, "card product"}, {xfer, purple, "transfer"}, {capv, grey, "cap and volume"}} {
		b, err := bars(k.vs, 8, k.c)
		if err != nil {
			return nil, err
		}
		b.Horizontal = true
		if under != nil {
			b.StackOn(under)
		}
		under = b
		p.Add(b)
		p.Legend.Add(k.label, b)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.NominalY(names...)
	return svg(p, 9*vg.Inch, vg.Length(1.5+float64(n)/4)*vg.Inch)
}

// hoursChart draws taps per hour of the day, bus beside metro.
func hoursChart(h *Hours) ([]byte, error) {
	what := "Taps per hour (ledger)"
	if h.Source == HoursClearing {
		what = "Interregional journeys per hour (clearing files; the day has no ledger)"
	}
	p := newPlot(what, fmt.Sprintf("hour of the settlement day, from %s (%s)", h.Label(0), h.Start.Location()), "taps")
	names := make([]string, len(h.Bus))
	for i := range names {
		names[i] = strings.TrimSuffix(h.Label(i), ":00")
	}
	for _, m := range []struct {
		counts []int64
		c      color.Color
		label  string
		off    vg.Length
	}{{h.Bus, blue, "bus", -4}, {h.Metro, orange, "metro", 4}} {
		vs := make(plotter.Values, len(m.counts))
		for i, n := range m.counts {
			vs[i] = float64(n)
		}
		b, err := bars(vs, 8, m.c)
		if err != nil {
			return nil, err
		}
		b.Offset = m.off
		p.Add(b)
		p.Legend.Add(m.label, b)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.NominalX(names...)
	return svg(p, 9*vg.Inch, 4*vg.Inch)
}
