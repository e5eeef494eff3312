package engine

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/tapsettle/tapsettle/internal/varint"
	"github.com/tapsettle/tapsettle/transit"
)

// Corrections.
//
// A correction (transit.Correction) refunds, partly refunds or re-prices
// the charge of one card's tap after its day closed. To find that charge
// the engine keeps, when Options.KeepCharges is set, every row that moves
// money (charged, incomplete, adjustment) of the dedup window's days, per
// pricer and settlement day, in a compact record (chargeLog). Rows are
// recorded as they leave the pricer (flushOut), so pricing itself does no
// more work; a log is indexed by card and tap_id only when a correction
// first needs it.
//
// A correction is applied in the first open day (the day after the last
// closed one) and books adjustment rows of the corrected tap (one; two for
// a re-price), flagged
// transit.RuleCorrection, its device column holding the correction_id, its
// ref_day the latest day of the tap's charge and its adjustments. Its
// amounts are the change, so that the tap's rows always sum to what the
// rider owes, and like every adjustment's they share one sign:
//
//   - a refund negates what the tap's rows still sum to, discounts
//     included (a refunded Join in Card ride gives its subsidy back);
//   - a partial refund of x fen lowers the gross and the charge by x;
//   - a re-price to fare f reverses what the rows sum to, as a refund
//     does, and books a second row charging f at its gross, without
//     discounts (the adjustment model's reversal and true charge).
//
// A correction is rejected (not booked) when no row of the card's tap_id
// is kept (transit.ReasonUnknownCharge: never charged, a duplicate or a
// reject, or older than the window), when one of its rows is in a day not
// closed yet (ReasonNotSettled), when it would refund more than the rows
// still sum to (ReasonOverRefund; a second full refund of a tap is one),
// and when its tap_id is a correction_id of the card
// (ReasonCorrectsCorrection: a refund is undone by a re-price of the tap,
// not by refunding the refund). A correction whose correction_id the card
// already used within the window is a duplicate, never applied twice; it
// carries transit.ReasonContentDiffers when it names another tap. The rows
// it books are checkpointed like every row, so this holds across
// restarts.

// chargeBlock is the size of a chargeLog block; records never span blocks.
const (
	chargeShift = 20
	chargeBlock = 1 << chargeShift
	// maxChargeRecord bounds one record: a compact tap (at most 8 + 3
	// varints + 3 bytes + identifiers of 40+24+16+16+24 bytes with their
	// lengths) and six varints.
	maxChargeRecord = 8 + 3*10 + 3 + 5 + transit.MaxTapID + transit.MaxCardID + 2*transit.MaxCode + transit.MaxDeviceID + 6*10 + 1
)

// chargeLog holds the money rows of one settlement day priced by a
// pricer, each a record appendCharge wrote.
type chargeLog struct {
	blocks [][]byte // blocks[:nb] in use; the rest kept for their memory
	nb     int
	recs   []uint32 // each record's block<<chargeShift | offset
	// index: the records [0, indexed) by key hash; sorted holds the first
	// of them in hash order, the rest follow unsorted.
	index   []chargeSlot
	sorted  int
	indexed int
	// ck counts the records already checkpointed (Partition only).
	ck int
}

type chargeSlot struct {
	h   uint64
	rec uint32
}

func (c *chargeLog) reset() {
	for i := range c.nb {
		c.blocks[i] = c.blocks[i][:0]
	}
	c.nb = 0
	c.recs = c.recs[:0]
	c.index = c.index[:0]
	c.sorted, c.indexed, c.ck = 0, 0, 0
}

func (c *chargeLog) len() int { return len(c.recs) }

// begin starts a record of at most maxChargeRecord bytes and returns the
// number of the block to append it to, one with that much room.
func (c *chargeLog) begin() int {
	if c.nb == 0 || cap(c.blocks[c.nb-1])-len(c.blocks[c.nb-1]) < maxChargeRecord {
		if c.nb == len(c.blocks) {
			c.blocks = append(c.blocks, make([]byte, 0, chargeBlock))
		}
		c.nb++
	}
	i := c.nb - 1
	c.recs = append(c.recs, uint32(i)<<chargeShift|uint32(len(c.blocks[i])))
	return i
}

// add appends a record already encoded, of at most maxChargeRecord bytes.
func (c *chargeLog) add(rec []byte) {
	i := c.begin()
	c.blocks[i] = append(c.blocks[i], rec...)
}

