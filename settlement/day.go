package settlement

import (
	"errors"
	"fmt"

	"github.com/tapsettle/tapsettle/transit"
)

// Amounts sums clearing rows. Adjustments are summed with their sign, so
// a sum that includes them may be negative.
type Amounts struct {
	// Count is the number of rows summed.
	Count    int64
	Gross    transit.Fen
	Discount transit.Fen
	Charged  transit.Fen
}

func (a *Amounts) addRow(r *transit.Priced) {
	a.Count++
	a.Gross += r.Gross
	a.Discount += r.Discount
	a.Charged += r.Charged
}

// Add adds b to a.
func (a *Amounts) Add(b Amounts) {
	a.Count += b.Count
	a.Gross += b.Gross
	a.Discount += b.Discount
	a.Charged += b.Charged
}

// Bilateral is what one issuer owes one acquirer for a day: the sums of the
// interregional clearing rows of cards issued by Issuer on rides in
// Acquirer, adjustments included (signed), so Charged is the net amount
// owed and Count counts journeys and adjustments.
type Bilateral struct {
	Issuer   transit.City
	Acquirer transit.City
	Amounts
	// Adjustments sums the pair's adjustment rows alone: a part of
	// Amounts, signed.
	Adjustments Amounts
}

// NetPosition is a participant's multilateral position: Net = Receivable
// (owed to it as acquirer) - Payable (owed by it as issuer). A positive
// position is paid to the participant by the clearing house.
type NetPosition struct {
	Participant transit.City
	Name        string
	Receivable  transit.Fen
	Payable     transit.Fen
	Net         transit.Fen
}

// DiscountTotal sums the clearing rows of one (city, mode, product): the
// operators' subsidy claim, split by the kind of reduction. Adjustments
// are included with their sign: a reversed ride gives its discounts back.
type DiscountTotal struct {
	City             transit.City
	Mode             transit.Mode
	Product          transit.Product
	Count            int64
	Gross            transit.Fen
	ProductDiscount  transit.Fen
	TransferDiscount transit.Fen
	CapDiscount      transit.Fen
	Charged          transit.Fen
}

// Discount returns the sum of the three reductions.
func (t *DiscountTotal) Discount() transit.Fen {
	return t.ProductDiscount + t.TransferDiscount + t.CapDiscount
}

func (t *DiscountTotal) addRow(r *transit.Priced) {
	t.Count++
	t.Gross += r.Gross
	t.ProductDiscount += r.ProductDiscount
	t.TransferDiscount += r.TransferDiscount
	t.CapDiscount += r.CapDiscount
	t.Charged += r.Charged
}

func (t *DiscountTotal) add(u *DiscountTotal) {
	t.Count += u.Count
	t.Gross += u.Gross
	t.ProductDiscount += u.ProductDiscount
	t.TransferDiscount += u.TransferDiscount
	t.CapDiscount += u.CapDiscount
	t.Charged += u.Charged
}

// Day is one settlement day: its aggregates, and the rows and rejects the
// files list. Build it with [Collector.Day] or [Merge]; a Day is not
// modified after it is returned, and must not be modified by callers.
type Day struct {
	Day transit.Day
	// Records counts the input records of the day (rows of every status
	// but StatusAdjustment) plus the malformed records placed in it.
	// Records == sum(Counts[1:NumRecordStatuses]).
	Records int64
	// Counts counts by status; Counts[StatusRejected] includes malformed
	// records, and Counts[StatusAdjustment] counts the adjustments, which
	// are not records. Index 0 is always 0.
	Counts [transit.NumStatuses]int64
	// Totals sums the clearing rows (charged or incomplete, not paired
	// metro entries, and adjustments with their sign): local and
	// interregional, net of adjustments.
	Totals Amounts
	// Interregional sums the clearing rows with Issuer != City; it equals
	// the sum of Bilateral.
	Interregional Amounts
	// Adjustments sums the adjustment rows alone, local and
	// interregional: a part of Totals. Its Count is
	// Counts[StatusAdjustment].
	Adjustments Amounts
	// Bilateral holds one entry per (issuer, acquirer) pair that traded,
	// sorted by (Issuer, Acquirer).
	Bilateral []Bilateral
	// Net holds every participant's position, sorted by code, zero
	// included. Positions sum to exactly zero.
	Net []NetPosition
	// Discounts holds one entry per (city, mode, product) with clearing
	// rows, sorted by (City, Mode, Product).
	Discounts []DiscountTotal
	// Rows is sorted by [ComparePriced]. With Ledger it holds every row of
	// the day; otherwise only the interregional clearing rows.
	Rows []transit.Priced
	// Rejects holds the malformed records of the day, sorted by
	// [CompareRejects], unless the collector spilled them to disk (more
	// than Options.RejectBuffer bytes): Rejects is then empty, and
	// RejectCount and WalkRejects give them, in the same order.
	Rejects []transit.Reject
	// Ledger reports whether Rows holds every row of the day.
	Ledger bool
	// Participants are the clearing members the day was collected for.
	// The slice is shared between Days and must not be modified.
	Participants []transit.Participant

	bad badRows
	// spilled holds the rejects when the collector spilled them; rejErr
	// is the error that lost some, reported by Validate.
	spilled *rejectSet
	rejErr  error
	// spilledRows holds the rows when the collector spilled them (by
	// rowOrder: the ledger's, with Ledger, and the clearing files');
	// rowErr is the error of a row spill, reported by Validate.
	spilledRows [2]*rowSet
	rowErr      error
}

