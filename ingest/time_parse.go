package ingest

// RFC 3339 parsing by hand. time.Parse is general (layouts, zone names) and
// costs several hundred nanoseconds per call; tap files hold one fixed
// shape, so a direct parser keeps the time field a small part of a
// record's cost and allocates nothing.

// timeErr says why a time did not parse; its String is the reject reason.
type timeErr uint8

const (
	timeOK timeErr = iota
	timeSyntax
	timeNoOffset
	timeYear
	timeMonth
	timeDay
	timeHour
	timeMinute
	timeSecond
	timeFraction
	timeOffset
)

var timeErrText = [...]string{
	timeOK:       "",
	timeSyntax:   "not RFC 3339: want YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM",
	timeNoOffset: "missing UTC offset: want Z or ±HH:MM after the seconds",
	timeYear:     "year out of range: want 1678 to 2261",
	timeMonth:    "month out of range",
	timeDay:      "day out of range for the month",
	timeHour:     "hour out of range",
	timeMinute:   "minute out of range",
	timeSecond:   "second out of range (leap seconds are not accepted)",
	timeFraction: "fractional seconds: want 1 to 9 digits after the '.'",
	timeOffset:   "UTC offset out of range: want at most ±23:59",
}

func (e timeErr) String() string { return timeErrText[e] }

// Years accepted. Tap.Time is int64 Unix nanoseconds, which span
// 1677-09-21 to 2262-04-11; whole years inside that span, widened by any
// UTC offset, stay representable.
const (
	minYear = 1678
	maxYear = 2261
)

// maxOffsetSec is ±23:59, the largest offset RFC 3339 can write.
const maxOffsetSec = 23*3600 + 59*60

// Byte masks of the digits and separators of "YYYY-MM-" and "HH:MM:SS",
// little-endian (the first byte is the lowest).
const (
	dateDigits  = 0x00ffff00ffffffff
	dateSeps    = uint64('-')<<32 | uint64('-')<<56
	clockDigits = 0xffff00ffff00ffff
	clockSeps   = uint64(':')<<16 | uint64(':')<<40
)

// swarDigits reports whether every byte of w selected by mask is an ASCII
// digit: its high nibble is 3, and adding 6 does not carry it past 9.
func swarDigits(w, mask uint64) bool {
	x := w & mask
	hi := swarOnes * 0xf0 & mask
	want := swarOnes * 0x30 & mask
	return x&hi == want && (x+swarOnes*0x06&mask)&hi == want
}

// parse8 converts eight ASCII digits, the first in the lowest byte, to
// their value with three multiplications (W. Muła, D. Lemire, "Faster
// integer parsing").
func parse8(w uint64) int64 {
	w -= swarOnes * '0'
	w = w*10 + w>>8
	w = ((w&0x000000ff000000ff)*(100+1000000<<32) + (w>>16&0x000000ff000000ff)*(1+10000<<32)) >> 32
	return int64(w)
}

var pow10 = [10]int64{1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1}

// parseTime parses an RFC 3339 date-time with a UTC offset ("Z" or
// ±HH:MM) and up to nine fractional digits, returning Unix nanoseconds and
// the offset in seconds. It accepts 'T', 't' or a space between date and
// time and 'Z' or 'z' for UTC (RFC 3339 section 5.6); "-00:00" reads as
// UTC. It does not allocate.
func parseTime(b []byte) (int64, int32, timeErr) {
	if len(b) < 19 {
		return 0, 0, timeSyntax
	}
	// "YYYY-MM-DDTHH:MM:SS" is checked and converted eight bytes at a
	// time: w1 holds "YYYY-MM-", w2 "HH:MM:SS" (loaded from offset 11).
	w1, w2 := load64(b, 0), load64(b, 11)
	if w1&^dateDigits != dateSeps || w2&^clockDigits != clockSeps ||
		!swarDigits(w1, dateDigits) || !swarDigits(w2, clockDigits) {
		return 0, 0, timeSyntax
	}
	d1, d2 := b[8]-'0', b[9]-'0'
	if d1 > 9 || d2 > 9 {
		return 0, 0, timeSyntax
	}
	if s := b[10]; s != 'T' && s != 't' && s != ' ' {
		return 0, 0, timeSyntax
	}
	v1, v2 := w1-dateDigits&(swarOnes*'0'), w2-clockDigits&(swarOnes*'0')
	year := int(v1&0xff)*1000 + int(v1>>8&0xff)*100 + int(v1>>16&0xff)*10 + int(v1>>24&0xff)
	month := int(v1>>40&0xff)*10 + int(v1>>48&0xff)
	day := int(d1)*10 + int(d2)
	hour := int(v2&0xff)*10 + int(v2>>8&0xff)
	minute := int(v2>>24&0xff)*10 + int(v2>>32&0xff)
	sec := int(v2>>48&0xff)*10 + int(v2>>56&0xff)

	i := 19
	var frac int64
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		if i+8 <= len(b) {
			// Eight digits at once (nanosecond stamps carry nine).
			if w := load64(b, i); swarDigits(w, ^uint64(0)) {
				frac = parse8(w)
				i += 8
			}
		}
		for i < len(b) && b[i]-'0' <= 9 {
			if i-start < 9 {
				frac = frac*10 + int64(b[i]-'0')
			}
			i++
		}
		n := i - start
		if n == 0 || n > 9 {
			return 0, 0, timeFraction
		}
		frac *= pow10[n]
	}
	if i == len(b) {
		return 0, 0, timeNoOffset
	}
	var off int32
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return 0, 0, timeSyntax
		}
		h1, h2, m1, m2 := b[i+1]-'0', b[i+2]-'0', b[i+4]-'0', b[i+5]-'0'
		if h1 > 9 || h2 > 9 || m1 > 9 || m2 > 9 {
			return 0, 0, timeSyntax
		}
		oh, om := int32(h1)*10+int32(h2), int32(m1)*10+int32(m2)
		if oh > 23 || om > 59 {
			return 0, 0, timeOffset
		}
		off = oh*3600 + om*60
		if b[i] == '-' {
			off = -off
		}
		i += 6
	default:
		return 0, 0, timeSyntax
	}
	if i != len(b) {
		return 0, 0, timeSyntax
	}
	switch {
	case year < minYear || year > maxYear:
		return 0, 0, timeYear
	case month < 1 || month > 12:
		return 0, 0, timeMonth
	case day < 1 || day > daysIn(year, month):
		return 0, 0, timeDay
	case hour > 23:
		return 0, 0, timeHour
	case minute > 59:
		return 0, 0, timeMinute
	case sec > 59:
		return 0, 0, timeSecond
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(off)
	return secs*1e9 + frac, off, timeOK
}

// daysIn returns the number of days in month of year (proleptic Gregorian).
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the given date, for
// years >= 0 (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
}

// Bounds of the local wall-clock time that parseTime accepts, in Unix
// nanoseconds as if the wall clock were UTC. The writer checks them so that
// everything it writes reads back.
var (
	minLocalNano = daysFromCivil(minYear, 1, 1) * 86400 * 1e9
	maxLocalNano = daysFromCivil(maxYear+1, 1, 1)*86400*1e9 - 1
)