// record returns record i's bytes.
func (c *chargeLog) record(i int) []byte {
	p := c.recs[i]
	blk, off := int(p>>chargeShift), int(p&(chargeBlock-1))
	b := c.blocks[blk]
	end := len(b)
	if i+1 < len(c.recs) && int(c.recs[i+1]>>chargeShift) == blk {
		end = int(c.recs[i+1] & (chargeBlock - 1))
	}
	return b[off:end]
}

// keepCharges records the money rows among rows (after flushOut settled
// their days) in their days' charge logs.
func (pr *pricer) keepCharges(rows []transit.Priced) {
	var l *dayLog
	for i := range rows {
		r := &rows[i]
		switch r.Status {
		case transit.StatusCharged, transit.StatusIncomplete, transit.StatusAdjustment:
		default:
			continue
		}
		if l == nil || l.day != r.Day {
			l = pr.dayLog(r.Day)
		}
		c := &l.charges
		i := c.begin()
		c.blocks[i] = appendCharge(c.blocks[i], r)
	}
}

// appendCharge appends row r's record: its tap (compact), rules (uvarint),
// status, and its amounts (varints: gross, the product, transfer and cap
// discounts, charged).
func appendCharge(b []byte, r *transit.Priced) []byte {
	b = r.Tap.AppendCompact(b)
	b = binary.AppendUvarint(b, uint64(r.Rules))
	b = append(b, byte(r.Status))
	b = binary.AppendVarint(b, int64(r.Gross))
	b = binary.AppendVarint(b, int64(r.ProductDiscount))
	b = binary.AppendVarint(b, int64(r.TransferDiscount))
	b = binary.AppendVarint(b, int64(r.CapDiscount))
	return binary.AppendVarint(b, int64(r.Charged))
}

// decodeCharge reads a record appendCharge wrote into r (its Day left as
// it is) and checks that it is one: a money row whose amounts add up.
func decodeCharge(b []byte, r *transit.Priced) error {
	rest, err := r.Tap.DecodeCompact(b)
	if err != nil {
		return fmt.Errorf("charge's tap: %w", err)
	}
	rules, rest, err := varint.Uvarint(rest)
	if err != nil || rules > math.MaxUint32 || transit.Rules(rules)&^transit.KnownRules != 0 {
		return errors.New("charge's rules")
	}
	if len(rest) == 0 {
		return errors.New("charge's status missing")
	}
	r.Rules, r.Status = transit.Rules(rules), transit.Status(rest[0])
	switch r.Status {
	case transit.StatusCharged, transit.StatusIncomplete, transit.StatusAdjustment:
	default:
		return fmt.Errorf("charge of status %d", rest[0])
	}
	rest = rest[1:]
	var v [5]int64
	for i := range v {
		if v[i], rest, err = varint.Varint(rest); err != nil {
			return fmt.Errorf("charge's amounts: %w", err)
		}
		if v[i] > math.MaxInt32 || v[i] < math.MinInt32 {
			return errors.New("charge's amount out of range")
		}
	}
	if len(rest) != 0 {
		return fmt.Errorf("charge record has %d trailing bytes", len(rest))
	}
	r.Gross, r.ProductDiscount, r.TransferDiscount, r.CapDiscount, r.Charged = transit.Fen(v[0]), transit.Fen(v[1]), transit.Fen(v[2]), transit.Fen(v[3]), transit.Fen(v[4])
	r.Discount = r.ProductDiscount + r.TransferDiscount + r.CapDiscount
	if r.Charged != r.Gross-r.Discount {
		return errors.New("charge's amounts do not add up")
	}
	return nil
}

// chargeKey hashes a card and an identifier: a tap_id, or a correction_id
// (as a TapID) on the rows a correction booked.
func chargeKey(card *transit.CardID, id *transit.TapID) uint64 {
	return mix(cardHash(card), tapHash(id))
}

// correctionKey returns the correction_id on row r as a TapID, and whether
// r is a correction's row.
func correctionKey(r *transit.Priced) (transit.TapID, bool) {
	var id transit.TapID
	if r.Rules&transit.RuleCorrection == 0 || r.Device[0] == 0 {
		return id, false
	}
	copy(id[:], r.Device[:])
	return id, true
}

// indexCharges indexes the records added since the last call. The index
// stays mostly sorted: the unsorted tail is merged in once it outgrows an
// eighth of the rest, so a stream of corrections costs a binary search and
// a short scan each, and indexing a record once.
func (c *chargeLog) indexCharges() error {
	var r transit.Priced
	for ; c.indexed < len(c.recs); c.indexed++ {
		if err := decodeCharge(c.record(c.indexed), &r); err != nil {
			return err
		}
		c.index = append(c.index, chargeSlot{h: chargeKey(&r.Card, &r.ID), rec: uint32(c.indexed)})
		if id, ok := correctionKey(&r); ok {
			c.index = append(c.index, chargeSlot{h: chargeKey(&r.Card, &id), rec: uint32(c.indexed)})
		}
	}
	if n := len(c.index) - c.sorted; n > 64 && n > c.sorted/8 {
		slices.SortFunc(c.index, func(a, b chargeSlot) int {
			return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.rec, b.rec))
		})
		c.sorted = len(c.index)
	}
	return nil
}