// badRows remembers rows that break the row invariants (see rowProblem).
// Emit cannot return an error, so the problem is kept and reported by
// Validate, which WriteDay calls before writing anything.
type badRows struct {
	n     int64
	first transit.Priced
	why   string
}

func (b *badRows) note(r *transit.Priced, why string) {
	if b.n == 0 || ComparePriced(r, &b.first) < 0 {
		b.first, b.why = *r, why // the smallest bad row: deterministic across shards
	}
	b.n++
}

func (b *badRows) merge(o *badRows) {
	if o.n == 0 {
		return
	}
	n := b.n
	b.note(&o.first, o.why)
	b.n = n + o.n
}

// NingboJoinInDiscount returns the product discount of Join in Cards on
// rides in Ningbo: the amount Ningbo claims for the card's concession.
func (d *Day) NingboJoinInDiscount() transit.Fen {
	var sum transit.Fen
	for i := range d.Discounts {
		t := &d.Discounts[i]
		if t.City == transit.Ningbo && t.Product == transit.ProductJoinIn {
			sum += t.ProductDiscount
		}
	}
	return sum
}

// ErrInvalidDay is wrapped by the errors of Day.Validate and Merge.
var ErrInvalidDay = errors.New("inconsistent settlement day")

func invalid(d *Day, format string, args ...any) error {
	return fmt.Errorf("settlement: day %s: %s: %w", DirName(d.Day), fmt.Sprintf(format, args...), ErrInvalidDay)
}

// Validate checks every invariant of d and returns the first that fails:
// Records == sum(Counts); every row valid; rows and rejects sorted and of
// this day; aggregates equal to a recomputation from the rows (all of them
// with Ledger; the interregional ones otherwise); bilateral pairs between
// participants; net positions derived from the bilateral totals and
// summing to zero. It never modifies d. Spilled rejects are not read back
// here: the collector wrote them sorted, the writer merges them in order,
// and Verify checks the order in the file; a spill that lost some is
// reported.
func (d *Day) Validate() error {
	if d.bad.n > 0 {
		r := &d.bad.first
		return invalid(d, "%d rows cannot be settled; first: tap %s: %s", d.bad.n, r.ID.String(), d.bad.why)
	}
	for _, n := range d.Counts {
		if n < 0 {
			return invalid(d, "negative status count")
		}
	}
	if sum := recordCount(&d.Counts); d.Counts[0] != 0 || sum != d.Records {
		return invalid(d, "records %d, sum of record status counts %d", d.Records, sum)
	}
	if d.Adjustments.Count != d.Counts[transit.StatusAdjustment] {
		return invalid(d, "%d adjustments summed, %d counted", d.Adjustments.Count, d.Counts[transit.StatusAdjustment])
	}
	if d.rejErr != nil {
		return fmt.Errorf("settlement: day %s: rejects: %w", DirName(d.Day), d.rejErr)
	}
	if d.rowErr != nil {
		return fmt.Errorf("settlement: day %s: rows: %w", DirName(d.Day), d.rowErr)
	}
	if n := d.RejectCount(); n > d.Counts[transit.StatusRejected] {
		return invalid(d, "%d malformed records, only %d rejected", n, d.Counts[transit.StatusRejected])
	}
	for i := range d.Rejects {
		if i > 0 && CompareRejects(&d.Rejects[i-1], &d.Rejects[i]) > 0 {
			return invalid(d, "rejects not sorted at %d", i)
		}
	}
	if err := d.validateRows(); err != nil {
		return err
	}
	if err := d.validateBilateral(); err != nil {
		return err
	}
	if err := d.validateNet(); err != nil {
		return err
	}
	return d.validateDiscounts()
}

func (d *Day) validateRows() error {
	if d.Day == Undated && len(d.Rows) > 0 {
		return invalid(d, "rows in the undated pseudo-day")
	}
	if d.rowsSpilled() {
		return nil // checked as they are written (rowCheck)
	}
	chk := newRowCheck(d, ledgerOrder, false)
	for i := range d.Rows {
		if err := chk.add(&d.Rows[i]); err != nil {
			return err
		}
	}
	return chk.finish()
}

