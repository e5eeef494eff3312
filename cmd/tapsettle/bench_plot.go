package main

import (
	"bytes"
	"fmt"
	"image/color"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/internal/durable"
)

// benchPlotColors colour the engine's series in the order bench measures
// them (engine, engine batch, engine+aggregate).
var benchPlotColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// writeBenchPlot draws the engine rows of bench (the median of each
// measurement) as M taps/s against the shard count, one line per kind of
// run, beside the linear scaling of the first kind's first count, and
// writes the SVG to path. An empty path writes nothing.
func writeBenchPlot(path string, rows []bench.Result) error {
	if path == "" {
		return nil
	}
	svg, err := benchPlot(rows)
	if err != nil {
		return fmt.Errorf("bench --plot: %w", err)
	}
	if _, err := durable.WriteFile(path, svg, true); err != nil {
		return fmt.Errorf("bench --plot: %w", err)
	}
	return nil
}

// benchPlot returns the SVG of writeBenchPlot.
func benchPlot(rows []bench.Result) ([]byte, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("no engine measurements to plot")
	}
	var names []string
	series := map[string]plotter.XYs{}
	var counts []int
	for _, r := range rows {
		if _, ok := series[r.Name]; !ok {
			names = append(names, r.Name)
		}
		series[r.Name] = append(series[r.Name], plotter.XY{X: float64(r.Shards), Y: r.TapsPerSecond() / 1e6})
		if !slices.Contains(counts, r.Shards) {
			counts = append(counts, r.Shards)
		}
	}
	slices.Sort(counts)
	p := plot.New()
	p.Title.Text = "Engine throughput over shard counts (median of each measurement)"
	p.X.Label.Text = "shards"
	p.Y.Label.Text = "M taps/s"
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		st.Font.Variant = "Sans"
	}
	// Shard counts double: a log scale spaces them evenly. The margins
	// keep the end points off the frame and leave the top to the legend.
	p.X.Scale = plot.LogScale{}
	p.X.Min, p.X.Max = float64(counts[0])/1.3, float64(counts[len(counts)-1])*1.3
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	ticks := make([]plot.Tick, len(counts))
	for i, n := range counts {
		ticks[i] = plot.Tick{Value: float64(n), Label: strconv.Itoa(n)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Add(plotter.NewGrid())
	var top float64
	for i, name := range names {
		xys := series[name]
		slices.SortFunc(xys, func(a, b plotter.XY) int { return int(a.X - b.X) })
		for _, xy := range xys {
			top = max(top, xy.Y)
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		c := benchPlotColors[i%len(benchPlotColors)]
		line.Color, points.Color = c, c
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(3)
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}
	// What the first kind would reach at each count if it scaled
	// linearly from its first: the gap is what more shards cost.
	if first := series[names[0]]; len(first) > 1 {
		per := first[0].Y / first[0].X
		ideal := make(plotter.XYs, len(first))
		for i, xy := range first {
			ideal[i] = plotter.XY{X: xy.X, Y: per * xy.X}
			top = max(top, ideal[i].Y)
		}
		l, err := plotter.NewLine(ideal)
		if err != nil {
			return nil, err
		}
		l.Color = color.Gray{Y: 0x80}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add("linear from "+names[0]+" at "+strconv.Itoa(int(first[0].X))+" shard(s)", l)
	}
	p.Y.Max = top * 1.4
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "svg")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
