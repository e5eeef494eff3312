package transit

import (
	"fmt"
	"time"
)

// Day is a settlement day, counted in days since 1970-01-01. A settlement
// day runs from one cut-off to the next (by default 04:00 Asia/Shanghai,
// after the last night service), and is named after the calendar date on
// which it starts.
type Day int32

// DayOf returns the Day named by a calendar date.
func DayOf(year int, month time.Month, day int) Day {
	return Day(time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// ParseDay parses "YYYY-MM-DD".
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("settlement day %q: want YYYY-MM-DD", s)
	}
	return Day(t.Unix() / 86400), nil
}

// Date returns the calendar date that names d, at 00:00 UTC.
func (d Day) Date() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String returns "YYYY-MM-DD".
func (d Day) String() string { return d.Date().Format(time.DateOnly) }

// Month returns the calendar month of d as year*12 + month-1, the key of
// monthly accumulators (Beijing's volume discount).
func (d Day) Month() int32 {
	y, m, _ := d.Date().Date()
	return int32(y)*12 + int32(m) - 1
}

// Calendar maps instants to settlement days. Its zero value is not usable;
// build one with NewCalendar. A Calendar is immutable and safe for
// concurrent use.
type Calendar struct {
	loc    *time.Location
	cutoff time.Duration // offset of the cut-off from local midnight
}

// NewCalendar returns the calendar whose days start at cutoff (e.g.
// 4*time.Hour) after local midnight in loc.
func NewCalendar(loc *time.Location, cutoff time.Duration) (*Calendar, error) {
	if loc == nil {
		return nil, fmt.Errorf("settlement calendar: nil location")
	}
	if cutoff < 0 || cutoff >= 24*time.Hour {
		return nil, fmt.Errorf("settlement calendar: cut-off %v must be in [0, 24h)", cutoff)
	}
	return &Calendar{loc: loc, cutoff: cutoff}, nil
}

// Location returns the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Cutoff returns the cut-off's offset from local midnight.
func (c *Calendar) Cutoff() time.Duration { return c.cutoff }

// DayOf returns the settlement day of the instant unixNano.
func (c *Calendar) DayOf(unixNano int64) Day {
	t := time.Unix(0, unixNano).In(c.loc).Add(-c.cutoff)
	y, m, d := t.Date()
	return DayOf(y, m, d)
}

// LastDay returns the latest settlement day of taps, 0 when there are
// none: the day a feed of them must close through.
func (c *Calendar) LastDay(taps []Tap) Day {
	var last Day
	for i := range taps {
		last = max(last, c.DayOf(taps[i].Time))
	}
	return last
}

// Start returns the instant at which settlement day d begins.
func (c *Calendar) Start(d Day) time.Time {
	y, m, dd := d.Date().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, c.loc).Add(c.cutoff)
}

// DayCache answers Calendar.DayOf for instants inside the most recently
// seen day without calling into package time. It belongs to one goroutine.
type DayCache struct {
	cal        *Calendar
	start, end int64 // [start, end) in unix nanoseconds
	day        Day
}

// NewDayCache returns a cache over cal.
func NewDayCache(cal *Calendar) DayCache { return DayCache{cal: cal} }

// DayOf returns the settlement day of unixNano.
func (dc *DayCache) DayOf(unixNano int64) Day {
	if unixNano >= dc.start && unixNano < dc.end {
		return dc.day
	}
	d := dc.cal.DayOf(unixNano)
	dc.day = d
	dc.start = dc.cal.Start(d).UnixNano()
	dc.end = dc.cal.Start(d + 1).UnixNano()
	return d
}
