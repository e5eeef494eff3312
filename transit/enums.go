package transit

import "errors"

// Mode is the travel mode of a tap.
type Mode uint8

// Modes. The zero value is invalid so that an unset field is caught.
const (
	ModeBus   Mode = 1
	ModeMetro Mode = 2
)

// NumModes bounds arrays indexed by Mode.
const NumModes = 3

var modeNames = [...]string{ModeBus: "bus", ModeMetro: "metro"}

// String returns "bus" or "metro" ("" for an invalid mode).
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return ""
}

// ParseMode parses "bus" or "metro".
func ParseMode(b []byte) (Mode, error) {
	switch string(b) {
	case "bus":
		return ModeBus, nil
	case "metro":
		return ModeMetro, nil
	}
	return 0, errors.New(`want "bus" or "metro"`)
}

// Action is what a tap records.
type Action uint8

// Actions: a bus ride is one board tap; a metro journey is an entry and an
// exit tap.
const (
	ActionBoard Action = 1
	ActionEntry Action = 2
	ActionExit  Action = 3
)

var actionNames = [...]string{ActionBoard: "board", ActionEntry: "entry", ActionExit: "exit"}

// String returns "board", "entry" or "exit".
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return ""
}

// ParseAction parses "board", "entry" or "exit".
func ParseAction(b []byte) (Action, error) {
	switch string(b) {
	case "board":
		return ActionBoard, nil
	case "entry":
		return ActionEntry, nil
	case "exit":
		return ActionExit, nil
	}
	return 0, errors.New(`want "board", "entry" or "exit"`)
}

// Product is the card product, which selects rider-category and
// card-product discounts.
type Product uint8

// Products.
const (
	ProductStandard Product = 1
	ProductJoinIn   Product = 2 // the Join in Card (work permit + social security card)
	ProductStudent  Product = 3
	ProductSenior   Product = 4
)

// NumProducts bounds arrays indexed by Product.
const NumProducts = 5

var productNames = [...]string{ProductStandard: "standard", ProductJoinIn: "joinin", ProductStudent: "student", ProductSenior: "senior"}

// String returns the product's schema name ("joinin" for the Join in Card).
func (p Product) String() string {
	if int(p) < len(productNames) {
		return productNames[p]
	}
	return ""
}

// ParseProduct parses "standard", "joinin", "student" or "senior".
func ParseProduct(b []byte) (Product, error) {
	switch string(b) {
	case "standard":
		return ProductStandard, nil
	case "joinin":
		return ProductJoinIn, nil
	case "student":
		return ProductStudent, nil
	case "senior":
		return ProductSenior, nil
	}
	return 0, errors.New(`want "standard", "joinin", "student" or "senior"`)
}

// Status is the outcome of a tap in the ledger. Every input record ends in
// exactly one status, so counts by status reconcile with records read.
type Status uint8

// Statuses.
const (
	// StatusCharged: the tap was priced (a metro entry paired with its exit
	// is charged 0; the journey's fare sits on the exit row).
	StatusCharged Status = 1
	// StatusOpen: a metro entry still awaiting its exit (intraday only).
	StatusOpen Status = 2
	// StatusDuplicate: a tap_id already seen; never charged.
	StatusDuplicate Status = 3
	// StatusRejected: the record could not be priced (malformed, or a
	// well-formed tap that no policy can price); the reason is recorded.
	StatusRejected Status = 4
	// StatusIncomplete: a journey missing a tap (entry never closed by the
	// day's cut-off, or exit with no entry), charged by policy and flagged.
	StatusIncomplete Status = 5
	// StatusAdjustment: not an input record but an item booked in an open
	// day that changes money settled before: the reversal of an earlier
	// charge (its amounts negated) or the charge that replaces it. Its tap
	// fields are the original row's tap and Priced.RefDay the original's
	// settlement day. Summaries count adjustments apart from records.
	StatusAdjustment Status = 6
)

// NumStatuses bounds arrays indexed by Status.
const NumStatuses = 7

// NumRecordStatuses bounds the statuses of input records: every status
// below it but StatusAdjustment's.
const NumRecordStatuses = StatusAdjustment

var statusNames = [...]string{StatusCharged: "charged", StatusOpen: "open", StatusDuplicate: "duplicate", StatusRejected: "rejected", StatusIncomplete: "incomplete", StatusAdjustment: "adjustment"}

// String returns the ledger name of the status.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return ""
}

// ParseStatus parses a ledger status name.
func ParseStatus(b []byte) (Status, error) {
	for i, n := range statusNames {
		if n != "" && n == string(b) {
			return Status(i), nil
		}
	}
	return 0, errors.New("unknown status")
}
