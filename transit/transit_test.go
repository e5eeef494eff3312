package transit

import (
	"errors"
	"testing"
	"time"
)

func TestApplyRate(t *testing.T) {
	f := func(fare Fen, bp BasisPoints, want Fen) {
		t.Helper()
		if got := ApplyRate(fare, bp); got != want {
			t.Errorf("ApplyRate(%d, %d) = %d, want %d", fare, bp, got, want)
		}
	}
	f(250, 9500, 238) // domain.md: 2.50 x 95% = 2.375 -> 2.38 (half up)
	f(200, 6000, 120) // Ningbo bus: 2.00 x 60% = 1.20
	f(300, 9500, 285)
	f(1, 5000, 1) // 0.5 fen rounds up
	f(1, 4999, 0)
	f(0, 9500, 0)
	f(700, Full, 700)
	f(-250, 9500, -238)
}

func TestFenString(t *testing.T) {
	for in, want := range map[Fen]string{0: "0.00", 5: "0.05", 120: "1.20", 238: "2.38", -120: "-1.20", 123456: "1234.56"} {
		if got := in.String(); got != want {
			t.Errorf("Fen(%d).String() = %q, want %q", in, got, want)
		}
	}
}

func TestParseCity(t *testing.T) {
	if c, err := ParseCity([]byte("330200")); err != nil || c != Ningbo {
		t.Fatalf("ParseCity(330200) = %v, %v", c, err)
	}
	for _, bad := range []string{"", "33020", "3302000", "330201", "33020a", "000000", "990000"} {
		if _, err := ParseCity([]byte(bad)); err == nil {
			t.Errorf("ParseCity(%q) accepted", bad)
		}
	}
	if got := string(City(110100).AppendText(nil)); got != "110100" {
		t.Errorf("AppendText = %q", got)
	}
}

func TestIDs(t *testing.T) {
	var id TapID
	if err := id.Set([]byte("t-0001")); err != nil || id.String() != "t-0001" {
		t.Fatalf("Set: %v %q", err, id.String())
	}
	if err := id.Set([]byte("x")); err != nil || id.String() != "x" {
		t.Fatalf("Set shorter must clear the tail: %q", id.String())
	}
	for _, bad := range []string{"", "a,b", "a b", "a\x00b", string(make([]byte, MaxTapID+1))} {
		if err := id.Set([]byte(bad)); err == nil {
			t.Errorf("TapID.Set(%q) accepted", bad)
		}
	}
	var c Code
	if err := c.Set(nil); err != nil || !c.IsZero() {
		t.Fatalf("empty Code: %v", err)
	}
	if err := c.Set([]byte("地铁1号线")); err != nil || c.String() != "地铁1号线" {
		t.Fatalf("UTF-8 code: %v %q", err, c.String())
	}
}

func TestAppendRFC3339(t *testing.T) {
	f := func(in string) {
		t.Helper()
		tm, err := time.Parse(time.RFC3339Nano, in)
		if err != nil {
			t.Fatal(err)
		}
		_, off := tm.Zone()
		if got := string(AppendRFC3339(nil, tm.UnixNano(), int32(off))); got != in {
			t.Errorf("AppendRFC3339 = %q, want %q", got, in)
		}
	}
	f("2025-03-01T08:15:00+08:00")
	f("2025-03-01T00:15:00Z")
	f("2025-03-01T08:15:00.25+08:00")
	f("1999-12-31T23:59:59.123456789-05:30")
}

