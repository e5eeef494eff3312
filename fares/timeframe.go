package fares

import (
	"slices"

	"github.com/tapsettle/tapsettle/transit"
)

// Time of day and day of week, for rules that apply at some times only
// (Ningbo's seniors pay half at weekday peaks and ride free otherwise).
// The model follows GTFS-Fares v2: a calendar is a set of days (GTFS
// calendar.txt weekdays with calendar_dates.txt exceptions), a timeframe
// a set of local times of day on a calendar's days (timeframes.txt,
// start included, end excluded), and a product rule may name a timeframe
// (fare_leg_rules.from_timeframe_group_id: the time that counts is the
// leg's start, the metro entry, "以刷卡进站时间为准").

// LocalOffset is the offset from UTC, in seconds, of the local time that
// timeframes are written in: China Standard Time (UTC+8), the time of
// every participant, which keeps no daylight saving time. A fixed offset
// keeps the check arithmetic, with no call into package time per tap.
const LocalOffset = 8 * 3600

// localDay returns the local calendar date (days since 1970-01-01) and
// the second of that day of the instant unixNano.
func localDay(unixNano int64) (day int32, second int32) {
	s := floorDiv(unixNano, 1e9) + LocalOffset
	d := floorDiv(s, 86400)
	return int32(d), int32(s - d*86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// weekday returns the day of the week of a local date, 0 for Sunday as in
// time.Weekday (1970-01-01 was a Thursday).
func weekday(day int32) int {
	return int(((int64(day)+4)%7 + 7) % 7)
}

// calendar is a set of days: weekdays, less removed dates, plus added
// dates (a date both removed and added is refused when compiled).
type calendar struct {
	name     string
	weekdays uint8 // bit time.Weekday
	removed  []int32
	added    []int32 // dates, days since 1970-01-01, ascending
	// spans are the dates as written (single days and ranges), for
	// Describe and the fingerprint.
	removedText, addedText []string
	source                 string
}

// on reports whether the calendar holds local date day. It does not
// allocate: two binary searches in short sorted lists.
func (c *calendar) on(day int32) bool {
	if _, ok := slices.BinarySearch(c.removed, day); ok {
		return false
	}
	if _, ok := slices.BinarySearch(c.added, day); ok {
		return true
	}
	return c.weekdays&(1<<weekday(day)) != 0
}

// timeframe is a set of local times of day on the days of a calendar
// (nil: every day).
type timeframe struct {
	name   string
	cal    *calendar
	spans  []daySpan // ascending, not overlapping
	source string
}

// calendarName is the name of the timeframe's calendar, "" for every day.
func (tf *timeframe) calendarName() string {
	if tf.cal == nil {
		return ""
	}
	return tf.cal.name
}

// daySpan is [start, end) in seconds after local midnight.
type daySpan struct{ start, end int32 }

// holds reports whether the instant unixNano is in the timeframe. It does
// not allocate.
func (tf *timeframe) holds(unixNano int64) bool {
	day, sec := localDay(unixNano)
	if tf.cal != nil && !tf.cal.on(day) {
		return false
	}
	for _, s := range tf.spans {
		if sec >= s.start && sec < s.end {
			return true
		}
	}
	return false
}

// weekdayNames are the day names of policy files, indexed by time.Weekday.
var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// LocalTime renders the instant unixNano in the local time of timeframes
// ("Mon 2025-03-03 08:10:00"), for quotes.
func LocalTime(unixNano int64) string {
	day, sec := localDay(unixNano)
	return transit.Day(day).Date().Format("Mon 2006-01-02") + " " + clock(sec)
}

// clock renders seconds after midnight as HH:MM, or HH:MM:SS when the
// seconds are not zero.
func clock(sec int32) string {
	h, m, s := sec/3600, sec/60%60, sec%60
	b := []byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)}
	if s != 0 {
		b = append(b, ':', byte('0'+s/10), byte('0'+s%10))
	}
	return string(b)
}
