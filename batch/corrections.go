package batch

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

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
// to onReject.
func readCorrections(paths []string, onReject func(transit.Reject)) ([]correctionIn, int64, error) {
	var ins []correctionIn
	var malformed int64
	buf := make([]ingest.CorrectionRecord, 256)
	for _, path := range paths {
		rd, err := ingest.OpenCorrections(path, ingest.Options{OnReject: onReject})
		if err != nil {
			return nil, 0, fmt.Errorf("settle: corrections: %w", err)
		}
		for {
			n, err := rd.Read(buf)
			for i := range n {
				ins = append(ins, correctionIn{source: path, rec: buf[i]})
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rd.Close()
				return nil, 0, fmt.Errorf("settle: corrections: %w", err)
			}
		}
		malformed += rd.Stats().Rejected
		if err := rd.Close(); err != nil {
			return nil, 0, fmt.Errorf("settle: corrections: %w", err)
		}
	}
	return ins, malformed, nil
}

// applyCorrections applies ins through eng, which has priced the run's
// taps, and reports the refused ones to reject, which quarantines them in
// the day the applied ones are booked in.
func applyCorrections(eng *engine.Engine, ins []correctionIn, window int, reject func(transit.Reject), log *slog.Logger) (CorrectionsReport, error) {
	rep := CorrectionsReport{Read: int64(len(ins))}
	if len(ins) == 0 {
		return rep, nil
	}
	cs := make([]transit.Correction, len(ins))
	for i := range ins {
		cs[i] = ins[i].rec.Correction
	}
	out, err := eng.Correct(cs)
	if err != nil {
		return rep, fmt.Errorf("settle: corrections: %w", err)
	}
	for i, o := range out {
		c, in := &cs[i], &ins[i]
		if o.Status == transit.StatusAdjustment {
			rep.Applied++
			log.Info("correction applied", "correction_id", c.ID.String(), "card", c.Card.String(), "tap_id", c.Tap.String(),
				"kind", c.Kind.String(), "charged", int64(o.Row.Charged), "ref_day", o.Row.RefDay.String())
			continue
		}
		if o.Status == transit.StatusDuplicate {
			rep.Duplicate++
		} else {
			rep.Rejected++
		}
		field, why := o.Refusal(c, window)
		reject(transit.Reject{Source: in.source, Line: c.Line, Field: field, Reason: why, Raw: correctionRaw(&in.rec)})
		log.Warn("correction refused", "correction_id", c.ID.String(), "card", c.Card.String(), "tap_id", c.Tap.String(), "reason", why)
	}
	return rep, nil
}

// correctionRaw writes a correction back as a CSV record of the columns
// correction files have, for the rejects file.
func correctionRaw(r *ingest.CorrectionRecord) string {
	c := &r.Correction
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{c.ID.String(), c.Card.String(), c.Tap.String(), c.Kind.String(), strconv.FormatInt(int64(c.Amount), 10), r.Reason})
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
