package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/internal/testtool"
)

var update = flag.Bool("update", false, "write the browser's screenshot of a generated day's page to docs/img/report.png")

// screenshot is where -update writes the page as the browser shows it,
// for the README.
var screenshot = filepath.Join("..", "docs", "img", "report.png")

// browserEvents collects what the page did while it loaded: console
// errors, uncaught exceptions, the browser's error log entries (a
// resource refused by the Content-Security-Policy, say) and every URL it
// requested.
type browserEvents struct {
	mu       sync.Mutex
	errors   []string
	requests []string
}

func (b *browserEvents) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		// The page has no script: any console call at all is a surprise.
		var args []string
		for _, a := range ev.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		b.errors = append(b.errors, fmt.Sprintf("console.%s: %v", ev.Type, args))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		what := d.Text
		if d.Exception != nil {
			what += " " + d.Exception.Description
		}
		b.errors = append(b.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, what))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			b.errors = append(b.errors, fmt.Sprintf("log %s %s: %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	}
}

// TestHTMLInBrowser opens the page of a generated day (336 participants,
// with a ledger) in headless Chromium: its four charts render with a
// size, nothing goes to the console, no script error, and the browser
// requests nothing but the file itself. Debian's chromium is needed:
// without it the test skips, and under CI=true fails.
func TestHTMLInBrowser(t *testing.T) {
	chromium := testtool.Require(t, "chromium", "chromium", "opening the report page in a real browser")
	ledger, _, book := generatedDays(t)
	d, err := Read(ledger, Options{Cities: book.Cities(), Calendar: fixture.Calendar(t)})
	if err != nil {
		t.Fatal(err)
	}
	d.Dir = "out/2025-03-03" // as a reader would have it, not the test's temporary folder
	var html bytes.Buffer
	if err := WriteHTML(&html, d, 10); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, html.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: path}).String()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, cancel = chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	defer cancel()
	var events browserEvents
	// The listener is there before the tab opens: it sees every event.
	ctx, cancel = chromedp.NewContext(ctx, chromedp.WithListener(events.listen))
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "tapsettle report 2025-03-03" {
		t.Errorf("title %q", title)
	}
	type box struct{ W, H float64 }
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[[]box](`Array.from(document.querySelectorAll("svg"), s => {
		const r = s.getBoundingClientRect();
		return {W: r.width, H: r.height};
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != 4 {
		t.Errorf("%d svg elements, want the 4 charts", len(boxes))
	}
	for i, b := range boxes {
		if b.W < 100 || b.H < 100 {
			t.Errorf("chart %d renders %.0fx%.0f px, want a visible size", i+1, b.W, b.H)
		}
	}
	// Each chart drew its bars: gonum draws a bar as a path.
	paths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll("svg"), s => s.querySelectorAll("path").length)`))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range paths {
		if n < 10 {
			t.Errorf("chart %d draws %d paths: no bars?", i+1, n)
		}
	}

	if *update {
		writeScreenshot(t, ctx)
	}
	events.mu.Lock()
	defer events.mu.Unlock()
	for _, e := range events.errors {
		t.Errorf("browser: %s", e)
	}
	if len(events.requests) == 0 {
		t.Error("no request recorded: the network listener saw nothing, not even the page")
	}
	for _, u := range events.requests {
		if u != pageURL {
			t.Errorf("the page requested %s: it must need nothing but itself", u)
		}
	}
}

// writeScreenshot writes the top of the page, as the browser renders it,
// to docs/img/report.png, recompressed to stay small.
func writeScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 1900)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(screenshot, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", screenshot, out.Len())
}