func TestCalendar(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	cal, err := NewCalendar(sh, 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := func(at string, want string) {
		t.Helper()
		tm, _ := time.Parse(time.RFC3339, at)
		dc := NewDayCache(cal)
		if got := cal.DayOf(tm.UnixNano()).String(); got != want {
			t.Errorf("DayOf(%s) = %s, want %s", at, got, want)
		}
		if got := dc.DayOf(tm.UnixNano()).String(); got != want {
			t.Errorf("DayCache.DayOf(%s) = %s, want %s", at, got, want)
		}
	}
	f("2025-03-01T03:59:59+08:00", "2025-02-28")
	f("2025-03-01T04:00:00+08:00", "2025-03-01")
	f("2025-03-01T20:00:00Z", "2025-03-02") // 04:00 on the 2nd, local
	f("2025-03-01T19:59:59Z", "2025-03-01")
	f("2025-03-02T04:30:00+08:00", "2025-03-02")
	at := func(s string) Tap {
		tm, _ := time.Parse(time.RFC3339, s)
		return Tap{Time: tm.UnixNano()}
	}
	taps := []Tap{at("2025-03-01T05:00:00+08:00"), at("2025-03-02T03:00:00+08:00"), at("2025-02-28T23:00:00+08:00")}
	if got := cal.LastDay(taps).String(); got != "2025-03-01" {
		t.Errorf("LastDay = %s, want 2025-03-01 (03:00 on the 2nd is before the cut-off)", got)
	}
	if got := cal.LastDay(nil); got != 0 {
		t.Errorf("LastDay(nil) = %v, want 0", got)
	}
	if _, err := NewCalendar(sh, 25*time.Hour); err == nil {
		t.Error("cut-off past 24h accepted")
	}
	d, _ := ParseDay("2025-03-01")
	if d.Month() != 2025*12+2 {
		t.Errorf("Month = %d", d.Month())
	}
}

func TestRulesRoundTrip(t *testing.T) {
	r := RuleMetroDistance | RuleProduct | RuleTransfer
	s := r.String()
	if s != "metro-distance+product+transfer" {
		t.Errorf("String = %q", s)
	}
	if got, ok := ParseRules([]byte(s)); !ok || got != r {
		t.Errorf("ParseRules(%q) = %v %v", s, got, ok)
	}
	if _, ok := ParseRules([]byte("metro-distance+bogus")); ok {
		t.Error("ParseRules accepted an unknown name")
	}
	if _, ok := ParseRules([]byte("product+")); ok {
		t.Error("ParseRules accepted a trailing '+'")
	}
	if r, ok := ParseReason([]byte("unknown-station")); !ok || r != ReasonUnknownStation {
		t.Errorf("ParseReason = %v %v", r, ok)
	}
}

// TestRuleBitsAreStable: rule bits are stored in segments and names in
// ledgers, so a rule keeps its bit; new rules go at the end.
func TestRuleBitsAreStable(t *testing.T) {
	for _, c := range []struct {
		r    Rules
		bit  int
		name string
	}{
		{RuleBusFlat, 0, "bus-flat"},
		{RuleUnclosedEntry, 10, "unclosed-entry"},
		{RuleLate, 11, "late"},
		{RuleSynthetic, 13, "synthetic"},
		{RuleCarried, 14, "carried"},
		{RuleCorrection, 15, "correction"},
	} {
		if c.r != 1<<c.bit || c.r.String() != c.name {
			t.Errorf("rule %q: bit %#x, want %q at bit %d", c.r.String(), uint32(c.r), c.name, c.bit)
		}
		if got, ok := ParseRules([]byte(c.name)); !ok || got != c.r {
			t.Errorf("ParseRules(%q) = %v %v", c.name, got, ok)
		}
	}
	if KnownRules != 1<<16-1 {
		t.Errorf("KnownRules = %#x, want 16 rules", uint32(KnownRules))
	}
}

func TestCompareTotal(t *testing.T) {
	var a, b Tap
	a.Time, b.Time = 10, 10
	_ = a.ID.Set([]byte("a"))
	_ = b.ID.Set([]byte("b"))
	if Compare(&a, &b) >= 0 || Compare(&b, &a) <= 0 || Compare(&a, &a) != 0 {
		t.Error("Compare is not a strict order on tap_id")
	}
	b = a
	b.Device[0] = 'x'
	if Compare(&a, &b) == 0 {
		t.Error("Compare ignores device")
	}
}

func TestCorrectionValidate(t *testing.T) {
	base := func() Correction {
		var c Correction
		_ = c.ID.Set([]byte("cs-1"))
		_ = c.Card.Set([]byte("3100001"))
		_ = c.Tap.Set([]byte("t-1"))
		c.Kind = CorrectionRefund
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*Correction)
		ok   bool
	}{
		{"refund", func(*Correction) {}, true},
		{"refund with amount", func(c *Correction) { c.Amount = 5 }, false},
		{"partial", func(c *Correction) { c.Kind, c.Amount = CorrectionPartial, 100 }, true},
		{"partial zero", func(c *Correction) { c.Kind = CorrectionPartial }, false},
		{"partial negative", func(c *Correction) { c.Kind, c.Amount = CorrectionPartial, -1 }, false},
		{"partial too much", func(c *Correction) { c.Kind, c.Amount = CorrectionPartial, MaxCorrectionAmount+1 }, false},
		{"reprice free", func(c *Correction) { c.Kind = CorrectionReprice }, true},
		{"reprice negative", func(c *Correction) { c.Kind, c.Amount = CorrectionReprice, -1 }, false},
		{"no id", func(c *Correction) { c.ID = DeviceID{} }, false},
		{"no card", func(c *Correction) { c.Card = CardID{} }, false},
		{"no tap", func(c *Correction) { c.Tap = TapID{} }, false},
		{"no kind", func(c *Correction) { c.Kind = 0 }, false},
	} {
		c := base()
		tc.edit(&c)
		err := c.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrCorrection) {
			t.Errorf("%s: %v does not wrap ErrCorrection", tc.name, err)
		}
	}
	for k := CorrectionRefund; k <= CorrectionReprice; k++ {
		if got, ok := ParseCorrectionKind([]byte(k.String())); !ok || got != k {
			t.Errorf("ParseCorrectionKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
	if _, ok := ParseCorrectionKind([]byte("refund-all")); ok {
		t.Error("ParseCorrectionKind accepted an unknown kind")
	}
}
