package settlement

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tapsettle/tapsettle/internal/buildinfo"
	"github.com/tapsettle/tapsettle/transit"
)

// SummaryFormat names the summary's schema and version. Version 2 added
// the adjustment figures (adjustments, and adjustments per bilateral
// pair); version 3 the producer (the build that wrote the day's files)
// and malformed (the records of the rejects file, a part of the rejected
// count). ParseSummary refuses every other version.
const SummaryFormat = "tapsettle-summary/3"

// Summary is the content of summary.json: the day's aggregates in a form
// for people and downstream systems. City codes are six-digit strings and
// amounts integer fen. Records and counts are input records only;
// adjustments are counted and summed apart, while totals, interregional,
// bilateral, net positions and discounts are net of adjustments.
// Producer names the build that wrote the day's files (the same in every
// clearing file header), and Malformed counts the records of the rejects
// file: the rejected records that could not be read as taps, never
// priced; the other rejected records are ledger rows. Policies lists the
// fare books that priced the day when there were several (a streaming
// service reloaded its policies while the day was open), with the rows
// each priced, and PolicyFingerprint is then their MixedPolicyPrefix
// identifier; a day priced by one book lists none, so its summary is what
// builds before wrote.
type Summary struct {
	Format            string            `json:"format"`
	Producer          string            `json:"producer"`
	Day               string            `json:"day"`
	PolicyFingerprint string            `json:"policy_fingerprint"`
	Policies          []PolicyUse       `json:"policies,omitempty"`
	Ledger            bool              `json:"ledger"`
	Records           int64             `json:"records"`
	Malformed         int64             `json:"malformed"`
	Counts            StatusCounts      `json:"counts"`
	Totals            SummaryAmounts    `json:"totals"`
	Interregional     SummaryAmounts    `json:"interregional"`
	Adjustments       SummaryAmounts    `json:"adjustments"`
	NingboJoinIn      int64             `json:"ningbo_joinin_product_discount_fen"`
	Bilateral         []SummaryPair     `json:"bilateral"`
	NetPositions      []SummaryNet      `json:"net_positions"`
	Discounts         []SummaryDiscount `json:"discounts"`
}

// StatusCounts counts records by status.
type StatusCounts struct {
	Charged    int64 `json:"charged"`
	Open       int64 `json:"open"`
	Duplicate  int64 `json:"duplicate"`
	Rejected   int64 `json:"rejected"`
	Incomplete int64 `json:"incomplete"`
}

// SummaryAmounts is [Amounts] on the wire.
type SummaryAmounts struct {
	Count       int64 `json:"count"`
	GrossFen    int64 `json:"gross_fen"`
	DiscountFen int64 `json:"discount_fen"`
	ChargedFen  int64 `json:"charged_fen"`
}

// SummaryPair is a [Bilateral] on the wire: the amounts are net of the
// pair's adjustments, which Adjustments gives apart.
type SummaryPair struct {
	Issuer   string `json:"issuer"`
	Acquirer string `json:"acquirer"`
	SummaryAmounts
	Adjustments SummaryAmounts `json:"adjustments"`
}

// SummaryNet is a [NetPosition] on the wire.
type SummaryNet struct {
	Participant   string `json:"participant"`
	Name          string `json:"name"`
	ReceivableFen int64  `json:"receivable_fen"`
	PayableFen    int64  `json:"payable_fen"`
	NetFen        int64  `json:"net_fen"`
}

// SummaryDiscount is a [DiscountTotal] on the wire.
type SummaryDiscount struct {
	City                string `json:"city"`
	Mode                string `json:"mode"`
	Product             string `json:"card_product"`
	Count               int64  `json:"count"`
	GrossFen            int64  `json:"gross_fen"`
	ProductDiscountFen  int64  `json:"product_discount_fen"`
	TransferDiscountFen int64  `json:"transfer_discount_fen"`
	CapDiscountFen      int64  `json:"cap_discount_fen"`
	ChargedFen          int64  `json:"charged_fen"`
}

func wireAmounts(a Amounts) SummaryAmounts {
	return SummaryAmounts{Count: a.Count, GrossFen: int64(a.Gross), DiscountFen: int64(a.Discount), ChargedFen: int64(a.Charged)}
}

func (a SummaryAmounts) amounts() Amounts {
	return Amounts{Count: a.Count, Gross: transit.Fen(a.GrossFen), Discount: transit.Fen(a.DiscountFen), Charged: transit.Fen(a.ChargedFen)}
}

