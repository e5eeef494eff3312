package settlement

import (
	"slices"

	"github.com/tapsettle/tapsettle/transit"
)

// cityIndex maps participant codes to dense indexes, so that per-city
// accumulators are array slots rather than map entries on the hot path.
type cityIndex struct {
	idx []int16 // by City.Index(); -1 for a city that is not a participant
	n   int
}

func newCityIndex(parts []transit.Participant) *cityIndex {
	ix := &cityIndex{idx: make([]int16, transit.MaxCity.Index()+1), n: len(parts)}
	for i := range ix.idx {
		ix.idx[i] = -1
	}
	for i, p := range parts {
		ix.idx[p.Code.Index()] = int16(i)
	}
	return ix
}

// of returns c's dense index, or -1. Only valid codes are indexed, so a
// code that merely shares c/100 with a participant (330201) is not one.
func (ix *cityIndex) of(c transit.City) int {
	if ix == nil || !c.Valid() {
		return -1
	}
	return int(ix.idx[c.Index()])
}

// Dense discount slots per participant: modes 1..2, products 1..4.
const (
	slotModes    = transit.NumModes - 1
	slotProducts = transit.NumProducts - 1
	slotsPerCity = slotModes * slotProducts
)

// tally accumulates everything a Day sums. One tally belongs to one
// goroutine (a shard's part of a day); tallies of the same day merge by
// addition, so the merged result is independent of how rows were split.
type tally struct {
	ix     *cityIndex
	counts [transit.NumStatuses]int64
	totals Amounts
	inter  Amounts
	adj    Amounts // the adjustments among the clearing rows

	pairIdx map[uint64]int32
	pairs   []Bilateral

	disc      []DiscountTotal // dense, by (participant, mode, product); nil until needed
	discIdx   map[uint64]int32
	discOther []DiscountTotal // cities that are not participants

	bad badRows
}

func newTally(ix *cityIndex) *tally {
	return &tally{ix: ix, pairIdx: make(map[uint64]int32)}
}

func pairKey(issuer, acquirer transit.City) uint64 {
	return uint64(issuer)<<32 | uint64(acquirer)
}

func discKey(c transit.City, m transit.Mode, p transit.Product) uint64 {
	return uint64(c)<<16 | uint64(m)<<8 | uint64(p)
}

// rowKind classifies a row for the collector: what to keep of it.
type rowKind uint8

const (
	rowBad           rowKind = iota // breaks a row invariant; remembered, not settled
	rowOther                        // settled locally, or settles nothing
	rowInterregional                // an interregional clearing row: listed in a clearing file
)

// add accumulates one row. It allocates only the first time it meets a
// pair or a non-participant city.
func (t *tally) add(r *transit.Priced) rowKind {
	if why := rowProblem(r); why != "" {
		t.bad.note(r, why)
		return rowBad
	}
	t.counts[r.Status]++
	if !isClearing(r) {
		return rowOther
	}
	t.totals.addRow(r)
	t.discount(r).addRow(r)
	adj := isAdjustment(r)
	if adj {
		t.adj.addRow(r)
	}
	if r.Issuer == r.City {
		return rowOther
	}
	t.inter.addRow(r)
	p := t.pair(r.Issuer, r.City)
	p.addRow(r)
	if adj {
		p.Adjustments.addRow(r)
	}
	return rowInterregional
}

func (t *tally) pair(issuer, acquirer transit.City) *Bilateral {
	k := pairKey(issuer, acquirer)
	i, ok := t.pairIdx[k]
	if !ok {
		i = int32(len(t.pairs))
		t.pairIdx[k] = i
		t.pairs = append(t.pairs, Bilateral{Issuer: issuer, Acquirer: acquirer})
	}
	return &t.pairs[i]
}

func (t *tally) discount(r *transit.Priced) *DiscountTotal {
	if ci := t.ix.of(r.City); ci >= 0 {
		if t.disc == nil {
			t.disc = make([]DiscountTotal, t.ix.n*slotsPerCity)
		}
		s := &t.disc[ci*slotsPerCity+int(r.Mode-1)*slotProducts+int(r.Product-1)]
		if s.Count == 0 {
			s.City, s.Mode, s.Product = r.City, r.Mode, r.Product
		}
		return s
	}
	return t.discountOther(r.City, r.Mode, r.Product)
}

func (t *tally) discountOther(c transit.City, m transit.Mode, p transit.Product) *DiscountTotal {
	if t.discIdx == nil {
		t.discIdx = make(map[uint64]int32)
	}
	k := discKey(c, m, p)
	i, ok := t.discIdx[k]
	if !ok {
		i = int32(len(t.discOther))
		t.discIdx[k] = i
		t.discOther = append(t.discOther, DiscountTotal{City: c, Mode: m, Product: p})
	}
	return &t.discOther[i]
}

// merge adds o into t; both must share the city index (or have none).
func (t *tally) merge(o *tally) {
	for i, n := range o.counts {
		t.counts[i] += n
	}
	t.totals.Add(o.totals)
	t.inter.Add(o.inter)
	t.adj.Add(o.adj)
	for i := range o.pairs {
		p := &o.pairs[i]
		q := t.pair(p.Issuer, p.Acquirer)
		q.Add(p.Amounts)
		q.Adjustments.Add(p.Adjustments)
	}
	if o.disc != nil {
		if t.disc == nil {
			t.disc = make([]DiscountTotal, len(o.disc))
		}
		for i := range o.disc {
			if o.disc[i].Count > 0 {
				if t.disc[i].Count == 0 {
					t.disc[i].City, t.disc[i].Mode, t.disc[i].Product = o.disc[i].City, o.disc[i].Mode, o.disc[i].Product
				}
				t.disc[i].add(&o.disc[i])
			}
		}
	}
	for i := range o.discOther {
		u := &o.discOther[i]
		t.discountOther(u.City, u.Mode, u.Product).add(u)
	}
	t.bad.merge(&o.bad)
}

// fill stores the tally's aggregates in d, sorted, with net positions for
// d.Participants.
func (t *tally) fill(d *Day) {
	d.Counts = t.counts
	d.Records = recordCount(&t.counts)
	d.Totals, d.Interregional, d.Adjustments = t.totals, t.inter, t.adj
	d.Bilateral = slices.Clone(t.pairs)
	if d.Bilateral == nil {
		d.Bilateral = []Bilateral{}
	}
	sortBilateral(d.Bilateral)
	d.Discounts = make([]DiscountTotal, 0, len(t.discOther)+64)
	for i := range t.disc {
		if t.disc[i].Count > 0 {
			d.Discounts = append(d.Discounts, t.disc[i])
		}
	}
	d.Discounts = append(d.Discounts, t.discOther...)
	sortDiscounts(d.Discounts)
	d.Net = netPositions(d.Participants, d.Bilateral)
	d.bad = t.bad
}

func sortBilateral(bs []Bilateral) {
	slices.SortFunc(bs, func(a, b Bilateral) int {
		if pairLess(&a, &b) {
			return -1
		}
		if pairLess(&b, &a) {
			return 1
		}
		return 0
	})
}

func sortDiscounts(ds []DiscountTotal) {
	slices.SortFunc(ds, func(a, b DiscountTotal) int {
		if discountLess(&a, &b) {
			return -1
		}
		if discountLess(&b, &a) {
			return 1
		}
		return 0
	})
}

func sortNet(net []NetPosition) {
	slices.SortFunc(net, func(a, b NetPosition) int {
		return int(a.Participant) - int(b.Participant)
	})
}
