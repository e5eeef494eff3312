package settlement

import "github.com/tapsettle/tapsettle/transit"

// isClearing reports whether a row moves money: a charged or incomplete
// journey, or an adjustment. A metro entry paired with its exit is charged
// 0 and its fare sits on the exit row, so it is not a transaction of its
// own; an adjustment always is, whatever tap it names.
func isClearing(r *transit.Priced) bool {
	if r.Status == transit.StatusAdjustment {
		return true
	}
	return (r.Status == transit.StatusCharged || r.Status == transit.StatusIncomplete) &&
		r.Rules&transit.RuleMetroEntry == 0
}

// isAdjustment reports whether r is an adjustment rather than an input
// record.
func isAdjustment(r *transit.Priced) bool { return r.Status == transit.StatusAdjustment }

// amountsProblem returns why r's amounts are not signed as its status
// allows, or "": an adjustment's six amounts share one sign (a reversal
// negates an earlier charge, a replacing charge is positive), every other
// row's are never negative.
func amountsProblem(r *transit.Priced) string {
	neg := r.Gross < 0 || r.ProductDiscount < 0 || r.TransferDiscount < 0 || r.CapDiscount < 0 || r.Discount < 0 || r.Charged < 0
	if !isAdjustment(r) {
		if neg {
			return "negative amount on a row that is not an adjustment"
		}
		return ""
	}
	pos := r.Gross > 0 || r.ProductDiscount > 0 || r.TransferDiscount > 0 || r.CapDiscount > 0 || r.Discount > 0 || r.Charged > 0
	if neg && pos {
		return "an adjustment's amounts mix signs"
	}
	return ""
}

// reasonFits reports whether r's reason suits its status: a rejected row
// says why, a duplicate may say its content differs, others give none.
func reasonFits(r *transit.Priced) bool {
	switch r.Status {
	case transit.StatusRejected:
		return r.Reason != transit.ReasonNone && r.Reason != transit.ReasonContentDiffers
	case transit.StatusDuplicate:
		return r.Reason == transit.ReasonNone || r.Reason == transit.ReasonContentDiffers
	}
	return r.Reason == transit.ReasonNone
}

// maxOffset bounds a tap's UTC offset: RFC 3339 writes it as ±hh:mm.
const maxOffset = 24*3600 - 60

// rowProblem returns why r cannot be settled or written, or "" when it can.
// It checks only fixed-size fields with a few comparisons, cheap enough for
// Emit to run on every row; identifiers are checked by idProblem when the
// day is validated. The results are constants, so nothing allocates.
func rowProblem(r *transit.Priced) string {
	switch {
	case r.Status == 0 || r.Status >= transit.NumStatuses:
		return "invalid status"
	case r.Mode == 0 || r.Mode >= transit.NumModes:
		return "invalid mode"
	case r.Action == 0 || r.Action > transit.ActionExit:
		return "invalid action"
	case r.Product == 0 || r.Product >= transit.NumProducts:
		return "invalid card product"
	case !r.Issuer.Valid():
		return "invalid issuer code"
	case !r.City.Valid():
		return "invalid city code"
	case r.Offset%60 != 0 || r.Offset > maxOffset || r.Offset < -maxOffset:
		return "UTC offset is not whole minutes within ±23:59"
	case r.Rules&^knownRules != 0:
		return "unknown rule bits"
	case r.Reason >= numReasons:
		return "unknown reason"
	case !reasonFits(r):
		return "a reason is given exactly for rejected rows (and content-differs only for duplicates)"
	case isAdjustment(r) && r.RefDay <= 0:
		return "an adjustment names no ref_day"
	case isAdjustment(r) && r.RefDay > r.Day:
		return "an adjustment's ref_day is after its settlement day"
	case !isAdjustment(r) && r.RefDay != 0:
		return "a ref_day on a row that is not an adjustment"
	case amountsProblem(r) != "":
		return amountsProblem(r)
	case r.Discount != r.ProductDiscount+r.TransferDiscount+r.CapDiscount:
		return "discount is not product + transfer + cap discount"
	case r.Charged != r.Gross-r.Discount:
		return "charged is not gross - discount"
	case !isClearing(r) && (r.Gross != 0 || r.Discount != 0):
		return "a row that settles nothing carries an amount"
	}
	return ""
}

// idProblem returns why r's identifiers cannot be written, or "".
// Identifiers must be what the transit Set methods store: valid bytes,
// NUL-padded, so that a reader's Set reproduces the same array.
func idProblem(r *transit.Priced) string {
	switch {
	case !validPadded(r.ID[:], true):
		return "invalid tap_id"
	case !validPadded(r.Card[:], true):
		return "invalid card_id"
	case !validPadded(r.Line[:], false):
		return "invalid line"
	case !validPadded(r.Stop[:], false):
		return "invalid stop"
	case !validPadded(r.Device[:], false):
		return "invalid device"
	case !validPadded(r.EntryStop[:], false):
		return "invalid entry_stop"
	}
	return ""
}

// validPadded mirrors transit's identifier rule: bytes 0x21..0x7E except
// ',', '"', '|' and '\\', or bytes of UTF-8 sequences, then only NUL.
func validPadded(b []byte, required bool) bool {
	n := 0
	for n < len(b) && idByte[b[n]] {
		n++
	}
	if required && n == 0 {
		return false
	}
	// The identifier ends at its first byte outside idByte: the padding
	// begins there, and a byte that is not NUL is one it may not hold.
	for _, c := range b[n:] {
		if c != 0 {
			return false
		}
	}
	return true
}

// idByte says which bytes an identifier may hold (NUL, the padding, is
// not one of them): a table, because a ledger's every row has six
// identifiers to check, and a lookup is about twice as fast as the
// comparisons (transit's validID does the same).
var idByte = func() (ok [256]bool) {
	for i := range ok {
		c := byte(i)
		ok[i] = c >= 0x80 || c > 0x20 && c != 0x7f && c != ',' && c != '"' && c != '|' && c != '\\'
	}
	return ok
}()
