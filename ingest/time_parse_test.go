package ingest

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	ok := func(in string, want time.Time) {
		t.Helper()
		ns, off, e := parseTime([]byte(in))
		if e != timeOK {
			t.Errorf("parseTime(%q): %v", in, e)
			return
		}
		_, wantOff := want.Zone()
		if ns != want.UnixNano() || off != int32(wantOff) {
			t.Errorf("parseTime(%q) = %d %+d, want %d %+d", in, ns, off, want.UnixNano(), wantOff)
		}
	}
	cst := time.FixedZone("", 8*3600)
	ok("2025-03-01T08:15:00+08:00", time.Date(2025, 3, 1, 8, 15, 0, 0, cst))
	ok("2025-03-01T00:15:00Z", time.Date(2025, 3, 1, 0, 15, 0, 0, time.UTC))
	ok("2025-03-01t00:15:00z", time.Date(2025, 3, 1, 0, 15, 0, 0, time.UTC))
	ok("2025-03-01 08:15:00+08:00", time.Date(2025, 3, 1, 8, 15, 0, 0, cst))
	ok("2025-03-01T08:15:00.5+08:00", time.Date(2025, 3, 1, 8, 15, 0, 5e8, cst))
	ok("2025-03-01T08:15:00.000000001+08:00", time.Date(2025, 3, 1, 8, 15, 0, 1, cst))
	ok("2025-03-01T08:15:00.999999999Z", time.Date(2025, 3, 1, 8, 15, 0, 999999999, time.UTC))
	ok("1999-12-31T23:59:59.123-05:30", time.Date(1999, 12, 31, 23, 59, 59, 123e6, time.FixedZone("", -5*3600-30*60)))
	ok("2024-02-29T12:00:00+00:00", time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC))
	ok("2000-02-29T12:00:00-00:00", time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC))
	ok("2025-12-31T23:59:59+23:59", time.Date(2025, 12, 31, 23, 59, 59, 0, time.FixedZone("", 23*3600+59*60)))
	ok("1678-01-01T00:00:00Z", time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC))
	ok("2261-12-31T23:59:59.999999999Z", time.Date(2261, 12, 31, 23, 59, 59, 999999999, time.UTC))
	ok("1970-01-01T00:00:00Z", time.Unix(0, 0).UTC())

	bad := func(in string, want timeErr) {
		t.Helper()
		if _, _, e := parseTime([]byte(in)); e != want {
			t.Errorf("parseTime(%q) = %q, want %q", in, e, want)
		}
	}
	bad("", timeSyntax)
	bad("2025-03-01", timeSyntax)
	bad("2025-03-01T08:15:00", timeNoOffset)
	bad("2025-03-01T08:15:00.5", timeNoOffset)
	bad("2025-03-01T08:15", timeSyntax)
	bad("2025/03/01T08:15:00Z", timeSyntax)
	bad("2025-03-01X08:15:00Z", timeSyntax)
	bad("2025-03-01T08.15.00Z", timeSyntax)
	bad("2025-0a-01T08:15:00Z", timeSyntax)
	bad("2025-03-0aT08:15:00Z", timeSyntax)
	bad("2025-03-01T08:15:0aZ", timeSyntax)
	bad("+025-03-01T08:15:00Z", timeSyntax)
	bad("2025-03-01T08:15:00+0800", timeSyntax)
	bad("2025-03-01T08:15:00+08", timeSyntax)
	bad("2025-03-01T08:15:00+08:00 ", timeSyntax)
	bad("2025-03-01T08:15:00Z ", timeSyntax)
	bad("2025-03-01T08:15:00ZZ", timeSyntax)
	bad("2025-03-01T08:15:00+8a:00", timeSyntax)
	bad("2025-03-01T08:15:00 CST", timeSyntax)
	bad("2025-03-01T08:15:00.Z", timeFraction)
	bad("2025-03-01T08:15:00.1234567891Z", timeFraction)
	bad("2025-03-01T08:15:00+24:00", timeOffset)
	bad("2025-03-01T08:15:00+08:60", timeOffset)
	bad("2025-00-01T08:15:00Z", timeMonth)
	bad("2025-13-01T08:15:00Z", timeMonth)
	bad("2025-04-31T08:15:00Z", timeDay)
	bad("2025-02-29T08:15:00Z", timeDay)
	bad("1900-02-29T08:15:00Z", timeDay)
	bad("2025-03-00T08:15:00Z", timeDay)
	bad("2025-03-01T24:00:00Z", timeHour)
	bad("2025-03-01T08:60:00Z", timeMinute)
	bad("2025-03-01T08:15:60Z", timeSecond)
	bad("1677-12-31T23:59:59Z", timeYear)
	bad("2262-01-01T00:00:00Z", timeYear)
	bad("0000-01-01T00:00:00Z", timeYear)
}

// TestParseTimeAgainstStdlib: on inputs both accept, parseTime and
// time.Parse agree; parseTime accepts a subset of what time.Parse does.
func TestParseTimeAgainstStdlib(t *testing.T) {
	for _, in := range parseTimeSeeds {
		checkParseTime(t, in)
	}
}

var parseTimeSeeds = []string{
	"2025-03-01T08:15:00+08:00", "2025-03-01T08:15:00.123456789-11:30", "2024-02-29T23:59:59Z",
	"2025-02-29T08:15:00Z", "2025-03-01T08:15:00", "2025-03-01 08:15:00Z", "9999-12-31T23:59:59Z",
	"1678-01-01T00:00:00+01:00", "2025-03-01T08:15:00.1234567891Z",
}

func checkParseTime(t *testing.T, in string) {
	t.Helper()
	ns, off, e := parseTime([]byte(in))
	if e != timeOK {
		return // stricter than the standard library: fine
	}
	// time.Parse does not take the space separator or lower-case t and z,
	// which can only stand at their fixed places in what parseTime took.
	std := strings.NewReplacer(" ", "T", "t", "T", "z", "Z").Replace(in)
	tm, err := time.Parse(time.RFC3339Nano, std)
	if err != nil {
		t.Fatalf("parseTime accepted %q, time.Parse refuses it: %v", in, err)
	}
	_, wantOff := tm.Zone()
	if ns != tm.UnixNano() || off != int32(wantOff) {
		t.Fatalf("parseTime(%q) = %d %+d, time.Parse says %d %+d", in, ns, off, tm.UnixNano(), wantOff)
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range parseTimeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkParseTime(t, in)
	})
}
