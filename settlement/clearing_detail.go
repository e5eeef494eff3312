package settlement

import (
	"fmt"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// Detail is record type 6: one transaction, a clearing row.
type Detail struct {
	Seq       int64 // 1-based, consecutive within the batch
	TapID     transit.TapID
	Card      transit.CardID
	Product   transit.Product
	Mode      transit.Mode
	Action    transit.Action
	Line      transit.Code
	EntryStop transit.Code // the metro entry of an exit row; zero when none
	EntryTime int64        // unix ns; 0 when none
	Stop      transit.Code
	Time      int64 // unix ns
	Offset    int32 // UTC offset in seconds both times are written at
	Gross     transit.Fen
	Discount  transit.Fen
	Charged   transit.Fen
	Status    transit.Status
	Rules     transit.Rules
	// RefDay is, on an adjustment, the settlement day of the row it
	// changes; 0 on a journey.
	RefDay transit.Day
}

// detailFields are the schema names of the detail record's fields.
var detailFields = []string{"record_type", "seq", "tap_id", "card_id", "card_product", "mode", "action", "line", "entry_stop", "entry_time", "stop", "time", "gross_fen", "discount_fen", "charged_fen", "status", "rule", "ref_day"}

// detailFromRow makes the detail record of a clearing row.
func detailFromRow(r *transit.Priced, seq int64) Detail {
	return Detail{
		Seq: seq, TapID: r.ID, Card: r.Card, Product: r.Product, Mode: r.Mode, Action: r.Action,
		Line: r.Line, EntryStop: r.EntryStop, EntryTime: r.EntryTime, Stop: r.Stop,
		Time: r.Time, Offset: r.Offset, Gross: r.Gross, Discount: r.Discount, Charged: r.Charged,
		Status: r.Status, Rules: r.Rules, RefDay: r.RefDay,
	}
}

// Append appends the record's line, newline included.
func (d *Detail) Append(b []byte) []byte {
	b = append(b, RecordDetail, '|')
	b = strconv.AppendInt(b, d.Seq, 10)
	b = append(b, '|')
	b = append(b, d.TapID.Bytes()...)
	b = append(b, '|')
	b = append(b, d.Card.Bytes()...)
	b = append(b, '|')
	b = append(b, d.Product.String()...)
	b = append(b, '|')
	b = append(b, d.Mode.String()...)
	b = append(b, '|')
	b = append(b, d.Action.String()...)
	b = append(b, '|')
	b = append(b, d.Line.Bytes()...)
	b = append(b, '|')
	b = append(b, d.EntryStop.Bytes()...)
	b = append(b, '|')
	if d.EntryTime != 0 {
		b = transit.AppendRFC3339(b, d.EntryTime, d.Offset)
	}
	b = append(b, '|')
	b = append(b, d.Stop.Bytes()...)
	b = append(b, '|')
	b = transit.AppendRFC3339(b, d.Time, d.Offset)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(d.Gross), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(d.Discount), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(d.Charged), 10)
	b = append(b, '|')
	b = append(b, d.Status.String()...)
	b = append(b, '|')
	b = d.Rules.Append(b)
	b = append(b, '|')
	if d.RefDay != 0 {
		b = appendDay(b, d.RefDay)
	}
	return append(b, '\n')
}

// Parse parses a detail line (without newline), strictly.
func (d *Detail) Parse(line []byte) error {
	var buf [maxRecordFields][]byte
	f, err := splitRecord(&buf, line, RecordDetail, detailFields)
	if err != nil {
		return err
	}
	var ok bool
	*d = Detail{}
	if d.Seq, ok = parseInt(f[1]); !ok || d.Seq < 1 {
		return fieldError("seq", "not a sequence number")
	}
	if !setTapID(&d.TapID, f[2]) {
		return fieldError("tap_id", "not a tap identifier")
	}
	if !setCardID(&d.Card, f[3]) {
		return fieldError("card_id", "not a card identifier")
	}
	if d.Product, ok = parseProduct(f[4]); !ok {
		return fieldError("card_product", "unknown card product")
	}
	if d.Mode, ok = parseMode(f[5]); !ok {
		return fieldError("mode", "unknown mode")
	}
	if d.Action, ok = parseAction(f[6]); !ok {
		return fieldError("action", "unknown action")
	}
	if !setCode(&d.Line, f[7]) {
		return fieldError("line", "not a line code")
	}
	if !setCode(&d.EntryStop, f[8]) {
		return fieldError("entry_stop", "not a stop code")
	}
	if !setCode(&d.Stop, f[10]) {
		return fieldError("stop", "not a stop code")
	}
	if d.Time, d.Offset, ok = parseTime(f[11]); !ok {
		return fieldError("time", "not an RFC 3339 time as the writer spells it")
	}
	if len(f[9]) > 0 {
		var off int32
		if d.EntryTime, off, ok = parseTime(f[9]); !ok || off != d.Offset || d.EntryTime == 0 {
			return fieldError("entry_time", "not an RFC 3339 time with the offset of time")
		}
	}
	for i, dst := range [...]*transit.Fen{&d.Gross, &d.Discount, &d.Charged} {
		if *dst, ok = parseFen(f[12+i]); !ok {
			return fieldError(detailFields[12+i], "not an amount in fen")
		}
	}
	if d.Status, ok = parseStatus(f[15]); !ok {
		return fieldError("status", "unknown status")
	}
	if d.Rules, ok = parseRules(f[16]); !ok {
		return fieldError("rule", "unknown rule")
	}
	if len(f[17]) > 0 {
		if d.RefDay, ok = parseDay(f[17]); !ok || d.RefDay == 0 {
			return fieldError("ref_day", "not a YYYY-MM-DD date after 1970-01-01")
		}
	}
	var out [512]byte
	return canonical(line, d.Append(out[:0]))
}

// Validate checks what the detail alone can decide: a sequence number, a
// mode, a transaction that is cleared (a charged or incomplete journey,
// never a paired metro entry, or an adjustment), a ref_day exactly on an
// adjustment, amounts that are not negative on a journey and of one sign
// on an adjustment, and Charged = Gross - Discount. Sequence, the batch's
// mode, class and day and time order are checked by ReadClearingFile,
// which knows the batch.
func (d *Detail) Validate() error {
	adj := d.Status == transit.StatusAdjustment
	switch {
	case d.Seq < 1:
		return fieldError("seq", "not a sequence number")
	case d.Mode < 1 || d.Mode >= transit.NumModes:
		return fieldError("mode", "unknown mode")
	case d.Status != transit.StatusCharged && d.Status != transit.StatusIncomplete && !adj:
		return fieldError("status", "only charged and incomplete journeys and adjustments are cleared")
	case !adj && d.Rules&transit.RuleMetroEntry != 0:
		return fieldError("rule", "a paired metro entry is not a transaction")
	case adj && d.RefDay <= 0:
		return fieldError("ref_day", "an adjustment names the day of the row it changes")
	case !adj && d.RefDay != 0:
		return fieldError("ref_day", "given on a journey")
	case !adj && (d.Gross < 0 || d.Discount < 0 || d.Charged < 0):
		return fieldError("", "negative amount on a journey")
	case (d.Gross < 0 || d.Discount < 0 || d.Charged < 0) && (d.Gross > 0 || d.Discount > 0 || d.Charged > 0):
		return fieldError("", "an adjustment's amounts mix signs")
	case d.Charged != d.Gross-d.Discount:
		return fieldMismatch("charged_fen", fmt.Sprintf("%d is not gross %d - discount %d", d.Charged, d.Gross, d.Discount))
	}
	return nil
}
