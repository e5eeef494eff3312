package bench

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// GenOptions shapes a generated day. Zero shares mean their defaults; a
// negative share means none.
type GenOptions struct {
	// Taps is the number of tap records to generate (malformed included).
	Taps int
	// Seed makes the day reproducible.
	Seed uint64
	// Day is the settlement day to generate.
	Day transit.Day
	// Interregional is the share of riders whose card was issued in
	// another city. Default: 0.04.
	Interregional float64
	// JoinIn is the share of Ningbo-issued cards that are Join in Cards.
	// Default: 0.05.
	JoinIn float64
	// Duplicates is the share of taps sent twice. Default: 0.002.
	Duplicates float64
	// Late is the share of taps delivered at the end of the file, long
	// after their time. Default: 0.001.
	Late float64
	// Malformed is the share of records corrupted in the file.
	// Default: 0.001.
	Malformed float64
	// FareRules is the share of riders whose day follows one of the fare
	// rules patterns (gen_rules.go): Ningbo bus chains of three or four
	// buses, bus->bus->metro within 90 minutes, Ningbo seniors around the
	// peaks' edges and off-peak, and metro journeys around Beijing's and
	// Ningbo's time-in-system limits. They come at a fixed rhythm, in turn,
	// so that even a small day has some of each. Default: 1/64.
	FareRules float64
	// FirstID numbers the day's tap_ids from FirstID+1 (0: from 1). The
	// riders depend on Seed alone, so the same Seed on the next Day with
	// FirstID past the previous day's records generates a second day of
	// the same riders (the same cards), each tap with an id of its own:
	// what a service that runs for days sees.
	FirstID int
}

// maxTapSeq is the largest sequence a tap_id's ten digits hold. The i-th
// record has a sequence of at most FirstID+i (a duplicate repeats one), so
// a day's records stay within FirstID+Taps.
const maxTapSeq = 9_999_999_999

// Default shares.
const (
	DefaultInterregional = 0.04
	DefaultJoinIn        = 0.05
	DefaultDuplicates    = 0.002
	DefaultLate          = 0.001
	DefaultMalformed     = 0.001
	DefaultFareRules     = 1.0 / 64
)

func share(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// EnsureDefaults resolves zero shares.
func (o *GenOptions) EnsureDefaults() {
	o.Interregional = share(o.Interregional, DefaultInterregional)
	o.JoinIn = share(o.JoinIn, DefaultJoinIn)
	o.Duplicates = share(o.Duplicates, DefaultDuplicates)
	o.Late = share(o.Late, DefaultLate)
	o.Malformed = share(o.Malformed, DefaultMalformed)
	o.FareRules = share(o.FareRules, DefaultFareRules)
}

// Validate reports the first invalid option.
func (o *GenOptions) Validate() error {
	if o.Taps < 1 {
		return fmt.Errorf("gen: taps = %d, want >= 1", o.Taps)
	}
	if last := int64(maxTapSeq) - int64(o.Taps); o.FirstID < 0 || int64(o.FirstID) > last {
		return fmt.Errorf("gen: first id = %d, want 0..%d for %d taps (a tap_id's sequence has ten digits)", o.FirstID, last, o.Taps)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"interregional", o.Interregional}, {"joinin", o.JoinIn}, {"duplicates", o.Duplicates}, {"late", o.Late}, {"malformed", o.Malformed}, {"fare rules", o.FareRules}} {
		if s.v < 0 || s.v > 1 || math.IsNaN(s.v) {
			return fmt.Errorf("gen: %s share = %v, want 0..1", s.name, s.v)
		}
	}
	return nil
}

// Record is one generated record: a tap, or a malformed line when Bad is
// set (the tap it was derived from, corrupted when written).
type Record struct {
	Tap transit.Tap
	// Bad, when not zero, says how to corrupt the record when it is
	// written (see Corruption).
	Bad Corruption
}

// Corruption is a way a generated record is made malformed.
type Corruption uint8

// Corruptions, each caught by a different validation in ingest.
const (
	NotCorrupt  Corruption = iota
	BadCity                // a city code that is not six digits
	BadTime                // a time without a UTC offset
	BadProduct             // an unknown card product
	MissingCard            // an empty card_id
	numCorruptions
)

// GenDay is a generated day, in delivery order.
type GenDay struct {
	Records []Record
	// Stats describe what was generated. FareRules counts the riders of
	// the fare rules patterns.
	Riders, Duplicates, Late, Malformed, Interregional, JoinIn, FareRules int
}

// city is a city as the generator sees it.
type city struct {
	code    transit.City
	weight  float64
	net     *fares.Network
	cumFrom float64
}

type world struct {
	cities []city
	total  float64
	cal    *transit.Calendar
	day    transit.Day
	// ningbo and beijing are the cities of the fare rules patterns; nil
	// when they have no policy or no metro on the day.
	ningbo, beijing *city
}

