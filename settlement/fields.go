package settlement

import (
	"bytes"
	"math"
	"strconv"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// The field codecs below are shared by the ledger, rejects and clearing
// formats. Parsers are strict: every reader also re-formats what it parsed
// and compares it with the input, so each format has exactly one spelling
// of a value and a changed byte can never parse to the same content.

// appendDay appends "YYYY-MM-DD" (or "undated") without allocating.
func appendDay(b []byte, d transit.Day) []byte {
	if d == Undated {
		return append(b, UndatedName...)
	}
	y, m, dd := d.Date().Date()
	b = appendPadded(b, int64(y), 4)
	b = append(b, '-')
	b = appendPadded(b, int64(m), 2)
	b = append(b, '-')
	return appendPadded(b, int64(dd), 2)
}

func appendPadded(b []byte, v int64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// parseDay parses a canonical "YYYY-MM-DD".
func parseDay(b []byte) (transit.Day, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	day := transit.DayOf(y, time.Month(m), d)
	var buf [10]byte
	if !bytes.Equal(appendDay(buf[:0], day), b) { // 2025-02-30 normalises to March
		return 0, false
	}
	return day, true
}

// digits parses a fixed-width run of ASCII digits.
func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, len(b) > 0
}

// parseInt parses a canonical decimal int64: "0" or -?[1-9][0-9]*.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 || (b[0] == '0' && (len(b) > 1 || neg)) {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

func parseFen(b []byte) (transit.Fen, bool) {
	v, ok := parseInt(b)
	return transit.Fen(v), ok
}

// parseTime parses an instant as written by transit.AppendRFC3339 and
// returns it with the UTC offset it was written at.
func parseTime(b []byte) (unixNano int64, offset int32, ok bool) {
	// 2006-01-02T15:04:05[.fffffffff](Z|±hh:mm)
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, 0, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	h, ok4 := digits(b[11:13])
	mi, ok5 := digits(b[14:16])
	s, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, 0, false
	}
	rest := b[19:]
	var frac int64
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && n <= 9 && rest[n] >= '0' && rest[n] <= '9' {
			frac = frac*10 + int64(rest[n]-'0')
			n++
		}
		if n == 1 {
			return 0, 0, false
		}
		for i := n; i <= 9; i++ {
			frac *= 10
		}
		rest = rest[n:]
	}
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm {
			return 0, 0, false
		}
		offset = int32(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, false
	}
	// Instants that int64 nanoseconds can hold lie in 1677..2262.
	if y < 1677 || y > 2262 {
		return 0, 0, false
	}
	sec := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC).Unix() - int64(offset)
	if sec <= math.MinInt64/int64(time.Second) || sec >= math.MaxInt64/int64(time.Second) {
		return 0, 0, false
	}
	unixNano = sec*1e9 + frac
	if (sec > 0 && unixNano < 0) || (sec < 0 && unixNano > 0) {
		return 0, 0, false
	}
	var buf [40]byte
	if !bytes.Equal(transit.AppendRFC3339(buf[:0], unixNano, offset), b) {
		return 0, 0, false // out-of-range fields, or a non-canonical spelling
	}
	return unixNano, offset, true
}

// parseCity parses a six-digit prefecture-level code.
func parseCity(b []byte) (transit.City, bool) {
	c, err := transit.ParseCity(b)
	return c, err == nil
}

// Enum parsing without allocating: the transit parsers build an error value
// on every failure, which a verifier reading millions of fields can avoid.

func parseMode(b []byte) (transit.Mode, bool) {
	for m := transit.Mode(1); m < transit.NumModes; m++ {
		if string(b) == m.String() {
			return m, true
		}
	}
	return 0, false
}

func parseProduct(b []byte) (transit.Product, bool) {
	for p := transit.Product(1); p < transit.NumProducts; p++ {
		if string(b) == p.String() {
			return p, true
		}
	}
	return 0, false
}

func parseAction(b []byte) (transit.Action, bool) {
	for a := transit.ActionBoard; a <= transit.ActionExit; a++ {
		if string(b) == a.String() {
			return a, true
		}
	}
	return 0, false
}

func parseStatus(b []byte) (transit.Status, bool) {
	for s := transit.Status(1); s < transit.NumStatuses; s++ {
		if string(b) == s.String() {
			return s, true
		}
	}
	return 0, false
}

// knownRules and numReasons bound what a row may carry: Rules.Append
// silently skips unknown bits, so a row carrying one would not survive a
// round trip and is refused.
const (
	knownRules = transit.KnownRules
	numReasons = transit.NumReasons
)

func parseReason(b []byte) (transit.Reason, bool) { return transit.ParseReason(b) }
func parseRules(b []byte) (transit.Rules, bool)   { return transit.ParseRules(b) }

// setID stores b in dst the way the transit Set methods do.
func setTapID(x *transit.TapID, b []byte) bool   { return x.Set(b) == nil }
func setCardID(x *transit.CardID, b []byte) bool { return x.Set(b) == nil }
func setCode(x *transit.Code, b []byte) bool     { return x.Set(b) == nil }
func setDevice(x *transit.DeviceID, b []byte) bool {
	return x.Set(b) == nil
}