// find calls f with each record indexed under hash h, in record order
// within the sorted part, then the tail's.
func (c *chargeLog) find(h uint64, f func(rec int)) {
	s := c.index[:c.sorted]
	i, _ := slices.BinarySearchFunc(s, h, func(e chargeSlot, h uint64) int { return cmp.Compare(e.h, h) })
	for ; i < len(s) && s[i].h == h; i++ {
		f(int(s[i].rec))
	}
	for _, e := range c.index[c.sorted:] {
		if e.h == h {
			f(int(e.rec))
		}
	}
}

// CorrectionOutcome is what became of a correction.
type CorrectionOutcome struct {
	// Status is transit.StatusAdjustment when the correction was
	// applied, StatusDuplicate when its correction_id was used before,
	// StatusRejected when it was refused.
	Status transit.Status
	// Reason says why a correction was rejected, or that a duplicate
	// names another tap (transit.ReasonContentDiffers).
	Reason transit.Reason
	// Charged is what the tap's kept rows summed to before the
	// correction (0 when none was found).
	Charged transit.Fen
	// Row is the (last) row an applied correction booked; on a rejected or
	// duplicate one, the tap corrected as found (zero when none was).
	Row transit.Priced
}

// Refusal returns the field at fault and the reason, for people, that
// correction c was not applied with outcome o (window: the dedup
// window in days, which is how long charges are kept).
func (o *CorrectionOutcome) Refusal(c *transit.Correction, window int) (field, reason string) {
	if o.Status == transit.StatusDuplicate {
		if o.Reason == transit.ReasonContentDiffers {
			return "correction_id", fmt.Sprintf("duplicate: correction_id %q was used before for another tap of card %q (%s)", c.ID, c.Card, o.Reason)
		}
		return "correction_id", fmt.Sprintf("duplicate: correction_id %q was applied before; it is applied once", c.ID)
	}
	switch o.Reason {
	case transit.ReasonUnknownCharge:
		return "tap_id", fmt.Sprintf("%s: no charge of card %q's tap_id %q was settled in the last %d days", o.Reason, c.Card, c.Tap, window)
	case transit.ReasonNotSettled:
		return "tap_id", fmt.Sprintf("%s: the charge of tap_id %q is in a day not closed yet (%v); submit the correction once that day is settled", o.Reason, c.Tap, o.Row.Day)
	case transit.ReasonOverRefund:
		return "amount", fmt.Sprintf("%s: %s of tap_id %q would give back more than the %d fen still charged for it", o.Reason, c.Kind, c.Tap, o.Charged)
	case transit.ReasonCorrectsCorrection:
		return "tap_id", fmt.Sprintf("%s: %q is a correction_id, not a tap's; to undo a correction, re-price the tap it corrected", o.Reason, c.Tap)
	}
	return "", o.Reason.String()
}

// ErrNoCharges is returned by Correct on an engine that does not keep the
// charges corrections need (Options.KeepCharges).
var ErrNoCharges = errors.New("engine: corrections need Options.KeepCharges")

// chargeSum is what a card's tap's kept rows sum to.
type chargeSum struct {
	rows                                   int
	gross, product, transfer, cap, charged transit.Fen
	// A correction names the tap and day of the tap's charge and its
	// adjustments (charge), not of the corrections made to it (corr),
	// unless only those are left in the window.
	charge, corr tapSeen
	open         bool // some row but a correction's is in a day not closed
}

// tapSeen is the tap of the latest row seen and the latest day.
type tapSeen struct {
	tap  transit.Tap
	day  transit.Day
	seen bool
}

func (s *tapSeen) see(t *transit.Tap, day transit.Day) {
	s.tap, s.day, s.seen = *t, max(s.day, day), true
}

// named returns the tap and day a correction of the sum's tap refers to.
func (s *chargeSum) named() *tapSeen {
	if s.charge.seen {
		return &s.charge
	}
	return &s.corr
}