// Ridership weights (synthetic): a metro city draws riders in proportion
// to the size of its network, so the largest systems carry the most taps;
// a city without a metro draws a small, varied share.
func newWorld(book *fares.Book, cal *transit.Calendar, day transit.Day) (*world, error) {
	w := &world{cal: cal, day: day}
	for _, c := range book.Cities() {
		pol := book.Policy(c.Code, day)
		if pol == nil {
			continue
		}
		wt := 2 + float64(uint32(c.Code)/100%7) // 2..8, varied, deterministic
		if pol.Metro != nil {
			wt = 20 + 2*float64(pol.Metro.NumStations())
		}
		w.cities = append(w.cities, city{code: c.Code, weight: wt, net: pol.Metro, cumFrom: w.total})
		w.total += wt
	}
	if len(w.cities) == 0 {
		return nil, errors.New("gen: no city has a policy on that day")
	}
	for i := range w.cities {
		switch c := &w.cities[i]; {
		case c.net == nil:
		case c.code == transit.Ningbo:
			w.ningbo = c
		case c.code == beijing:
			w.beijing = c
		}
	}
	return w, nil
}

func (w *world) pick(r *rand.Rand) *city {
	x := r.Float64() * w.total
	i, _ := slices.BinarySearchFunc(w.cities, x, func(c city, x float64) int {
		switch {
		case c.cumFrom+c.weight <= x:
			return -1
		case c.cumFrom > x:
			return 1
		}
		return 0
	})
	return &w.cities[min(i, len(w.cities)-1)]
}

// tripStart draws the local time of day a trip starts: a morning peak
// around 08:00, an evening peak around 18:00 and a flat daytime base,
// kept within 05:30..23:30 service hours.
func tripStart(r *rand.Rand) time.Duration {
	var h float64
	switch x := r.Float64(); {
	case x < 0.38:
		h = 8 + r.NormFloat64()*0.9
	case x < 0.75:
		h = 18 + r.NormFloat64()*1.1
	default:
		h = 6 + r.Float64()*17
	}
	h = min(max(h, 5.5), 23.5)
	return time.Duration(h * float64(time.Hour))
}

// Generate builds a day of taps. It is deterministic for opts.
func Generate(book *fares.Book, cal *transit.Calendar, opts GenOptions) (*GenDay, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	w, err := newWorld(book, cal, opts.Day)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0x7A95E771E))
	g := &generator{w: w, r: r, opts: &opts, midnight: cal.Start(opts.Day).Add(-cal.Cutoff()), seq: opts.FirstID}
	g.out.Records = make([]Record, 0, opts.Taps+opts.Taps/8)
	for len(g.out.Records) < opts.Taps {
		g.rider()
	}
	g.out.Records = g.out.Records[:opts.Taps]
	g.finish()
	return &g.out, nil
}

type generator struct {
	w        *world
	r        *rand.Rand
	opts     *GenOptions
	midnight time.Time
	out      GenDay
	seq      int
	// rules accumulates FareRules per rider; at 1 the rider follows the
	// next fare rules pattern (pattern counts them).
	rules   float64
	pattern int
}

func (g *generator) rider() {
	r := g.r
	if g.rules += g.opts.FareRules; g.rules >= 1 {
		g.rules--
		if g.ruleRider() {
			return
		}
	}
	home := g.w.pick(r)
	g.out.Riders++
	issuer := home.code
	where := home
	if r.Float64() < g.opts.Interregional {
		// A visitor: the card comes from elsewhere, the ride is here.
		issuer = g.w.pick(r).code
		for tries := 0; issuer == where.code && tries < 8; tries++ {
			issuer = g.w.pick(r).code
		}
		if issuer != where.code {
			g.out.Interregional++
		}
	}
	product := transit.ProductStandard
	switch x := r.Float64(); {
	case issuer == transit.Ningbo && x < g.opts.JoinIn:
		product = transit.ProductJoinIn
	case x < 0.10:
		product = transit.ProductStudent
	case x < 0.15:
		product = transit.ProductSenior
	}
	// A few Ningbo Join in Card holders travel (the card works in 336
	// cities): make some visitors carry one.
	if issuer == transit.Ningbo && where.code != transit.Ningbo && r.Float64() < 0.3 {
		product = transit.ProductJoinIn
	}
	if product == transit.ProductJoinIn {
		g.out.JoinIn++
	}
	var card transit.CardID
	// T-Union card numbers are 19 digits; ours: issuer, then a sequence.
	_ = card.Set(fmt.Appendf(nil, "%06d%013d", uint32(issuer), g.out.Riders))

	trips := 1 + r.IntN(3)
	start := tripStart(r)
	for i := 0; i < trips; i++ {
		at := g.midnight.Add(start)
		g.trip(where, &card, issuer, product, at)
		start += time.Duration(2+r.IntN(8)) * time.Hour
		if start > 23*time.Hour+30*time.Minute {
			break
		}
	}
}

