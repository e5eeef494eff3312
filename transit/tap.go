package transit

import (
	"bytes"
	"cmp"
	"strconv"
	"time"
)

// Tap is one validated tap record. It is fixed-size and pointer-free (see
// the package comment); decoders fill a caller's Tap in place.
type Tap struct {
	// Time is the instant of the tap, in Unix nanoseconds.
	Time int64
	// Offset is the UTC offset, in seconds, that the input wrote the time
	// with; kept so the ledger reproduces the time as given.
	Offset int32
	// Issuer is the region whose operator issued the card.
	Issuer City
	// City is where the tap happened: the acquirer.
	City    City
	Mode    Mode
	Action  Action
	Product Product
	ID      TapID
	Card    CardID
	Line    Code
	Stop    Code
	Device  DeviceID // optional
}

// Compare orders taps by time, then tap_id, then every other field, so that
// any set of taps has one order whatever order it arrived in. The engine
// prices a card's taps in this order, which makes its output independent
// of input order and shard count.
func Compare(a, b *Tap) int {
	if c := cmp.Compare(a.Time, b.Time); c != 0 {
		return c
	}
	if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Card[:], b.Card[:]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.City, b.City); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Issuer, b.Issuer); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Mode, b.Mode); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Action, b.Action); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Product, b.Product); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Line[:], b.Line[:]); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Stop[:], b.Stop[:]); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Device[:], b.Device[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.Offset, b.Offset)
}

// AppendTime appends t.Time in RFC 3339 with t.Offset, with fractional
// seconds only when they are not zero ("2025-03-01T08:15:00+08:00").
func (t *Tap) AppendTime(b []byte) []byte {
	return AppendRFC3339(b, t.Time, t.Offset)
}

// AppendRFC3339 appends the instant unixNano written at UTC offset
// offsetSec, without allocating.
func AppendRFC3339(b []byte, unixNano int64, offsetSec int32) []byte {
	lt := time.Unix(0, unixNano+int64(offsetSec)*1e9).UTC()
	y, mo, d := lt.Date()
	h, mi, s := lt.Clock()
	b = appendInt(b, y, 4)
	b = append(b, '-')
	b = appendInt(b, int(mo), 2)
	b = append(b, '-')
	b = appendInt(b, d, 2)
	b = append(b, 'T')
	b = appendInt(b, h, 2)
	b = append(b, ':')
	b = appendInt(b, mi, 2)
	b = append(b, ':')
	b = appendInt(b, s, 2)
	if ns := lt.Nanosecond(); ns != 0 {
		b = append(b, '.')
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		b = appendInt(b, ns, digits)
	}
	if offsetSec == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	off := offsetSec
	if off < 0 {
		sign = '-'
		off = -off
	}
	b = append(b, sign)
	b = appendInt(b, int(off/3600), 2)
	b = append(b, ':')
	return appendInt(b, int(off%3600/60), 2)
}

func appendInt(b []byte, v, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
