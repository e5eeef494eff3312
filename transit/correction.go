package transit

import (
	"errors"
	"fmt"
)

// Correction is an operator's or customer service's correction of a
// settled charge: a refund, a partial refund or a re-price of the charge of
// one card's tap. The engine books it as an adjustment row in the first
// open settlement day (see the engine package's corrections).
type Correction struct {
	// ID identifies the correction; the engine applies a card's
	// correction once, however often it is submitted. It is written on
	// the ledger row the correction books, in the device column, so it
	// has a device identifier's syntax (1..MaxDeviceID printable bytes).
	ID DeviceID
	// Card and Tap name the charge corrected: the card's tap whose row
	// carries the charge (a metro journey's exit, or its entry when the
	// journey was charged incomplete).
	Card CardID
	Tap  TapID
	Kind CorrectionKind
	// Amount is, on a partial refund, the fen refunded (> 0); on a
	// re-price, the fare the rider pays instead (>= 0); 0 on a refund.
	Amount Fen
	// Line is the input line the correction was read from (for the
	// outcome report); 0 when it did not come from a file.
	Line int64
}

// CorrectionKind is what a correction does.
type CorrectionKind uint8

// Correction kinds. Names (see String) are part of the correction input
// formats.
const (
	// CorrectionRefund gives back everything still charged for the tap,
	// its discounts included (a refunded Join in Card ride gives its
	// subsidy back).
	CorrectionRefund CorrectionKind = 1
	// CorrectionPartial gives back Amount fen of the fare.
	CorrectionPartial CorrectionKind = 2
	// CorrectionReprice charges Amount instead of what is still charged:
	// the earlier amounts are reversed and Amount charged at its gross,
	// without discounts.
	CorrectionReprice CorrectionKind = 3
)

var correctionKindNames = [...]string{CorrectionRefund: "refund", CorrectionPartial: "partial-refund", CorrectionReprice: "reprice"}

// String returns the kind's input name.
func (k CorrectionKind) String() string {
	if int(k) < len(correctionKindNames) && correctionKindNames[k] != "" {
		return correctionKindNames[k]
	}
	return fmt.Sprintf("CorrectionKind(%d)", k)
}

// ParseCorrectionKind parses a kind's input name.
func ParseCorrectionKind(b []byte) (CorrectionKind, bool) {
	for i, n := range correctionKindNames {
		if n != "" && n == string(b) {
			return CorrectionKind(i), true
		}
	}
	return 0, false
}

// MaxCorrectionAmount bounds a correction's amount: 100,000 CNY, far above
// any fare, far below where sums of fen could overflow.
const MaxCorrectionAmount Fen = 10_000_000

// ErrCorrection is wrapped by Correction.Validate's errors.
var ErrCorrection = errors.New("invalid correction")

// Validate checks the fields' combination: every identifier given, a known
// kind, and an amount that fits the kind.
func (c *Correction) Validate() error {
	switch {
	case c.ID[0] == 0:
		return fmt.Errorf("%w: no correction_id", ErrCorrection)
	case c.Card[0] == 0:
		return fmt.Errorf("%w: no card", ErrCorrection)
	case c.Tap[0] == 0:
		return fmt.Errorf("%w: no tap_id", ErrCorrection)
	}
	switch c.Kind {
	case CorrectionRefund:
		if c.Amount != 0 {
			return fmt.Errorf("%w: a refund takes no amount (it refunds the whole charge); use %s", ErrCorrection, CorrectionPartial)
		}
	case CorrectionPartial:
		if c.Amount <= 0 || c.Amount > MaxCorrectionAmount {
			return fmt.Errorf("%w: a partial refund's amount must be 1..%d fen, not %d", ErrCorrection, MaxCorrectionAmount, c.Amount)
		}
	case CorrectionReprice:
		if c.Amount < 0 || c.Amount > MaxCorrectionAmount {
			return fmt.Errorf("%w: a re-price's fare must be 0..%d fen, not %d", ErrCorrection, MaxCorrectionAmount, c.Amount)
		}
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrCorrection, c.Kind)
	}
	return nil
}