// correct applies correction c in the first open day, booking its row.
func (pr *pricer) correct(c *transit.Correction) (CorrectionOutcome, error) {
	var out CorrectionOutcome
	var cid transit.TapID
	copy(cid[:], c.ID[:])
	var sum chargeSum
	var used, usedElsewhere, namesCorrection bool
	var r transit.Priced
	for _, l := range pr.logs {
		ch := &l.charges
		if ch.len() == 0 {
			continue
		}
		if err := ch.indexCharges(); err != nil {
			return out, fmt.Errorf("charges of day %d: %w", l.day, err)
		}
		var err error
		ch.find(chargeKey(&c.Card, &c.Tap), func(rec int) {
			if err != nil {
				return
			}
			if err = decodeCharge(ch.record(rec), &r); err != nil || r.Card != c.Card {
				return
			}
			id, isCorr := correctionKey(&r)
			if isCorr && id == c.Tap {
				namesCorrection = true
			}
			if r.ID != c.Tap {
				return
			}
			if isCorr && id == cid {
				used = true
			}
			sum.rows++
			sum.gross += r.Gross
			sum.product += r.ProductDiscount
			sum.transfer += r.TransferDiscount
			sum.cap += r.CapDiscount
			sum.charged += r.Charged
			if isCorr {
				// A correction booked in the open day is settled
				// enough: a second correction of the tap that day must
				// see it.
				sum.corr.see(&r.Tap, l.day)
				return
			}
			sum.charge.see(&r.Tap, l.day)
			sum.open = sum.open || l.day > pr.closed || pr.closed == 0
		})
		if cid != c.Tap {
			ch.find(chargeKey(&c.Card, &cid), func(rec int) {
				if err != nil {
					return
				}
				if err = decodeCharge(ch.record(rec), &r); err != nil || r.Card != c.Card {
					return
				}
				if id, ok := correctionKey(&r); ok && id == cid && r.ID != c.Tap {
					usedElsewhere = true
				}
			})
		}
		if err != nil {
			return out, fmt.Errorf("charges of day %d: %w", l.day, err)
		}
	}
	named := sum.named()
	if sum.rows > 0 {
		out.Row.Tap, out.Row.Day = named.tap, named.day
		out.Row.Device = transit.DeviceID{}
		out.Charged = sum.charged
	}
	switch {
	case used || usedElsewhere:
		out.Status = transit.StatusDuplicate
		if usedElsewhere && !used {
			out.Reason = transit.ReasonContentDiffers
		}
		return out, nil
	case namesCorrection:
		out.Status, out.Reason = transit.StatusRejected, transit.ReasonCorrectsCorrection
		return out, nil
	case sum.rows == 0:
		out.Status, out.Reason = transit.StatusRejected, transit.ReasonUnknownCharge
		return out, nil
	case sum.open:
		out.Status, out.Reason = transit.StatusRejected, transit.ReasonNotSettled
		return out, nil
	}
	t := named.tap
	t.Device = c.ID
	book := func(gross, product, transfer, cap, charged transit.Fen) *transit.Priced {
		p := pr.appendRow(&t, pr.closed+1, transit.StatusAdjustment)
		p.RefDay, p.Rules = named.day, transit.RuleCorrection
		p.Gross, p.ProductDiscount, p.TransferDiscount, p.CapDiscount, p.Charged = gross, product, transfer, cap, charged
		p.Discount = product + transfer + cap
		return p
	}
	var p *transit.Priced
	switch c.Kind {
	case transit.CorrectionRefund:
		if sum.charged <= 0 {
			out.Status, out.Reason = transit.StatusRejected, transit.ReasonOverRefund
			return out, nil
		}
		p = book(-sum.gross, -sum.product, -sum.transfer, -sum.cap, -sum.charged)
	case transit.CorrectionPartial:
		if c.Amount > sum.charged {
			out.Status, out.Reason = transit.StatusRejected, transit.ReasonOverRefund
			return out, nil
		}
		p = book(-c.Amount, 0, 0, 0, -c.Amount)
	case transit.CorrectionReprice:
		if sum.gross != 0 || sum.product != 0 || sum.transfer != 0 || sum.cap != 0 {
			book(-sum.gross, -sum.product, -sum.transfer, -sum.cap, -sum.charged)
		}
		p = book(c.Amount, 0, 0, 0, c.Amount)
	default:
		return out, fmt.Errorf("correction %q: %w", c.ID.String(), c.Validate())
	}
	out.Status, out.Row = transit.StatusAdjustment, *p
	// Kept now, for the next correction of the tap to see.
	pr.flushOut()
	return out, nil
}

// applyCorrections applies the corrections of cs the shard owns.
func (pr *pricer) applyCorrections(cs *corrections) {
	for _, i := range cs.idx {
		o, err := pr.correct(&cs.cs[i])
		if err != nil {
			cs.err = err
			return
		}
		cs.out[i] = o
	}
}
