package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/bench"
)

// plotPoints parses svg as XML and counts its point glyphs (gonum draws
// a circle as a path of two arcs) by fill colour, and its texts.
func plotPoints(t *testing.T, svg []byte) (points map[string]int, texts []string) {
	t.Helper()
	points = map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the plot is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			inText = el.Name.Local == "text"
			if el.Name.Local != "path" {
				continue
			}
			var d, style string
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "d":
					d = a.Value
				case "style":
					style = a.Value
				}
			}
			if strings.Count(d, "A") == 2 && strings.HasPrefix(style, "fill:#") {
				points[strings.TrimPrefix(style, "fill:")]++
			}
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(el)))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return points, texts
}

// TestBenchPlot: one point per measurement in each kind's colour (and one
// in its legend entry), the kinds named in the legend.
func TestBenchPlot(t *testing.T) {
	var rows []bench.Result
	for _, name := range []string{"engine", "engine batch", "engine+aggregate"} {
		for _, n := range []int{1, 2, 4} {
			rows = append(rows, bench.Result{Name: name, Shards: n, Taps: int64(1000 * n), Elapsed: time.Millisecond})
		}
	}
	svg, err := benchPlot(rows)
	if err != nil {
		t.Fatal(err)
	}
	points, texts := plotPoints(t, svg)
	for _, c := range []string{"#1F77B4", "#FF7F0E", "#2CA02C"} {
		if points[c] != 3+1 {
			t.Errorf("%d points of colour %s, want 3 measurements and a legend glyph", points[c], c)
		}
	}
	if len(points) != 3 {
		t.Errorf("points in %d colours, want 3: %v", len(points), points)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"engine", "engine batch", "engine+aggregate", "linear from engine at 1 shard(s)", "shards", "M taps/s", "|1|2|4|"} {
		if !strings.Contains(all, want) {
			t.Errorf("plot texts %q lack %q", all, want)
		}
	}
	if _, err := benchPlot(nil); err == nil {
		t.Error("a plot of no measurements")
	}
}

// TestBenchPlotCommand: bench --plot writes the plot of the engine rows
// it measured.
func TestBenchPlotCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scaling.svg")
	out, err := run(t, "bench", "--engine-only", "--taps", "3000", "--rounds", "1", "--repeat", "1", "--shards", "1,2", "--plot", path)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	points, _ := plotPoints(t, svg)
	var n int
	for _, k := range points {
		n += k
	}
	if n != 3*2+3 {
		t.Errorf("%d points, want 3 kinds x 2 shard counts and 3 legend glyphs: %v", n, points)
	}
}
