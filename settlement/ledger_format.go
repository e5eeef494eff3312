package settlement

import (
	"bytes"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// LedgerHeader is the first line of ledger.csv: the input fields of the tap,
// then the engine's verdict. Amounts are integer fen; times are RFC 3339
// with the tap's own UTC offset; empty means "not given". Amounts are
// negative only on an adjustment (status adjustment) that reverses a
// charge; ref_day, the settlement day of the row an adjustment changes,
// is given on adjustments alone.
const LedgerHeader = "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device," +
	"settlement_day,status,gross_fen,discount_fen,charged_fen,rule,reason," +
	"product_discount_fen,transfer_discount_fen,cap_discount_fen,entry_stop,entry_time,ref_day"

// ledgerFields names the ledger columns, in order.
var ledgerFields = bytes.Split([]byte(LedgerHeader), []byte{','})

const numLedgerFields = 24

// The ledger needs no CSV quoting: identifiers cannot hold ',', '"', '\\'
// or control bytes (transit refuses them, and Day.Validate re-checks), and
// every other field is a name, a number or a time. A reader therefore
// splits on ',' and refuses quotes, which keeps both directions fast.

// AppendLedgerRow appends r as one ledger line, newline included.
func AppendLedgerRow(b []byte, r *transit.Priced) []byte {
	var f ledgerFormat
	return f.append(b, r)
}

// ledgerFormat writes ledger lines as AppendLedgerRow does, remembering
// the text of the last settlement day and the last time it wrote: every
// row of a ledger has the same day, and rows in ledger order come in
// time order, many to an instant (a generated day's times are whole
// minutes), so most rows copy both rather than format them (see
// docs/performance.md). The zero value is ready to use; a ledgerFormat
// belongs to one goroutine.
type ledgerFormat struct {
	day  transit.Day
	dayN int // bytes of dayText; 0 until a day is formatted
	time timeText
	// dayText is the text of day.
	dayText [10]byte
}

// timeText remembers the RFC 3339 text of one instant and offset.
type timeText struct {
	unixNano int64
	offset   int32
	n        int // bytes of text; 0 until a time is formatted
	// text holds the longest time AppendRFC3339 writes for an int64 of
	// nanoseconds and an offset within ±23:59, the range rowProblem
	// allows ("2262-04-11T23:47:16.854775807+23:59", 35 bytes).
	text [40]byte
}

// append appends t's text for (unixNano, offset) to b.
//
// The writers of this package format only rows that rowProblem passed,
// whose texts fit in t.text, but AppendLedgerRow formats any row: an
// offset far outside ±23:59 writes up to 41 bytes (math.MinInt32 seconds
// writes "--596523:-14"). Such a text is written but not remembered, so
// that t.text[:t.n] never reaches past the array.
func (t *timeText) append(b []byte, unixNano int64, offset int32) []byte {
	if t.n == 0 || t.unixNano != unixNano || t.offset != offset {
		s := transit.AppendRFC3339(t.text[:0], unixNano, offset)
		if len(s) > len(t.text) {
			t.n = 0
			return append(b, s...)
		}
		t.unixNano, t.offset, t.n = unixNano, offset, len(s)
	}
	return append(b, t.text[:t.n]...)
}

// append appends r as one ledger line, newline included.
func (f *ledgerFormat) append(b []byte, r *transit.Priced) []byte {
	if f.dayN == 0 || r.Day != f.day {
		f.day, f.dayN = r.Day, len(appendDay(f.dayText[:0], r.Day))
	}
	b = append(b, r.ID.Bytes()...)
	b = append(b, ',')
	b = append(b, r.Card.Bytes()...)
	b = append(b, ',')
	b = append(b, r.Product.String()...)
	b = append(b, ',')
	b = r.Issuer.AppendText(b)
	b = append(b, ',')
	b = r.City.AppendText(b)
	b = append(b, ',')
	b = append(b, r.Mode.String()...)
	b = append(b, ',')
	b = append(b, r.Line.Bytes()...)
	b = append(b, ',')
	b = append(b, r.Stop.Bytes()...)
	b = append(b, ',')
	b = append(b, r.Action.String()...)
	b = append(b, ',')
	b = f.time.append(b, r.Time, r.Offset)
	b = append(b, ',')
	b = append(b, r.Device.Bytes()...)
	b = append(b, ',')
	b = append(b, f.dayText[:f.dayN]...)
	b = append(b, ',')
	b = append(b, r.Status.String()...)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Gross), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Discount), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Charged), 10)
	b = append(b, ',')
	b = r.Rules.Append(b)
	b = append(b, ',')
	if r.Reason != transit.ReasonNone {
		b = append(b, r.Reason.String()...)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.ProductDiscount), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.TransferDiscount), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.CapDiscount), 10)
	b = append(b, ',')
	b = append(b, r.EntryStop.Bytes()...)
	b = append(b, ',')
	if r.EntryTime != 0 {
		b = transit.AppendRFC3339(b, r.EntryTime, r.Offset)
	}
	b = append(b, ',')
	if r.RefDay != 0 {
		b = appendDay(b, r.RefDay)
	}
	return append(b, '\n')
}

