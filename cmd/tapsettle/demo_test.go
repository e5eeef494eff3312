package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestDemoReport: the demo's third step reports the malformed records as
// the second did (kept out of the topic, not "0 malformed"), shows its
// progress while the service prices, and gives the pricing time apart
// from the service's start-up and the day's close.
func TestDemoReport(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a generated day through the service")
	}
	out, err := run(t, "demo", "--taps", "5000", "--out", t.TempDir())
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	kept := regexp.MustCompile(`\(the (\d+) malformed records stay out of the topic\)`).FindStringSubmatch(out)
	if kept == nil || kept[1] == "0" {
		t.Fatalf("step 2 does not say how many malformed records stay out of the topic (the generated day has some):\n%s", out)
	}
	for _, want := range []string{
		"the " + kept[1] + " malformed records of the file stayed out of the topic",
		"start-up and the day's close not counted",
		"started and priced its first tap in ",
		"sent close-day ",
		"5. the batch job (tapsettle settle) on the same file wrote the same",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`\b0 malformed`).MatchString(out) {
		t.Errorf("the demo reports 0 malformed records after step 2 kept %s out:\n%s", kept[1], out)
	}
	// The progress, a line a second off a terminal, ends with every tap
	// published.
	published := regexp.MustCompile(`published (\d+) taps`).FindStringSubmatch(out)
	if published == nil || !strings.Contains(out, "   priced "+published[1]+" of "+published[1]+" taps (100%)") {
		t.Errorf("the demo shows no progress up to every tap published:\n%s", out)
	}
	if !regexp.MustCompile(`priced the \d+ taps (in [0-9.]+m?s: \d+ taps/s|within 100ms)`).MatchString(out) {
		t.Errorf("the demo gives no pricing rate:\n%s", out)
	}
}