// trip emits one trip: a bus ride, a metro journey, or a transfer chain.
func (g *generator) trip(c *city, card *transit.CardID, issuer transit.City, product transit.Product, at time.Time) {
	r := g.r
	legs := 1
	if r.Float64() < 0.25 {
		legs = 2 // a transfer
	}
	for l := 0; l < legs; l++ {
		if c.net != nil && r.Float64() < 0.55 {
			at = g.metro(c, card, issuer, product, at)
		} else {
			g.emit(c, card, issuer, product, transit.ModeBus, transit.ActionBoard, at,
				fmt.Appendf(nil, "%d", 1+r.IntN(120)), fmt.Appendf(nil, "B%04d", r.IntN(3000)))
			at = at.Add(time.Duration(8+r.IntN(30)) * time.Minute)
		}
		at = at.Add(time.Duration(3+r.IntN(15)) * time.Minute)
	}
}

// metro emits an entry and an exit whose duration follows the distance:
// 4 minutes to reach the platform plus 2 minutes per km, with noise. A
// small share never taps out (an incomplete journey).
func (g *generator) metro(c *city, card *transit.CardID, issuer transit.City, product transit.Product, at time.Time) time.Time {
	return g.journey(c, card, issuer, product, at, 0)
}

// journey emits a metro journey entering at at: as metro does when dur is
// 0, else one that exits dur after its entry, always.
func (g *generator) journey(c *city, card *transit.CardID, issuer transit.City, product transit.Product, at time.Time, dur time.Duration) time.Time {
	r := g.r
	n := int32(c.net.NumStations())
	from := r.Int32N(n)
	to := r.Int32N(n)
	for to == from && n > 1 {
		to = r.Int32N(n)
	}
	lineCode := c.net.LineCode(r.IntN(c.net.NumLines()))
	line := lineCode.Bytes()
	fromCode, toCode := c.net.StationCode(from), c.net.StationCode(to)
	g.emit(c, card, issuer, product, transit.ModeMetro, transit.ActionEntry, at, line, fromCode.Bytes())
	if dur > 0 {
		exit := at.Add(dur)
		g.emit(c, card, issuer, product, transit.ModeMetro, transit.ActionExit, exit, line, toCode.Bytes())
		return exit
	}
	km := float64(c.net.Distance(from, to)) / 1000
	dur = time.Duration((4 + 2*km + r.Float64()*6) * float64(time.Minute))
	exit := at.Add(dur)
	if r.Float64() < 0.003 {
		return exit // no exit tap
	}
	g.emit(c, card, issuer, product, transit.ModeMetro, transit.ActionExit, exit, line, toCode.Bytes())
	return exit
}

func (g *generator) emit(c *city, card *transit.CardID, issuer transit.City, product transit.Product, mode transit.Mode, action transit.Action, at time.Time, line, stop []byte) {
	r := g.r
	var t transit.Tap
	t.Time = at.UnixNano() - at.UnixNano()%int64(time.Second)
	t.Offset = 8 * 3600
	t.Issuer, t.City, t.Mode, t.Action, t.Product = issuer, c.code, mode, action, product
	t.Card = *card
	g.seq++
	_ = t.ID.Set(fmt.Appendf(nil, "%06d-%010d", uint32(c.code), g.seq))
	_ = t.Line.Set(line)
	_ = t.Stop.Set(stop)
	_ = t.Device.Set(fmt.Appendf(nil, "V%06d%04d", uint32(c.code), r.IntN(5000)))
	rec := Record{Tap: t}
	if r.Float64() < g.opts.Malformed {
		rec.Bad = Corruption(1 + r.IntN(int(numCorruptions)-1))
		g.out.Malformed++
	}
	g.out.Records = append(g.out.Records, rec)
	if rec.Bad == NotCorrupt && r.Float64() < g.opts.Duplicates {
		g.out.Records = append(g.out.Records, rec)
		g.out.Duplicates++
	}
}

// finish puts records in delivery order: by time, except the late ones,
// which arrive after everything else.
func (g *generator) finish() {
	// Sorted through an index: a stable sort of the records themselves
	// moves millions of large structs O(n log² n) times (its in-place
	// merge), half of a day's generation. Ties keep the order generated,
	// as the stable sort did, so a seed still gives the same file.
	recs := g.out.Records
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := transit.Compare(&recs[a].Tap, &recs[b].Tap); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	sorted := make([]Record, len(recs))
	for i, j := range idx {
		sorted[i] = recs[j]
	}
	recs = sorted
	g.out.Records = recs
	if g.opts.Late <= 0 {
		return
	}
	var onTime, late []Record
	for _, rec := range recs {
		if g.r.Float64() < g.opts.Late {
			late = append(late, rec)
		} else {
			onTime = append(onTime, rec)
		}
	}
	g.out.Late = len(late)
	g.out.Records = append(onTime, late...)
}

// Taps returns the well-formed taps in delivery order: what a decoder
// yields from the written file.
func (d *GenDay) Taps() []transit.Tap {
	taps := make([]transit.Tap, 0, len(d.Records))
	for i := range d.Records {
		if d.Records[i].Bad == NotCorrupt {
			taps = append(taps, d.Records[i].Tap)
		}
	}
	return taps
}
