package engine

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// correctionStep is a correction and what must become of it.
type correctionStep struct {
	id, tap string
	kind    transit.CorrectionKind
	amount  transit.Fen
	status  transit.Status
	reason  transit.Reason
}

func (s *correctionStep) correction(t testing.TB, card string) transit.Correction {
	t.Helper()
	var c transit.Correction
	must(t, c.ID.Set([]byte(s.id)))
	must(t, c.Card.Set([]byte(card)))
	must(t, c.Tap.Set([]byte(s.tap)))
	c.Kind, c.Amount = s.kind, s.amount
	must(t, c.Validate())
	return c
}

// correctionTaps: card CS, a Ningbo Join in Card, rides
// Ningbo's buses on day1 (t00001..t00003, priced with the card's
// discount) and once more the next day (t00004).
func correctionTaps(t testing.TB) []transit.Tap {
	tp := &tapper{t: t}
	return []transit.Tap{
		tp.tap("CS", transit.ProductJoinIn, transit.Ningbo, transit.Ningbo, transit.ModeBus, transit.ActionBoard, "", "2025-03-03T08:00:00+08:00"),
		tp.tap("CS", transit.ProductJoinIn, transit.Ningbo, transit.Ningbo, transit.ModeBus, transit.ActionBoard, "", "2025-03-03T12:00:00+08:00"),
		tp.tap("CS", transit.ProductJoinIn, transit.Ningbo, transit.Ningbo, transit.ModeBus, transit.ActionBoard, "", "2025-03-03T18:00:00+08:00"),
		tp.tap("CS", transit.ProductJoinIn, transit.Ningbo, transit.Ningbo, transit.ModeBus, transit.ActionBoard, "", "2025-03-04T09:00:00+08:00"),
	}
}

// correctionSteps are applied after day1 closed, with t00004's day open.
var correctionSteps = []correctionStep{
	{id: "c1", tap: "t00001", kind: transit.CorrectionRefund, status: transit.StatusAdjustment},
	{id: "c1", tap: "t00001", kind: transit.CorrectionRefund, status: transit.StatusDuplicate},
	{id: "c2", tap: "t00001", kind: transit.CorrectionRefund, status: transit.StatusRejected, reason: transit.ReasonOverRefund},
	{id: "c3", tap: "c1", kind: transit.CorrectionRefund, status: transit.StatusRejected, reason: transit.ReasonCorrectsCorrection},
	{id: "c4", tap: "t00002", kind: transit.CorrectionPartial, amount: 50, status: transit.StatusAdjustment},
	{id: "c5", tap: "t00002", kind: transit.CorrectionPartial, amount: 100000, status: transit.StatusRejected, reason: transit.ReasonOverRefund},
	{id: "c6", tap: "t00003", kind: transit.CorrectionReprice, amount: 100, status: transit.StatusAdjustment},
	{id: "c7", tap: "nope", kind: transit.CorrectionRefund, status: transit.StatusRejected, reason: transit.ReasonUnknownCharge},
	{id: "c8", tap: "t00004", kind: transit.CorrectionRefund, status: transit.StatusRejected, reason: transit.ReasonNotSettled},
	{id: "c4", tap: "t00003", kind: transit.CorrectionRefund, status: transit.StatusDuplicate, reason: transit.ReasonContentDiffers},
	{id: "c9", tap: "t00002", kind: transit.CorrectionPartial, amount: 1, status: transit.StatusAdjustment},
}

// checkCorrected checks what the card's rows sum to per tap after the
// steps: t00001 refunded whole (its Join in Card discount given back),
// t00002 51 fen less, t00003 re-priced to 100 fen without discounts, and
// that every correction row is booked in the day after day1, naming it.
func checkCorrected(t *testing.T, rows []transit.Priced, d transit.Day) {
	t.Helper()
	type sum struct{ gross, product, charged transit.Fen }
	orig, now := map[string]sum{}, map[string]sum{}
	for _, r := range rows {
		id := r.ID.String()
		s := now[id]
		s.gross, s.product, s.charged = s.gross+r.Gross, s.product+r.ProductDiscount, s.charged+r.Charged
		now[id] = s
		if r.Rules&transit.RuleCorrection == 0 {
			orig[id] = s
			continue
		}
		if r.Status != transit.StatusAdjustment || r.Day != d+1 || r.RefDay != d || r.Device.String() == "" {
			t.Errorf("correction row %s: status %v day %v ref_day %v device %q, want an adjustment on %v naming %v", id, r.Status, r.Day, r.RefDay, r.Device, d+1, d)
		}
	}
	if o := orig["t00001"]; o.product <= 0 || o.charged <= 0 {
		t.Fatalf("t00001 charged %+v: the test wants a Join in Card discount", o)
	}
	want := map[string]sum{
		"t00001": {},
		"t00002": {orig["t00002"].gross - 51, orig["t00002"].product, orig["t00002"].charged - 51},
		"t00003": {100, 0, 100},
	}
	for id, w := range want {
		if now[id] != w {
			t.Errorf("%s sums to %+v, want %+v", id, now[id], w)
		}
	}
}

