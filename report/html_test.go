package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/internal/fixture"
)

func page(t *testing.T, d *Day, top int) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, d, top); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// external matches what could make a browser fetch: a source, a link, a
// style's url(), an import, a script. The SVG namespaces
// (xmlns="http://www.w3.org/...") are names, never fetched.
var external = regexp.MustCompile(`(?i)<script|\bsrc\s*=|\bhref\s*=|url\(|@import|<link\b|<iframe|<object|<embed`)

// svgElements returns the inline <svg> elements of the page, each parsed
// as XML (a chart that is not well-formed SVG fails here).
func svgElements(t *testing.T, html string) []string {
	t.Helper()
	var out []string
	for rest := html; ; {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			return out
		}
		j := strings.Index(rest[i:], "</svg>")
		if j < 0 {
			t.Fatal("an <svg> element is not closed")
		}
		el := rest[i : i+j+len("</svg>")]
		dec := xml.NewDecoder(strings.NewReader(el))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("chart %d is not well-formed XML: %v", len(out)+1, err)
			}
		}
		out = append(out, el)
		rest = rest[i+j:]
	}
}

// TestHTMLFixture: the fixture's page has its four charts, its figures,
// nothing that fetches, and the same bytes every time.
func TestHTMLFixture(t *testing.T) {
	d := readFixture(t, writeFixtureDay(t, true, nil))
	html := page(t, d, 2)
	if m := external.FindString(html); m != "" {
		t.Errorf("the page refers to something outside itself: %q", m)
	}
	if !strings.Contains(html, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`) {
		t.Error("the page has no Content-Security-Policy forbidding fetches")
	}
	svgs := svgElements(t, html)
	if len(svgs) != 4 {
		t.Fatalf("%d charts, want 4", len(svgs))
	}
	for i, want := range []string{
		"Net positions of the 6 participants", "Shanghai 8.30", "Ningbo -5.80", // the two ends named
		"The 4 largest flows between cities", "Beijing → Shanghai", "Ningbo → Hangzhou",
		"Discounts given per city (4 cities", "Guangzhou", "card product",
		"Taps per hour (ledger)", "from 04:00 (CST)", "metro",
	} {
		if !strings.Contains(svgs[i/3], want) {
			t.Errorf("chart %d lacks %q", i/3+1, want)
		}
	}
	for _, want := range []string{
		"<title>tapsettle report 2025-03-01</title>",
		`<td>Shanghai 310100 <span class="zh">上海市</span></td><td class="n">9.00</td><td class="n">0.70</td><td class="n">8.30</td>`,
		`<td>Ningbo 330200 <span class="zh">宁波市</span></td><td>joinin</td><td class="n">6</td><td class="n">2.00</td><td class="n">0.80</td><td class="n">1.20</td><td class="n">0.00</td><td class="n">2.00</td>`,
		"<strong>0.80 CNY</strong>",
		"14 taps of the ledger",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if again := page(t, d, 2); again != html {
		t.Error("the same day gave two different pages")
	}
}

// TestHTMLEscapes: names reach the page and its charts escaped, whatever
// the city data holds.
func TestHTMLEscapes(t *testing.T) {
	hostile := append([]fares.City(nil), fixtureCities...)
	hostile[1].NameEN = `<script>alert("x")</script>&`
	hostile[1].NameZH = `</span><img src=x onerror=alert(1)>`
	d, err := Read(writeFixtureDay(t, true, nil), Options{Cities: hostile, Calendar: fixture.Calendar(t)})
	if err != nil {
		t.Fatal(err)
	}
	html := page(t, d, 10)
	for _, bad := range []string{"<script", "<img", `alert("x")`} {
		if strings.Contains(html, bad) {
			t.Errorf("a city name got into the page unescaped: %q", bad)
		}
	}
	if n := strings.Count(html, "&lt;script&gt;alert("); n < 4 { // creditor table, flows table, claims table, charts
		t.Errorf("the escaped name occurs %d times, want at least 4", n)
	}
	svgElements(t, html) // still well-formed
}

// TestHTMLNothingToDraw: an undated folder has nothing to chart, and each
// chart's place says why.
func TestHTMLNothingToDraw(t *testing.T) {
	html := page(t, readFixture(t, writeUndatedDay(t)), 10)
	if n := len(svgElements(t, html)); n != 0 {
		t.Errorf("%d charts of an undated folder, want none", n)
	}
	for _, want := range []string{"Every participant&#39;s net position is zero", "No flows", "No discount was given", "undated folder", "Nothing to chart"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHTMLWithoutLedger: the hours chart of a day without a ledger says
// what it counts.
func TestHTMLWithoutLedger(t *testing.T) {
	html := page(t, readFixture(t, writeFixtureDay(t, false, nil)), 10)
	svgs := svgElements(t, html)
	if len(svgs) != 4 || !strings.Contains(svgs[3], "Interregional journeys per hour (clearing files; the day has no ledger)") {
		t.Fatalf("%d charts; want 4, the last of the interregional journeys", len(svgs))
	}
	if !strings.Contains(html, "taps per hour cannot be computed for all taps") {
		t.Error("the page does not say that taps per hour need a ledger")
	}
}