// array returns the counts indexed by status; adjustments, which are not
// records, are the count given apart.
func (c *StatusCounts) array(adjustments int64) [transit.NumStatuses]int64 {
	var a [transit.NumStatuses]int64
	a[transit.StatusCharged] = c.Charged
	a[transit.StatusOpen] = c.Open
	a[transit.StatusDuplicate] = c.Duplicate
	a[transit.StatusRejected] = c.Rejected
	a[transit.StatusIncomplete] = c.Incomplete
	a[transit.StatusAdjustment] = adjustments
	return a
}

// NewSummary returns d's summary, as written by the build producer
// (buildinfo.Info.Producer).
func NewSummary(d *Day, policyFingerprint, producer string) *Summary {
	s := &Summary{
		Format:            SummaryFormat,
		Producer:          producer,
		Day:               DirName(d.Day),
		PolicyFingerprint: policyFingerprint,
		Ledger:            d.Ledger,
		Records:           d.Records,
		Malformed:         d.RejectCount(),
		Counts: StatusCounts{
			Charged: d.Counts[transit.StatusCharged], Open: d.Counts[transit.StatusOpen],
			Duplicate: d.Counts[transit.StatusDuplicate], Rejected: d.Counts[transit.StatusRejected],
			Incomplete: d.Counts[transit.StatusIncomplete],
		},
		Totals:        wireAmounts(d.Totals),
		Interregional: wireAmounts(d.Interregional),
		Adjustments:   wireAmounts(d.Adjustments),
		NingboJoinIn:  int64(d.NingboJoinInDiscount()),
		Bilateral:     make([]SummaryPair, 0, len(d.Bilateral)),
		NetPositions:  make([]SummaryNet, 0, len(d.Net)),
		Discounts:     make([]SummaryDiscount, 0, len(d.Discounts)),
	}
	for _, b := range d.Bilateral {
		s.Bilateral = append(s.Bilateral, SummaryPair{Issuer: b.Issuer.String(), Acquirer: b.Acquirer.String(), SummaryAmounts: wireAmounts(b.Amounts), Adjustments: wireAmounts(b.Adjustments)})
	}
	for _, n := range d.Net {
		s.NetPositions = append(s.NetPositions, SummaryNet{
			Participant: n.Participant.String(), Name: n.Name,
			ReceivableFen: int64(n.Receivable), PayableFen: int64(n.Payable), NetFen: int64(n.Net),
		})
	}
	for _, t := range d.Discounts {
		s.Discounts = append(s.Discounts, SummaryDiscount{
			City: t.City.String(), Mode: t.Mode.String(), Product: t.Product.String(), Count: t.Count,
			GrossFen: int64(t.Gross), ProductDiscountFen: int64(t.ProductDiscount),
			TransferDiscountFen: int64(t.TransferDiscount), CapDiscountFen: int64(t.CapDiscount), ChargedFen: int64(t.Charged),
		})
	}
	return s
}

// Marshal returns the summary as indented JSON with a final newline. The
// encoding is deterministic: fields in struct order, lists in the Day's
// sorted order.
func (s *Summary) Marshal() []byte {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		// Only strings, integers and bools: encoding cannot fail.
		panic(fmt.Sprintf("settlement: marshal summary: %v", err))
	}
	return append(b, '\n')
}

// ParseSummary parses summary.json strictly: unknown fields are refused,
// the bytes must be exactly what Marshal writes for the result, the
// producer must be one a writer can write, and every figure must be in
// range (MaxFigure).
func ParseSummary(data []byte) (*Summary, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Summary
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("summary is not valid JSON of the summary schema: %w", err)
	}
	if s.Bilateral == nil || s.NetPositions == nil || s.Discounts == nil {
		return nil, fmt.Errorf("summary: bilateral, net_positions and discounts must be lists")
	}
	if !bytes.Equal(s.Marshal(), data) {
		return nil, fmt.Errorf("summary is not in the form the writer produces")
	}
	if s.Format != SummaryFormat {
		return nil, fmt.Errorf("summary format %q, want %q", s.Format, SummaryFormat)
	}
	if !buildinfo.ValidProducer(s.Producer) {
		return nil, fmt.Errorf("summary producer %q: want 1 to 128 bytes of printable ASCII without spaces, '|', '\"' or '\\'", s.Producer)
	}
	if err := s.checkRanges(); err != nil {
		return nil, err
	}
	if err := s.checkPolicies(); err != nil {
		return nil, err
	}
	return &s, nil
}
