package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuoteShowsRulesApplied: quote prints the transfer, time-of-day and
// overtime rules that priced the journey; policy show and check know the
// rules of issue 17.
func TestQuoteShowsRulesApplied(t *testing.T) {
	metro := []string{"quote", "--city", "Ningbo", "--mode", "metro", "--from", "S001", "--to", "S020"}
	for _, tt := range []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"a metro after two buses: the allowance is spent",
			append(metro, "--at", "2025-03-03T08:40:00+08:00", "--after", "bus@08:00", "--after", "bus@08:20"),
			[]string{"charged            6.00 CNY", "after              bus 08:20: gross 2.00, charged 0.80 CNY", "had spent allowance one-per-90-min"},
			[]string{"transfer discount  1.00"}},
		{"a metro after one bus: the bus-metro discount",
			append(metro, "--at", "2025-03-03T08:40:00+08:00", "--after", "bus@08:00"),
			[]string{"charged            5.00 CNY", "applied            transfer bus-metro", "allowance one-per-90-min: 1 discounted transfer per chain"}, nil},
		{"a senior at 08:59 pays half",
			append(metro, "--product", "senior", "--at", "2025-03-03T08:59:00+08:00"),
			[]string{"charged            3.00 CNY", "time: Mon 2025-03-03 08:59 (UTC+8, the entry)", "product senior-ningbo-peak: senior pays 50%"}, nil},
		{"a senior at 09:00 rides free",
			append(metro, "--product", "senior", "--at", "2025-03-03T09:00:00+08:00"),
			[]string{"charged            0.00 CNY", "working-day-peak", ": not in effect", "product senior-ningbo: senior pays 0%"}, nil},
		{"Beijing over 240 minutes: the surcharge",
			[]string{"quote", "--city", "Beijing", "--mode", "metro", "--from", "S001", "--to", "S020", "--minutes", "241"},
			[]string{"charged            8.00 CNY", "rules              metro-distance+overtime", "distance fare plus 3.00 CNY"}, nil},
		{"Beijing at 240 minutes: no overtime",
			[]string{"quote", "--city", "Beijing", "--mode", "metro", "--from", "S001", "--to", "S020", "--minutes", "240"},
			[]string{"charged            5.00 CNY"}, []string{"overtime"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}
	if out, err := run(t, append(metro, "--after", "tram@08:00")...); err == nil {
		t.Errorf("quote accepted --after tram@08:00:\n%s", out)
	}
	if out, err := run(t, append(metro, "--at", "2025-03-03T08:00:00+08:00", "--after", "bus@08:30")...); err == nil {
		t.Errorf("quote accepted an earlier leg after --at:\n%s", out)
	}

	out, err := run(t, "policy", "show", "Beijing", "--day", "2025-03-03")
	if err != nil || !strings.Contains(out, "time in system: 240 min; a longer journey pays its distance fare plus 3.00 CNY") {
		t.Errorf("policy show Beijing: %v\n%s", err, out)
	}
	out, err = run(t, "policy", "show", "Ningbo", "--day", "2025-03-03")
	for _, w := range []string{"allowance one-per-90-min", "senior-ningbo-peak", "working-day-peak: 07:00-09:00, 17:00-19:00", "calendar statutory-working-days"} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("policy show Ningbo lacks %q: %v\n%s", w, err, out)
		}
	}
	bad := t.TempDir()
	src := `city: 330200
versions:
  - effective_from: 2020-01-01
    source: "ours: test"
    bus: {fare: 200, source: "ours: test"}
    timeframes:
      - {name: peak, times: [{start: "09:00", end: "07:00"}], source: "ours: test"}
`
	if err := os.WriteFile(filepath.Join(bad, "330200_ningbo.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "policy", "check", bad)
	var ex exitError
	if !errors.As(err, &ex) || !strings.Contains(out, "330200_ningbo.yaml:7: versions[0].timeframes[0].times[0]") {
		t.Errorf("policy check of a bad timeframe: err %v\n%s", err, out)
	}
}
