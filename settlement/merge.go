package settlement

import (
	"fmt"
	"slices"

	"github.com/tapsettle/tapsettle/transit"
)

// Merge combines partial Days of the same settlement day (for example the
// rows of a day that arrived in two runs of a stream) into one, as if all
// their rows had been collected together. The parts must share the day,
// the Ledger setting and the participant list, and hold sorted rows; they
// are not modified. Merge returns an error wrapping ErrInvalidDay when they
// do not, or when the merged net positions fail to sum to zero.
func Merge(parts ...*Day) (*Day, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("settlement: merge of no parts: %w", ErrInvalidDay)
	}
	first := parts[0]
	for i, p := range parts {
		if p == nil {
			return nil, fmt.Errorf("settlement: merge: part %d is nil: %w", i, ErrInvalidDay)
		}
		if p.Day != first.Day {
			return nil, fmt.Errorf("settlement: merge: part %d is day %s, part 0 is %s: %w", i, DirName(p.Day), DirName(first.Day), ErrInvalidDay)
		}
		if p.Ledger != first.Ledger {
			return nil, fmt.Errorf("settlement: merge: part %d has Ledger %v, part 0 has %v: %w", i, p.Ledger, first.Ledger, ErrInvalidDay)
		}
		if !slices.Equal(p.Participants, first.Participants) {
			return nil, fmt.Errorf("settlement: merge: part %d has another participant list: %w", i, ErrInvalidDay)
		}
		if p.rowsSpilled() {
			return nil, fmt.Errorf("settlement: merge: part %d holds its rows on disk (Options.RowBuffer): merge days held in memory: %w", i, ErrInvalidDay)
		}
		for j := 1; j < len(p.Rows); j++ {
			if ComparePriced(&p.Rows[j-1], &p.Rows[j]) > 0 {
				return nil, fmt.Errorf("settlement: merge: part %d: rows not sorted at tap %s: %w", i, p.Rows[j].ID.String(), ErrInvalidDay)
			}
		}
	}
	d := mergeDays(parts)
	if err := d.validateNet(); err != nil {
		return nil, err
	}
	return d, nil
}

// mergeDays merges parts already known to be compatible.
func mergeDays(parts []*Day) *Day {
	first := parts[0]
	d := &Day{Day: first.Day, Ledger: first.Ledger, Participants: first.Participants}
	pairs := make(map[uint64]int)
	discs := make(map[uint64]int)
	d.Bilateral = []Bilateral{}
	d.Discounts = []DiscountTotal{}
	d.Rejects = []transit.Reject{}
	rows := make([][]transit.Priced, 0, len(parts))
	for _, p := range parts {
		d.Records += p.Records
		for s, n := range p.Counts {
			d.Counts[s] += n
		}
		d.Totals.Add(p.Totals)
		d.Interregional.Add(p.Interregional)
		d.Adjustments.Add(p.Adjustments)
		for _, b := range p.Bilateral {
			k := pairKey(b.Issuer, b.Acquirer)
			if i, ok := pairs[k]; ok {
				d.Bilateral[i].Add(b.Amounts)
				d.Bilateral[i].Adjustments.Add(b.Adjustments)
			} else {
				pairs[k] = len(d.Bilateral)
				d.Bilateral = append(d.Bilateral, b)
			}
		}
		for _, t := range p.Discounts {
			k := discKey(t.City, t.Mode, t.Product)
			if i, ok := discs[k]; ok {
				d.Discounts[i].add(&t)
			} else {
				discs[k] = len(d.Discounts)
				d.Discounts = append(d.Discounts, t)
			}
		}
		rows = append(rows, p.Rows)
		d.bad.merge(&p.bad)
	}
	mergeRejects(d, parts)
	sortBilateral(d.Bilateral)
	sortDiscounts(d.Discounts)
	d.Net = netPositions(d.Participants, d.Bilateral)
	d.Rows = mergeRows(rows)
	return d
}

// mergeRejects gives d the rejects of parts: sorted in memory when none
// was spilled, otherwise a set of every part's sorted sources, merged when
// read (the parts' runs stay where their collectors put them).
func mergeRejects(d *Day, parts []*Day) {
	spilled := false
	for _, p := range parts {
		spilled = spilled || p.spilled != nil
		if p.rejErr != nil && d.rejErr == nil {
			d.rejErr = p.rejErr
		}
	}
	if !spilled {
		for _, p := range parts {
			d.Rejects = append(d.Rejects, p.Rejects...)
		}
		sortRejects(d.Rejects)
		return
	}
	set := &rejectSet{}
	for _, p := range parts {
		if s := p.spilled; s != nil {
			set.mem = append(set.mem, s.mem...)
			set.runs = append(set.runs, s.runs...)
		} else if len(p.Rejects) > 0 {
			set.mem = append(set.mem, p.Rejects)
		}
		set.n += p.RejectCount()
	}
	d.spilled = set
}

// mergeRows merges sorted row slices pairwise into a new slice; the
// result never aliases an input.
func mergeRows(rowRuns [][]transit.Priced) []transit.Priced {
	switch len(rowRuns) {
	case 0:
		return []transit.Priced{}
	case 1:
		return append(make([]transit.Priced, 0, len(rowRuns[0])), rowRuns[0]...)
	}
	for len(rowRuns) > 1 {
		next := make([][]transit.Priced, 0, (len(rowRuns)+1)/2)
		for i := 0; i < len(rowRuns); i += 2 {
			if i+1 == len(rowRuns) {
				next = append(next, rowRuns[i])
				continue
			}
			next = append(next, mergeTwoRows(rowRuns[i], rowRuns[i+1]))
		}
		rowRuns = next
	}
	return rowRuns[0]
}

func mergeTwoRows(a, b []transit.Priced) []transit.Priced {
	dst := make([]transit.Priced, len(a)+len(b))
	i, j, n := 0, 0, 0
	for i < len(a) && j < len(b) {
		if ComparePriced(&b[j], &a[i]) < 0 {
			dst[n] = b[j]
			j++
		} else {
			dst[n] = a[i]
			i++
		}
		n++
	}
	n += copy(dst[n:], a[i:])
	copy(dst[n:], b[j:])
	return dst
}
