package transit

import "bytes"

// Priced is the engine's verdict on one tap: one ledger row. Amounts obey
// Charged == Gross - Discount and Discount == ProductDiscount +
// TransferDiscount + CapDiscount.
type Priced struct {
	Tap
	// Day is the settlement day of the row (the day of Tap.Time).
	Day    Day
	Status Status
	// Reason says why a row was rejected by the engine; 0 otherwise.
	Reason Reason
	// Rules lists the fare rules that produced the amounts.
	Rules Rules
	// RefDay is, on an adjustment (StatusAdjustment), the settlement day
	// of the row it changes, the row of the same tap; 0 on other rows.
	RefDay Day
	// Gross is the full published fare of the journey.
	Gross Fen
	// Discount is the sum of the three reductions below.
	Discount Fen
	// Charged is what the card pays and what the acquirer is owed.
	Charged Fen
	// ProductDiscount is the card-product or rider-category reduction
	// (e.g. Ningbo's Join in Card), claimed from government as subsidy.
	ProductDiscount Fen
	// TransferDiscount is the reduction for a transfer within a window.
	TransferDiscount Fen
	// CapDiscount is the reduction from daily caps or volume discounts.
	CapDiscount Fen
	// EntryStop and EntryTime describe the entry of a metro journey on its
	// exit row (zero when there was none).
	EntryStop Code
	EntryTime int64
}

// Interregional reports whether the row settles between two regions.
func (p *Priced) Interregional() bool { return p.Issuer != p.City }

// Rules is a set of fare rules, recorded on each ledger row.
type Rules uint32

// Rules. Names (see String) are part of the ledger and clearing formats,
// and bit values of the segment format: a new rule goes at the end.
const (
	RuleBusFlat       Rules = 1 << iota // the city's flat bus fare
	RuleBusLine                         // a per-line bus fare
	RuleMetroDistance                   // distance fare on the shortest path
	RuleMetroEntry                      // an entry paired with its exit; fare on the exit row
	RuleProduct                         // a card-product or rider-category discount
	RuleTransfer                        // a transfer discount
	RuleDailyCap                        // a daily cap
	RuleVolume                          // a monthly volume discount (Beijing)
	RuleOvertime                        // over the time-in-system limit
	RuleUnmatchedExit                   // an exit with no open entry
	RuleUnclosedEntry                   // an entry not closed by the cut-off, or by a new entry
	RuleLate                            // arrived after the reorder window
	RuleDefaultPolicy                   // the documented default policy, not city data
	RuleSynthetic                       // priced on a synthetic (generated) metro network
	RuleCarried                         // an entry carried past its day's cut-off, settled the next day
	RuleCorrection                      // booked by a correction (transit.Correction)
	numRules          = iota
)

var ruleNames = [numRules]string{
	"bus-flat", "bus-line", "metro-distance", "metro-entry", "product",
	"transfer", "daily-cap", "volume", "overtime", "unmatched-exit",
	"unclosed-entry", "late", "default-policy", "synthetic", "carried",
	"correction",
}

// Append appends the rule names joined by '+', in bit order.
func (r Rules) Append(b []byte) []byte {
	first := true
	for i := 0; i < numRules; i++ {
		if r&(1<<i) == 0 {
			continue
		}
		if !first {
			b = append(b, '+')
		}
		first = false
		b = append(b, ruleNames[i]...)
	}
	return b
}

// String returns the rule names joined by '+'.
func (r Rules) String() string { return string(r.Append(nil)) }

// KnownRules has a bit set for every rule that has a name.
const KnownRules Rules = 1<<numRules - 1

// ParseRules parses rule names joined by '+', as Rules.Append writes them
// (in any order). It does not allocate: ledgers and clearing files parse
// one per row.
func ParseRules(b []byte) (Rules, bool) {
	var r Rules
	for len(b) > 0 {
		name := b
		if i := bytes.IndexByte(b, '+'); i >= 0 {
			name, b = b[:i], b[i+1:]
			if len(b) == 0 {
				return 0, false // a trailing '+'
			}
		} else {
			b = nil
		}
		found := false
		for i, n := range ruleNames {
			if string(name) == n {
				r |= 1 << i
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	return r, true
}

// Reason is why the engine rejected a well-formed tap, or, on a duplicate,
// that it differs from the tap first seen with its tap_id.
type Reason uint8

// Reasons.
const (
	ReasonNone           Reason = iota
	ReasonUnknownCity           // the tap's city is not a participant
	ReasonUnknownIssuer         // the card's issuer is not a participant
	ReasonNoPolicy              // no policy version is effective on the day
	ReasonNoMetro               // a metro tap in a city without a metro
	ReasonUnknownStation        // a metro stop missing from the network
	ReasonModeAction            // board on metro, or entry/exit on bus
	// ReasonContentDiffers is the one reason a duplicate may carry: the
	// tap_id was seen before on a tap whose other fields differ.
	ReasonContentDiffers
	// The reasons a correction is rejected for (on its row, flagged
	// RuleCorrection): no charge of the card's tap_id settled within the
	// window; its charge is in a day not closed yet; it would refund more
	// than is still charged; its tap_id is a correction's, not a tap's.
	ReasonUnknownCharge
	ReasonNotSettled
	ReasonOverRefund
	ReasonCorrectsCorrection
	numReasons
)

var reasonNames = [numReasons]string{
	"", "unknown-city", "unknown-issuer", "no-policy", "no-metro", "unknown-station", "mode-action",
	"content-differs", "unknown-charge", "not-settled", "over-refund", "corrects-correction",
}

// String returns the reason's ledger name.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// NumReasons bounds the valid reasons.
const NumReasons = numReasons

// ParseReason parses a reason's ledger name ("" is ReasonNone).
func ParseReason(b []byte) (Reason, bool) {
	for i, n := range reasonNames {
		if n == string(b) {
			return Reason(i), true
		}
	}
	return 0, false
}
