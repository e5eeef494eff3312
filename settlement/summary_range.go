package settlement

import (
	"fmt"
	"math"
)

// MaxFigure bounds every count and amount of a summary, and the sum of
// the magnitudes of each of its columns (a status count, a bilateral
// field, a net position field, a discount field): 2^53 − 1, the largest
// integer that a JSON reader holding numbers as float64 keeps exact, and
// far above any real day (it is 90 trillion CNY in fen). Within it, no sum
// that Verify or a reader of the summary computes can overflow int64: a
// summary whose counts were crafted to wrap to a negative records, or
// whose amounts overflow when added up, is refused as out of range.
const MaxFigure = 1<<53 - 1

// column sums the magnitudes of a column's values, to bound them.
type column struct {
	name   string
	signed bool   // amounts may be negative (adjustments); counts may not
	sum    uint64 // of |value|, at most MaxFigure while no error
}

func (c *column) add(v int64) error {
	if v < 0 && !c.signed {
		return fmt.Errorf("summary %s %d is negative", c.name, v)
	}
	var m uint64
	switch {
	case v == math.MinInt64:
		m = math.MaxUint64
	case v < 0:
		m = uint64(-v)
	default:
		m = uint64(v)
	}
	if m > MaxFigure || c.sum > MaxFigure-m {
		return fmt.Errorf("summary %s out of range: %d, or the column's magnitudes sum past %d", c.name, v, int64(MaxFigure))
	}
	c.sum += m
	return nil
}

// amounts adds a SummaryAmounts to four columns named prefix.count,
// prefix.gross_fen and so on.
func addAmounts(cols *[4]column, a *SummaryAmounts) error {
	for i, v := range [4]int64{a.Count, a.GrossFen, a.DiscountFen, a.ChargedFen} {
		if err := cols[i].add(v); err != nil {
			return err
		}
	}
	return nil
}

func amountColumns(prefix string) [4]column {
	return [4]column{{name: prefix + "count"}, {name: prefix + "gross_fen", signed: true},
		{name: prefix + "discount_fen", signed: true}, {name: prefix + "charged_fen", signed: true}}
}

// checkRanges reports the first figure of s out of range (see MaxFigure).
func (s *Summary) checkRanges() error {
	counts := column{name: "records counted by status"}
	for _, v := range []int64{s.Counts.Charged, s.Counts.Open, s.Counts.Duplicate, s.Counts.Rejected, s.Counts.Incomplete} {
		if err := counts.add(v); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		col column
		v   int64
	}{
		{column{name: "records"}, s.Records},
		{column{name: "malformed"}, s.Malformed},
		{column{name: "ningbo_joinin_product_discount_fen", signed: true}, s.NingboJoinIn},
	} {
		if err := c.col.add(c.v); err != nil {
			return err
		}
	}
	for _, a := range []struct {
		name string
		v    *SummaryAmounts
	}{{"totals.", &s.Totals}, {"interregional.", &s.Interregional}, {"adjustments.", &s.Adjustments}} {
		cols := amountColumns(a.name)
		if err := addAmounts(&cols, a.v); err != nil {
			return err
		}
	}
	bil, bilAdj := amountColumns("bilateral "), amountColumns("bilateral adjustments.")
	for i := range s.Bilateral {
		if err := addAmounts(&bil, &s.Bilateral[i].SummaryAmounts); err != nil {
			return err
		}
		if err := addAmounts(&bilAdj, &s.Bilateral[i].Adjustments); err != nil {
			return err
		}
	}
	net := [3]column{{name: "net_positions receivable_fen", signed: true}, {name: "net_positions payable_fen", signed: true}, {name: "net_positions net_fen", signed: true}}
	for _, n := range s.NetPositions {
		for i, v := range [3]int64{n.ReceivableFen, n.PayableFen, n.NetFen} {
			if err := net[i].add(v); err != nil {
				return err
			}
		}
	}
	disc := [6]column{{name: "discounts count"}, {name: "discounts gross_fen", signed: true}, {name: "discounts product_discount_fen", signed: true},
		{name: "discounts transfer_discount_fen", signed: true}, {name: "discounts cap_discount_fen", signed: true}, {name: "discounts charged_fen", signed: true}}
	for _, t := range s.Discounts {
		for i, v := range [6]int64{t.Count, t.GrossFen, t.ProductDiscountFen, t.TransferDiscountFen, t.CapDiscountFen, t.ChargedFen} {
			if err := disc[i].add(v); err != nil {
				return err
			}
		}
	}
	return nil
}
