package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestQuoteDistanceToTheMetre: quote prints the distance it priced on to
// the metre, so that a journey just over a ladder boundary (4,018 m, 3 CNY
// in Ningbo: "2 CNY up to 4 km, then +1 CNY per 4 km to 8 km") does not
// read "4.0 km" next to a fare for more than 4 km.
func TestQuoteDistanceToTheMetre(t *testing.T) {
	shipped, err := os.ReadFile(filepath.Join("..", "..", "fares", "policies", "330200_ningbo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The shipped Ningbo rules on a test network of one line: A to B is
	// 4,018 m, A to C 12,345 m.
	network := regexp.MustCompile(`(?m)^      network:\n(        .*\n)+`)
	if !network.Match(shipped) {
		t.Fatal("the Ningbo policy file has no network section to replace")
	}
	policy := network.ReplaceAll(shipped, []byte("      network:\n        source: \"ours: test\"\n        lines:\n          - {code: T1, stations: [A, B, C], distances_m: [4018, 8327]}\n"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "330200_ningbo.yaml"), policy, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		to, distance, gross string
	}{
		{"B", "4,018 m", "3.00 CNY"},
		{"C", "12,345 m", "4.00 CNY"}, // "+1 CNY ... per 5 km to 13 km"
	} {
		out, err := run(t, "quote", "--policies", dir, "--city", "Ningbo", "--mode", "metro", "--from", "A", "--to", tt.to)
		if err != nil {
			t.Fatalf("quote: %v\n%s", err, out)
		}
		if !strings.Contains(out, "A -> "+tt.to+", "+tt.distance+" on the shortest path") || !strings.Contains(out, "gross              "+tt.gross) {
			t.Errorf("quote A -> %s: want %s and gross %s:\n%s", tt.to, tt.distance, tt.gross, out)
		}
	}
}

func TestMetres(t *testing.T) {
	for m, want := range map[int32]string{0: "0 m", 999: "999 m", 1000: "1,000 m", 4018: "4,018 m", 123456: "123,456 m", 1234567: "1,234,567 m"} {
		if got := metres(m); got != want {
			t.Errorf("metres(%d) = %q, want %q", m, got, want)
		}
	}
}

// TestQuoteNamesCitiesAndClearing: quote names the cities it shows, and
// says which way an interregional ride clears (the issuer owes the riding
// city's operator) and that a local one does not.
func TestQuoteNamesCitiesAndClearing(t *testing.T) {
	out, err := run(t, "quote", "--city", "Shanghai", "--mode", "bus", "--issuer", "Ningbo", "--product", "joinin")
	if err != nil {
		t.Fatalf("quote: %v\n%s", err, out)
	}
	for _, want := range []string{
		"310100 Shanghai (上海市) (policy",
		"issued by 330200 Ningbo (宁波市)",
		"interregional: the issuer, 330200 Ningbo (宁波市), owes the operator of 310100 Shanghai (上海市) the 2.00 CNY charged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("quote lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "quote", "--city", "Ningbo", "--mode", "bus")
	if err != nil {
		t.Fatalf("quote: %v\n%s", err, out)
	}
	if !strings.Contains(out, "local: the card's own city") || strings.Contains(out, "interregional") {
		t.Errorf("a local ride's quote should say it clears nothing:\n%s", out)
	}
}
