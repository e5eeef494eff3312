package fares

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheck runs Check over testdata/broken, where every file holds one or
// more problems, and expects each of them, with its file, line and key.
// The lines were read off the files by hand.
func TestCheck(t *testing.T) {
	want := []problem{
		// file, line, key, sentinel
		{"a_unknown_key.yaml", 6, "versions[0].bus.fair", ErrUnknownKey},
		{"a_unknown_key.yaml", 8, "versions[0].bus.source", ErrDuplicateKey},
		{"a_unknown_key.yaml", 10, "versions[0].metro.ladder", ErrType},
		{"b_rules.yaml", 6, "versions[0].bus.fare", ErrRange},
		{"b_rules.yaml", 7, "versions[0].bus.source", ErrLabel},
		{"b_rules.yaml", 14, "versions[0].metro.ladder.steps[1].up_to_km", ErrRange},
		{"b_rules.yaml", 20, "versions[0].metro.network.lines[0].stations[2]", ErrDuplicate},
		{"b_rules.yaml", 25, "versions[0].transfers[0].to[0]", ErrInvalid},
		{"b_rules.yaml", 26, "versions[0].transfers[0].window_minutes", ErrRange},
		{"b_rules.yaml", 33, "versions[0].products[0].issuers[0]", ErrUnknownCity},
		{"b_rules.yaml", 34, "versions[0].products[0].pay_bp.bus", ErrRange},
		{"b_rules.yaml", 36, "versions[1].effective_from", ErrDuplicate},
		{"c_disconnected.yaml", 10, "versions[0].metro.network", ErrDisconnected},
		{"d_unknown_city.yaml", 1, "city", ErrUnknownCity},
		{"d_unknown_city.yaml", 3, "versions[0].effective_from", ErrInvalid},
		{"d_unknown_city.yaml", 7, "versions[0].transfers[0].window_minutes", ErrRange}, // checked despite the bad date
		{"e_syntax.yaml", 2, "", ErrSyntax},                                             // yaml.v3 names the line where the broken block starts
		{"f_duplicate_city.yaml", 1, "city", ErrDuplicate},
		{"g_more.yaml", 5, "versions[0].bus.fare", ErrMissing}, // at the mapping that lacks it
		{"g_more.yaml", 12, "versions[0].metro.ladder.steps[0].up_to_km", ErrInvalid},
		{"g_more.yaml", 15, "versions[0].metro.network.synthetic.lines", ErrRange},
		{"g_more.yaml", 17, "versions[0].transfers[0].max_uses", ErrMissing},
		{"g_more.yaml", 20, "versions[0].transfers[0].window_minutes", ErrInvalid},
		{"g_more.yaml", 29, "versions[0].caps.volume.tiers[1].after", ErrRange},
		{"h_template.yaml", 9, "versions[0].metro.network", ErrInvalid},
		{"i_alias.yaml", 5, "versions[0].bus.source", ErrType},
		{"j_control.yaml", 5, "versions[0].bus.source", ErrInvalid}, // a line break in a string
		// The rules of issue 17: overtime, allowances, timeframes, calendars.
		{"k_time_rules.yaml", 9, "versions[0].metro.overtime", ErrInvalid}, // no max_in_system_min
		{"k_time_rules.yaml", 9, "versions[0].metro.overtime.charge", ErrInvalid},
		{"k_time_rules.yaml", 12, "versions[0].transfers[0].window_minutes", ErrRange}, // past the allowance's 90 min
		{"k_time_rules.yaml", 13, "versions[0].transfers[1].allowance", ErrInvalid},
		{"k_time_rules.yaml", 14, "versions[0].transfers[2].max_uses", ErrInvalid}, // with an allowance
		{"k_time_rules.yaml", 16, "versions[0].transfer_allowances[0].duration_limit_type", ErrInvalid},
		{"k_time_rules.yaml", 17, "versions[0].transfer_allowances[1]", ErrInvalid}, // no rule draws on it
		{"k_time_rules.yaml", 17, "versions[0].transfer_allowances[1].transfer_count", ErrRange},
		{"k_time_rules.yaml", 19, "versions[0].products[0].timeframe", ErrInvalid},
		{"k_time_rules.yaml", 21, "versions[0].timeframes[0].source", ErrMissing},
		{"k_time_rules.yaml", 22, "versions[0].timeframes[0].calendar", ErrInvalid},
		{"k_time_rules.yaml", 24, "versions[0].timeframes[0].times[0].start", ErrInvalid}, // "7:00"
		{"k_time_rules.yaml", 25, "versions[0].timeframes[0].times[1]", ErrRange},         // start after end
		{"k_time_rules.yaml", 26, "versions[0].timeframes[0].times[2].end", ErrRange},     // 24:01
		{"k_time_rules.yaml", 28, "versions[0].timeframes[1].times", ErrRange},            // overlapping spans
		{"k_time_rules.yaml", 32, "versions[0].calendars[0].days[1]", ErrInvalid},
		{"k_time_rules.yaml", 33, "versions[0].calendars[0].removed_dates[1]", ErrRange}, // a range backwards
		{"k_time_rules.yaml", 33, "versions[0].calendars[0].removed_dates[2]", ErrInvalid},
		{"k_time_rules.yaml", 34, "versions[0].calendars[0].added_dates", ErrDuplicate}, // also removed
		{"k_time_rules.yaml", 42, "versions[1].metro.overtime", ErrInvalid},
		{"k_time_rules.yaml", 42, "versions[1].metro.overtime.surcharge", ErrInvalid}, // not with highest_fare_from_exit
	}
	err := Check("testdata/broken")
	if err == nil {
		t.Fatal("Check accepted the broken files")
	}
	var got []problem
	// Check's error is errors.Join of one *Error per problem.
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Errorf("problem %q is not an *Error", e)
			continue
		}
		p := problem{file: filepath.Base(pe.File), line: pe.Line, key: pe.Key}
		for _, w := range want {
			if errors.Is(pe, w.err) {
				p.err = w.err
				break
			}
		}
		if !strings.HasPrefix(pe.Error(), fmt.Sprintf("%s:%d: ", pe.File, pe.Line)) {
			t.Errorf("%q does not start with file:line", pe.Error())
		}
		got = append(got, p)
	}
	order := func(a, b problem) int {
		return strings.Compare(fmt.Sprint(a.file, a.line, a.key), fmt.Sprint(b.file, b.line, b.key))
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Errorf("Check reported:\n%s\nwant:\n%s\nfull error:\n%v", list(got), list(want), err)
	}

	// Load refuses the same directory with the same problems.
	if _, lerr := Load("testdata/broken"); lerr == nil || !errors.Is(lerr, ErrDisconnected) || !errors.Is(lerr, ErrSyntax) {
		t.Errorf("Load(testdata/broken) = %v", lerr)
	}
}

type problem struct {
	file string
	line int
	key  string
	err  error
}

func (p problem) String() string { return fmt.Sprintf("%s:%d: %s: %v", p.file, p.line, p.key, p.err) }

func list[T any](xs []T) string {
	var b strings.Builder
	for _, x := range xs {
		fmt.Fprintf(&b, "  %v\n", x)
	}
	return b.String()
}

func TestCheckGood(t *testing.T) {
	if err := Check("testdata/override"); err != nil {
		t.Errorf("Check(testdata/override) = %v", err)
	}
	if err := Check("policies"); err != nil {
		t.Errorf("Check(policies) = %v: the shipped policies must pass as an override directory", err)
	}
	if err := Check("testdata/no-such-dir"); err == nil {
		t.Error("Check of a missing directory succeeded")
	}
}
