package fares

import (
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// Tests of the fare model's rules on policies written for them: transfer
// allowances, chains that restart, timeframes and the local-time
// arithmetic under them. rules_test.go runs the published rules.

var cst = time.FixedZone("CST", LocalOffset)

// at returns a ride's offset from t0 for a local (UTC+8) time
// "2006-01-02 15:04:05" and its settlement day (04:00 cut-off).
func at(t *testing.T, local string) (time.Duration, transit.Day) {
	t.Helper()
	when, err := time.ParseInLocation(time.DateTime, local, cst)
	if err != nil {
		t.Fatal(err)
	}
	d := when.Add(-4 * time.Hour)
	return time.Duration(when.UnixNano() - t0), transit.DayOf(d.Year(), d.Month(), d.Day())
}

// rideAt is r at the local time given.
func rideAt(t *testing.T, local string, r ride) ride {
	t.Helper()
	r.at, r.day = at(t, local)
	return r
}

// TestTimeframeHolds checks the local-time arithmetic around midnight and
// before 1970.
func TestTimeframeHolds(t *testing.T) {
	tf := &timeframe{spans: []daySpan{{0, 60}, {86340, 86400}}}
	for _, tt := range []struct {
		local string
		want  bool
	}{
		{"2025-03-03 00:00:00", true}, {"2025-03-03 00:00:59", true}, {"2025-03-03 00:01:00", false},
		{"2025-03-03 23:58:59", false}, {"2025-03-03 23:59:00", true}, {"2025-03-03 23:59:59", true},
		{"1969-12-31 23:59:30", true}, {"1969-12-31 12:00:00", false},
	} {
		when, _ := time.ParseInLocation(time.DateTime, tt.local, cst)
		if got := tf.holds(when.UnixNano()); got != tt.want {
			t.Errorf("%s: holds %v, want %v", tt.local, got, tt.want)
		}
	}
	for _, tt := range []struct {
		local string
		want  time.Weekday
	}{{"2025-03-03 00:00:00", time.Monday}, {"1969-12-31 23:00:00", time.Wednesday}, {"1970-01-01 00:00:00", time.Thursday}} {
		when, _ := time.ParseInLocation(time.DateTime, tt.local, cst)
		if d, _ := localDay(when.UnixNano()); weekday(d) != int(tt.want) {
			t.Errorf("%s: weekday %d, want %v", tt.local, weekday(d), tt.want)
		}
	}
	if s := LocalTime(time.Date(2025, 3, 3, 0, 10, 0, 0, time.UTC).UnixNano()); s != "Mon 2025-03-03 08:10" {
		t.Errorf("LocalTime = %q", s)
	}
}

// compileOne compiles a policy file without a metro, for rule tests.
func compileOne(t *testing.T, src string) *Policy {
	t.Helper()
	var probs problems
	f := compileFile("test.yaml", []byte(src), mustDefault(t).Participant, &probs)
	if err := probs.err(); err != nil || f == nil || len(f.versions) != 1 {
		t.Fatalf("compile: %v", err)
	}
	return f.versions[0]
}

// TestAllowanceModel: an allowance without chain_restarts keeps its chain
// to the end of its duration; a count of 2 is shared by its rules; a
// timeframe without a calendar holds every day.
func TestAllowanceModel(t *testing.T) {
	p := compileOne(t, `
city: 330400
versions:
  - effective_from: 2020-01-01
    source: "ours: test"
    bus: {fare: 200, source: "ours: test"}
    transfers:
      - {name: a, from: [bus], to: [bus], window_minutes: [0, 30], allowance: two, up_to: 50, source: "ours: test"}
      - {name: b, from: [bus], to: [bus], window_minutes: [0, 60], allowance: two, up_to: 20, source: "ours: test"}
    transfer_allowances:
      - {name: two, transfer_count: 2, duration_limit_min: 60, source: "ours: test"}
    products:
      - {name: night, product: student, timeframe: night, pay_bp: {bus: 5000}, source: "ours: test"}
    timeframes:
      - {name: night, times: [{start: "22:00", end: "24:00"}], source: "ours: test"}
`)
	const bus = transit.ModeBus
	day := "2025-03-08 " // a Saturday: no calendar, every day
	run(t, p, &Rider{}, []ride{
		rideAt(t, day+"08:00:00", ride{mode: bus, gross: 200, want: 200}),
		rideAt(t, day+"08:10:00", ride{mode: bus, gross: 200, want: 150, wantXfer: 50}),
		rideAt(t, day+"08:40:00", ride{mode: bus, gross: 200, want: 180, wantXfer: 20}), // a's window is over; b
		rideAt(t, day+"08:50:00", ride{mode: bus, gross: 200, want: 200}),               // spent, no restart
		rideAt(t, day+"08:55:00", ride{mode: bus, gross: 200, want: 200}),               // still the same chain
		rideAt(t, day+"09:00:01", ride{mode: bus, gross: 200, want: 200}),               // past 60: a new chain
		rideAt(t, day+"09:05:00", ride{mode: bus, gross: 200, want: 150, wantXfer: 50}),
	})
	run(t, p, &Rider{}, []ride{
		rideAt(t, day+"21:59:59", ride{mode: bus, product: transit.ProductStudent, gross: 200, want: 200}),
		rideAt(t, day+"22:00:00", ride{mode: bus, product: transit.ProductStudent, gross: 200, want: 50, wantProduct: 100, wantXfer: 50}),
		rideAt(t, day+"22:45:00", ride{mode: bus, product: transit.ProductStudent, gross: 200, want: 80, wantProduct: 100, wantXfer: 20}),
		rideAt(t, day+"23:59:59", ride{mode: bus, product: transit.ProductStudent, gross: 200, want: 100, wantProduct: 100}),
	})
}
