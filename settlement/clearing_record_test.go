package settlement

import (
	"errors"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestRecordValidate: each clearing record's Validate accepts a valid
// record and names the field of each rule it breaks.
func TestRecordValidate(t *testing.T) {
	type validator interface{ Validate() error }
	detail := func(edit func(*Detail)) *Detail {
		d := &Detail{Seq: 1, Mode: transit.ModeBus, Action: transit.ActionBoard,
			Time: 1_740_800_000e9, Offset: 8 * 3600, Gross: 200, Discount: 20, Charged: 180, Status: transit.StatusCharged}
		if err := d.TapID.Set([]byte("t1")); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(d)
		}
		return d
	}
	// adjust makes the detail an adjustment of a row of the day before:
	// its amounts times sign.
	adjust := func(sign transit.Fen) func(*Detail) {
		return func(d *Detail) {
			d.Status, d.RefDay = transit.StatusAdjustment, fixturePrev
			d.Gross, d.Discount, d.Charged = sign*d.Gross, sign*d.Discount, sign*d.Charged
		}
	}
	bh := func(edit func(*BatchHeader)) *BatchHeader {
		h := &BatchHeader{Batch: 1, Mode: transit.ModeMetro, Issuer: transit.Ningbo, Acquirer: shanghai, Day: fixtureDay, Class: ClassJourneys}
		if edit != nil {
			edit(h)
		}
		return h
	}
	for _, c := range []struct {
		name  string
		rec   validator
		field string // "-" for a valid record
	}{
		{"file header", &FileHeader{Day: fixtureDay, Issuer: transit.Ningbo, PolicyFingerprint: "p-1", Producer: "tapsettle/v1.4.0"}, "-"},
		{"file header issuer", &FileHeader{Day: fixtureDay, Issuer: 330201}, "issuer"},
		{"file header fingerprint", &FileHeader{Day: fixtureDay, Issuer: transit.Ningbo, PolicyFingerprint: "a|b"}, "policy_fingerprint"},
		{"file header no producer", &FileHeader{Day: fixtureDay, Issuer: transit.Ningbo}, "producer"},
		{"file header producer", &FileHeader{Day: fixtureDay, Issuer: transit.Ningbo, Producer: "tapsettle v1|x"}, "producer"},
		{"batch header", bh(nil), "-"},
		{"batch header number", bh(func(h *BatchHeader) { h.Batch = 0 }), "batch_number"},
		{"batch header mode", bh(func(h *BatchHeader) { h.Mode = transit.NumModes }), "mode"},
		{"batch header adjustments", bh(func(h *BatchHeader) { h.Class = ClassAdjustments }), "-"},
		{"batch header class", bh(func(h *BatchHeader) { h.Class = 0 }), "class"},
		{"batch header class too big", bh(func(h *BatchHeader) { h.Class = numClasses }), "class"},
		{"batch header acquirer", bh(func(h *BatchHeader) { h.Acquirer = 1 }), "acquirer"},
		{"batch header local", bh(func(h *BatchHeader) { h.Acquirer = h.Issuer }), "acquirer"},
		{"detail", detail(nil), "-"},
		{"detail seq", detail(func(d *Detail) { d.Seq = 0 }), "seq"},
		{"detail mode", detail(func(d *Detail) { d.Mode = 0 }), "mode"},
		{"detail status", detail(func(d *Detail) { d.Status = transit.StatusDuplicate }), "status"},
		{"detail paired entry", detail(func(d *Detail) { d.Rules |= transit.RuleMetroEntry }), "rule"},
		{"detail negative", detail(func(d *Detail) { d.Gross, d.Discount, d.Charged = -1, 0, -1 }), ""},
		{"detail charged", detail(func(d *Detail) { d.Charged++ }), "charged_fen"},
		{"detail ref_day on a journey", detail(func(d *Detail) { d.RefDay = fixturePrev }), "ref_day"},
		{"adjustment reversal", detail(adjust(-1)), "-"},
		{"adjustment replacing charge", detail(adjust(1)), "-"},
		{"adjustment of a paired entry", detail(func(d *Detail) { adjust(-1)(d); d.Rules |= transit.RuleMetroEntry }), "-"},
		{"adjustment without ref_day", detail(func(d *Detail) { adjust(-1)(d); d.RefDay = 0 }), "ref_day"},
		{"adjustment mixed signs", detail(func(d *Detail) { adjust(-1)(d); d.Discount, d.Charged = 20, -220 }), ""},
		{"adjustment charged", detail(func(d *Detail) { adjust(-1)(d); d.Charged-- }), "charged_fen"},
		{"batch control", &BatchControl{Batch: maxBatches, Mode: transit.ModeBus, Details: 1}, "-"},
		{"batch control number", &BatchControl{Batch: maxBatches + 1, Mode: transit.ModeBus}, "batch_number"},
		{"batch control mode", &BatchControl{Batch: 1}, "mode"},
		{"file control", &FileControl{Batches: 1}, "-"},
		{"file control batches", &FileControl{Batches: -1}, "batch_count"},
	} {
		err := c.rec.Validate()
		if c.field == "-" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var re *RecordError
		if !errors.As(err, &re) || re.Field != c.field {
			t.Errorf("%s: Validate() = %v, want a *RecordError of field %q", c.name, err, c.field)
		}
	}
}
