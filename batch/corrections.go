package batch

import (
	"fmt"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// CorrectionsReport counts what became of a run's corrections: Read ==
// Applied + Duplicate + Rejected, and Malformed records never decoded.
// Applied ones are adjustment rows of the first open day; the others are
// in that day's rejects, with the reason.
type CorrectionsReport struct {
	Read, Applied, Duplicate, Rejected, Malformed int64
}

// correctionIn is a correction read, with where it came from.
type correctionIn struct {
	source string
	rec    ingest.CorrectionRecord
}

// readCorrections reads the correction files, reporting malformed records
// to onReject, and returns them with the number of malformed records.
func readCorrections(paths []string, onReject func(transit.Reject)) ([]correctionIn, int64, error) {
	var ins []correctionIn
	var malformed int64
	for _, path := range paths {
		recs, st, err := ingest.ReadCorrections(path, ingest.Options{OnReject: onReject})
		if err != nil {
			return nil, 0, fmt.Errorf("settle: corrections: %w", err)
		}
		for _, rec := range recs {
			ins = append(ins, correctionIn{source: path, rec: rec})
		}
		malformed += st.Rejected
	}
	return ins, malformed, nil
}

// applyCorrections applies p.corrections through eng, which has priced
// the run's taps, counting them in rep (whose Malformed the read set), and
// reports the refused ones to p.rejectCorrection, which quarantines them
// in the day the applied ones are booked in.
func (p *pricing) applyCorrections(eng *engine.Engine, rep *CorrectionsReport) error {
	all := make([]int, len(p.corrections))
	for i := range all {
		all[i] = i
	}
	out := make([]engine.CorrectionOutcome, len(all))
	if err := p.correct(eng, all, out); err != nil {
		return err
	}
	p.reportCorrections(out, rep)
	return nil
}

// correct applies the corrections of p.corrections at the indexes idx
// through eng, setting the outcome of the i-th in out[i]: all of them in
// a run in memory, a group's in a partitioned run.
func (p *pricing) correct(eng *engine.Engine, idx []int, out []engine.CorrectionOutcome) error {
	if len(idx) == 0 {
		return nil
	}
	cs := make([]transit.Correction, len(idx))
	for k, i := range idx {
		cs[k] = p.corrections[i].rec.Correction
	}
	res, err := eng.Correct(cs)
	if err != nil {
		return fmt.Errorf("settle: corrections: %w", err)
	}
	for k, i := range idx {
		out[i] = res[k]
	}
	return nil
}

// reportCorrections counts the outcomes of p.corrections, out[i] that of
// the i-th, in rep (setting rep.Read), logs them and reports the refused
// ones, in the order read: after an engine in memory applied them, or
// the groups of a partitioned run, each those of its cards.
func (p *pricing) reportCorrections(out []engine.CorrectionOutcome, rep *CorrectionsReport) {
	ins := p.corrections
	rep.Read = int64(len(ins))
	for i, o := range out {
		c, in := &ins[i].rec.Correction, &ins[i]
		if o.Status == transit.StatusAdjustment {
			rep.Applied++
			p.log.Info("correction applied", "correction_id", c.ID.String(), "card", c.Card.String(), "tap_id", c.Tap.String(),
				"kind", c.Kind.String(), "charged", int64(o.Row.Charged), "ref_day", o.Row.RefDay.String())
			continue
		}
		if o.Status == transit.StatusDuplicate {
			rep.Duplicate++
		} else {
			rep.Rejected++
		}
		field, why := o.Refusal(c, p.window)
		p.rejectCorrection(transit.Reject{Source: in.source, Line: c.Line, Field: field, Reason: why,
			Raw: string(ingest.AppendCorrectionCSV(nil, &in.rec))})
		p.log.Warn("correction refused", "correction_id", c.ID.String(), "card", c.Card.String(), "tap_id", c.Tap.String(), "reason", why)
	}
}