func checkOutcome(t *testing.T, s *correctionStep, o CorrectionOutcome) {
	t.Helper()
	if o.Status != s.status || o.Reason != s.reason {
		t.Errorf("correction %s of %s (%v %d): %v %q, want %v %q", s.id, s.tap, s.kind, s.amount, o.Status, o.Reason, s.status, s.reason)
	}
}

// TestCorrectionsInAPartition: each correction is applied once, in the
// first open day, and refused for the reasons the package names; with and
// without a checkpoint and restore between every two corrections.
func TestCorrectionsInAPartition(t *testing.T) {
	d := mustDay(t, day1)
	for _, restore := range []bool{false, true} {
		t.Run(fmt.Sprintf("restore=%v", restore), func(t *testing.T) {
			sink := &seqSink{}
			newPart := func() *Partition {
				p, err := NewPartition(book(t), sink, 0, Options{Calendar: calendar(t), Window: DefaultWindow, KeepCharges: true})
				must(t, err)
				return p
			}
			p := newPart()
			taps := correctionTaps(t)
			p.Submit(taps[:3])
			early := correctionSteps[0]
			if o, err := p.Correct(ptr(early.correction(t, "CS"))); err != nil || o.Status != transit.StatusRejected || o.Reason != transit.ReasonNotSettled {
				t.Fatalf("a correction before its day closed: %+v %v, want rejected not-settled", o, err)
			}
			p.CloseDay(d)
			p.Submit(taps[3:])
			// Another card's tap moves the watermark past t00004, so that
			// it is priced, not held.
			later := taps[3]
			later.Time += int64(DefaultWindow) * 2
			must(t, later.Card.Set([]byte("OTHER")))
			p.Submit([]transit.Tap{later})
			store := newMemStore()
			store.checkpoint(p, true)
			for i := range correctionSteps {
				s := &correctionSteps[i]
				if restore {
					p = newPart()
					must(t, p.Restore(store.meta, store.cards, store.lists))
				}
				o, err := p.Correct(ptr(s.correction(t, "CS")))
				must(t, err)
				checkOutcome(t, s, o)
				store.checkpoint(p, false)
			}
			p.CloseDay(d + 1)
			checkCorrected(t, sink.rows, d)
		})
	}
}

// TestCorrectionsAcrossState: the batch job's way. Day1 is settled and
// its state written; the next run, of another shard count, reads it,
// settles the next day and applies the corrections; the run after, on one
// shard, gets the same corrections again: those applied are duplicates,
// and nothing more is booked.
func TestCorrectionsAcrossState(t *testing.T) {
	d := mustDay(t, day1)
	taps := correctionTaps(t)
	var rows []transit.Priced
	state := []byte(nil)
	run := func(shards int, taps []transit.Tap, closed transit.Day, steps []correctionStep) {
		t.Helper()
		c := newCollect(shards)
		e, err := New(book(t), c, Options{Shards: shards, Window: Unbounded, Calendar: calendar(t), KeepCharges: true})
		must(t, err)
		if state != nil {
			_, err := e.ReadState(bytes.NewReader(state))
			must(t, err)
		}
		e.Submit(taps)
		e.CloseDay(closed)
		cs := make([]transit.Correction, len(steps))
		for i := range steps {
			cs[i] = steps[i].correction(t, "CS")
		}
		out, err := e.Correct(cs)
		must(t, err)
		for i := range steps {
			checkOutcome(t, &steps[i], out[i])
		}
		e.Stop()
		var b bytes.Buffer
		must(t, e.WriteState(&b, closed))
		state = b.Bytes()
		rows = append(rows, c.rows()...)
	}
	run(2, taps[:3], d, nil)
	run(3, taps[3:], d+1, correctionSteps)
	checkCorrected(t, rows, d)
	var again []correctionStep
	for _, s := range correctionSteps {
		if s.status == transit.StatusAdjustment {
			s.status = transit.StatusDuplicate
			again = append(again, s)
		}
	}
	n := len(rows)
	run(1, nil, d+2, again)
	if len(rows) != n {
		t.Errorf("corrections sent again booked %d rows", len(rows)-n)
	}
}

func TestCorrectNeedsKeptCharges(t *testing.T) {
	e, err := New(book(t), newCollect(1), Options{Shards: 1, Window: Unbounded, Calendar: calendar(t)})
	must(t, err)
	defer e.Close()
	if _, err := e.Correct(nil); !errors.Is(err, ErrNoCharges) {
		t.Errorf("Correct without KeepCharges: %v, want ErrNoCharges", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestWriteStateNeedsKeptCharges: an engine that did not keep what a later
// run needs to change its charges refuses to write a state for one.
func TestWriteStateNeedsKeptCharges(t *testing.T) {
	e, err := New(book(t), newCollect(1), Options{Shards: 1, Window: Unbounded, Calendar: calendar(t)})
	must(t, err)
	e.Stop()
	var b bytes.Buffer
	if err := e.WriteState(&b, mustDay(t, day1)); err == nil {
		t.Error("WriteState without KeepCharges succeeded")
	}
}