// ParseLedgerRow parses one ledger line (without its newline) into r. It
// accepts exactly what AppendLedgerRow writes: a line that parses always
// formats back to the same bytes. It checks syntax only; whether the row
// is a consistent verdict is Verify's business. Errors are *RecordError.
func ParseLedgerRow(line []byte, r *transit.Priced) error {
	var fields [numLedgerFields][]byte
	n := 0
	for {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			break
		}
		if n == numLedgerFields-1 {
			return fieldError("", "more than 24 fields")
		}
		fields[n], line = line[:i], line[i+1:]
		n++
	}
	if n != numLedgerFields-1 {
		return fieldError("", "fewer than 24 fields")
	}
	fields[n] = line

	*r = transit.Priced{}
	bad := func(i int, why string) error { return fieldError(string(ledgerFields[i]), why) }
	var ok bool
	if !setTapID(&r.ID, fields[0]) {
		return bad(0, "not a tap identifier")
	}
	if !setCardID(&r.Card, fields[1]) {
		return bad(1, "not a card identifier")
	}
	if r.Product, ok = parseProduct(fields[2]); !ok {
		return bad(2, "unknown card product")
	}
	if r.Issuer, ok = parseCity(fields[3]); !ok {
		return bad(3, "not a city code")
	}
	if r.City, ok = parseCity(fields[4]); !ok {
		return bad(4, "not a city code")
	}
	if r.Mode, ok = parseMode(fields[5]); !ok {
		return bad(5, "unknown mode")
	}
	if !setCode(&r.Line, fields[6]) {
		return bad(6, "not a line code")
	}
	if !setCode(&r.Stop, fields[7]) {
		return bad(7, "not a stop code")
	}
	if r.Action, ok = parseAction(fields[8]); !ok {
		return bad(8, "unknown action")
	}
	if r.Time, r.Offset, ok = parseTime(fields[9]); !ok {
		return bad(9, "not an RFC 3339 time as the ledger writes it")
	}
	if !setDevice(&r.Device, fields[10]) {
		return bad(10, "not a device identifier")
	}
	if r.Day, ok = parseDay(fields[11]); !ok {
		return bad(11, "not a YYYY-MM-DD date")
	}
	if r.Status, ok = parseStatus(fields[12]); !ok {
		return bad(12, "unknown status")
	}
	for i, dst := range [...]*transit.Fen{13: &r.Gross, 14: &r.Discount, 15: &r.Charged, 18: &r.ProductDiscount, 19: &r.TransferDiscount, 20: &r.CapDiscount} {
		if dst == nil {
			continue
		}
		if *dst, ok = parseFen(fields[i]); !ok {
			return bad(i, "not an amount in fen")
		}
	}
	if r.Rules, ok = parseRules(fields[16]); !ok {
		return bad(16, "unknown rule")
	}
	var rb [256]byte
	if !bytes.Equal(r.Rules.Append(rb[:0]), fields[16]) {
		return bad(16, "rules not in canonical order")
	}
	if len(fields[17]) > 0 {
		if r.Reason, ok = parseReason(fields[17]); !ok {
			return bad(17, "unknown reason")
		}
	}
	if !setCode(&r.EntryStop, fields[21]) {
		return bad(21, "not a stop code")
	}
	if len(fields[22]) > 0 {
		var off int32
		if r.EntryTime, off, ok = parseTime(fields[22]); !ok || off != r.Offset {
			return bad(22, "not an RFC 3339 time with the offset of time")
		}
		if r.EntryTime == 0 {
			return bad(22, "the epoch itself means no entry time and is written empty")
		}
	}
	if len(fields[23]) > 0 {
		if r.RefDay, ok = parseDay(fields[23]); !ok || r.RefDay == 0 {
			return bad(23, "not a YYYY-MM-DD date after 1970-01-01")
		}
	}
	return nil
}

// parseLedgerLine is ParseLedgerRow plus the round-trip check: a line is
// accepted only if AppendLedgerRow writes it back byte for byte (this
// catches what field parsers cannot, such as a reason on a line that
// formats without one). buf is scratch space, returned for reuse.
func parseLedgerLine(line []byte, r *transit.Priced, buf []byte) ([]byte, error) {
	if err := ParseLedgerRow(line, r); err != nil {
		return buf, err
	}
	buf = AppendLedgerRow(buf[:0], r)
	if len(buf) != len(line)+1 || !bytes.Equal(buf[:len(line)], line) {
		return buf, fieldError("", "not in the form the ledger writer produces")
	}
	return buf, nil
}