func (d *Day) validateBilateral() error {
	var inter Amounts
	for i := range d.Bilateral {
		b := &d.Bilateral[i]
		if b.Issuer == b.Acquirer || b.Count <= 0 {
			return invalid(d, "bilateral %v-%v: not an interregional pair that traded", b.Issuer, b.Acquirer)
		}
		if i > 0 && !pairLess(&d.Bilateral[i-1], b) {
			return invalid(d, "bilateral totals not sorted at %v-%v", b.Issuer, b.Acquirer)
		}
		if !isParticipant(d.Participants, b.Issuer) {
			return invalid(d, "issuer %v is not a clearing participant", b.Issuer)
		}
		if !isParticipant(d.Participants, b.Acquirer) {
			return invalid(d, "acquirer %v is not a clearing participant", b.Acquirer)
		}
		if a := &b.Adjustments; a.Count < 0 || a.Count > b.Count || a.Charged != a.Gross-a.Discount {
			return invalid(d, "bilateral %v-%v: adjustment totals %+v are not a part of %+v", b.Issuer, b.Acquirer, *a, b.Amounts)
		}
		inter.Add(b.Amounts)
	}
	if inter != d.Interregional {
		return invalid(d, "interregional totals %+v, bilateral totals sum to %+v", d.Interregional, inter)
	}
	return nil
}

func (d *Day) validateNet() error {
	want := netPositions(d.Participants, d.Bilateral)
	if len(want) != len(d.Net) {
		return invalid(d, "%d net positions, want %d", len(d.Net), len(want))
	}
	var sum transit.Fen
	for i := range want {
		if want[i] != d.Net[i] {
			return invalid(d, "net position of %v is %+v, bilateral totals give %+v", want[i].Participant, d.Net[i], want[i])
		}
		sum += d.Net[i].Net
	}
	if sum != 0 {
		return invalid(d, "net positions sum to %d fen, not zero", sum)
	}
	return nil
}

func (d *Day) validateDiscounts() error {
	var sum DiscountTotal
	for i := range d.Discounts {
		t := &d.Discounts[i]
		if i > 0 && !discountLess(&d.Discounts[i-1], t) {
			return invalid(d, "discount totals not sorted at %v/%v/%v", t.City, t.Mode, t.Product)
		}
		if t.Charged != t.Gross-t.Discount() {
			return invalid(d, "discount totals %v/%v/%v: charged is not gross - discounts", t.City, t.Mode, t.Product)
		}
		sum.add(t)
	}
	if sum.Count != d.Totals.Count || sum.Gross != d.Totals.Gross || sum.Discount() != d.Totals.Discount || sum.Charged != d.Totals.Charged {
		return invalid(d, "discount totals do not add up to the day's totals")
	}
	return nil
}

// recordCount sums the counts of the statuses of input records: every
// status but StatusAdjustment, the last.
func recordCount(c *[transit.NumStatuses]int64) int64 {
	var n int64
	for _, v := range c[1:transit.NumRecordStatuses] {
		n += v
	}
	return n
}

// netPositions derives every participant's position from the bilateral
// totals. A city in a pair that is not a participant gets a position too,
// so that the sum stays zero; Validate reports it.
func netPositions(parts []transit.Participant, bil []Bilateral) []NetPosition {
	net := make([]NetPosition, len(parts))
	idx := make(map[transit.City]int, len(parts))
	for i, p := range parts {
		net[i] = NetPosition{Participant: p.Code, Name: p.Name}
		idx[p.Code] = i
	}
	at := func(c transit.City) *NetPosition {
		i, ok := idx[c]
		if !ok {
			i = len(net)
			idx[c] = i
			net = append(net, NetPosition{Participant: c})
		}
		return &net[i]
	}
	for i := range bil {
		b := &bil[i]
		at(b.Acquirer).Receivable += b.Charged
		at(b.Issuer).Payable += b.Charged
	}
	for i := range net {
		net[i].Net = net[i].Receivable - net[i].Payable
	}
	if len(net) > len(parts) {
		sortNet(net)
	}
	return net
}

func isParticipant(parts []transit.Participant, c transit.City) bool {
	lo, hi := 0, len(parts)
	for lo < hi {
		m := (lo + hi) / 2
		if parts[m].Code < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(parts) && parts[lo].Code == c
}

func pairLess(a, b *Bilateral) bool {
	return a.Issuer < b.Issuer || (a.Issuer == b.Issuer && a.Acquirer < b.Acquirer)
}

func discountLess(a, b *DiscountTotal) bool {
	if a.City != b.City {
		return a.City < b.City
	}
	if a.Mode != b.Mode {
		return a.Mode < b.Mode
	}
	return a.Product < b.Product
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
