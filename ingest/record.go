package ingest

import "github.com/tapsettle/tapsettle/transit"

// record holds the raw values of one input record, split out by the CSV or
// JSON decoder and not yet validated. The values alias the line buffer (or a
// decoder's scratch buffer), so a record is valid only until the next line
// is read; nothing is copied until fill writes into the caller's Tap.
type record struct {
	val [numFields][]byte
	// got marks the fields that this record gave a value (a CSV column in
	// the header; a JSON key with a non-null value). Only got fields'
	// entries of val are meaningful: val is not cleared between records.
	got fieldMask
	// num marks values that were JSON numbers (issuer and city only).
	num fieldMask
	// seen marks the JSON keys met so far, null or not, to catch
	// duplicates.
	seen fieldMask
}

func (r *record) reset() { r.got, r.num, r.seen = 0, 0, 0 }

// value returns the value of f, or nil when the record did not give it.
func (r *record) value(f field) []byte {
	if r.got&f.bit() == 0 {
		return nil
	}
	return r.val[f]
}

// fill validates the record's values and stores them in t, field by
// field in schema order. It reports the first bad field in ft and returns
// false; t is then partly written and must not be used. Enumerations,
// cities and identifiers are judged by transit's Parse and Set functions
// (identifiers through the equivalent fast check of storeID).
func (r *record) fill(t *transit.Tap, ft *fault) bool {
	// Identifiers: storeID settles the usual case; anything else
	// (refused, empty when required, bad UTF-8) goes through id.
	if v := r.value(fTapID); (storeID(t.ID[:], v) != idStored || len(v) == 0) && !r.id(fTapID, t, ft) {
		return false
	}
	if v := r.value(fCardID); (storeID(t.Card[:], v) != idStored || len(v) == 0) && !r.id(fCardID, t, ft) {
		return false
	}
	v := r.value(fProduct)
	p, err := transit.ParseProduct(v)
	if err != nil {
		return r.enumFault(fProduct, v, err, ft)
	}
	t.Product = p
	if t.Issuer, err = r.city(fIssuer, ft); err != nil {
		return false
	}
	if t.City, err = r.city(fCity, ft); err != nil {
		return false
	}
	v = r.value(fMode)
	m, err := transit.ParseMode(v)
	if err != nil {
		return r.enumFault(fMode, v, err, ft)
	}
	t.Mode = m
	if storeID(t.Line[:], r.value(fLine)) != idStored && !r.id(fLine, t, ft) {
		return false
	}
	if storeID(t.Stop[:], r.value(fStop)) != idStored && !r.id(fStop, t, ft) {
		return false
	}
	if m == transit.ModeMetro && t.Stop.IsZero() {
		*ft = fault{code: faultStopMetro, field: fStop}
		return false
	}
	v = r.value(fAction)
	a, err := transit.ParseAction(v)
	if err != nil {
		return r.enumFault(fAction, v, err, ft)
	}
	if (m == transit.ModeBus) != (a == transit.ActionBoard) {
		*ft = fault{code: faultModeAction, field: fAction, val: v, mode: m}
		return false
	}
	t.Action = a
	v = r.value(fTime)
	if len(v) == 0 {
		return r.emptyFault(fTime, ft)
	}
	ns, off, te := parseTime(v)
	if te != timeOK {
		*ft = fault{code: faultTime, field: fTime, val: v, tErr: te}
		return false
	}
	t.Time, t.Offset = ns, off
	return storeID(t.Device[:], r.value(fDevice)) == idStored || r.id(fDevice, t, ft)
}

// id stores identifier field f in t. A value the fast check refuses goes
// to transit's Set, which has the last word and the error to report.
func (r *record) id(f field, t *transit.Tap, ft *fault) bool {
	v := r.value(f)
	var dst []byte
	switch f {
	case fTapID:
		dst = t.ID[:]
	case fCardID:
		dst = t.Card[:]
	case fLine:
		dst = t.Line[:]
	case fStop:
		dst = t.Stop[:]
	default:
		dst = t.Device[:]
	}
	switch storeID(dst, v) {
	case idStored:
		if len(v) == 0 && requiredFields&f.bit() != 0 {
			return r.emptyFault(f, ft)
		}
		return true
	case idBadUTF8:
		*ft = fault{code: faultUTF8, field: f}
		return false
	}
	var err error
	switch f {
	case fTapID:
		err = t.ID.Set(v)
	case fCardID:
		err = t.Card.Set(v)
	case fLine:
		err = t.Line.Set(v)
	case fStop:
		err = t.Stop.Set(v)
	default:
		err = t.Device.Set(v)
	}
	if err == nil {
		return true
	}
	return r.idFault(f, err, ft)
}

// time returns the record's time when it parses, for a reject's Time.
func (r *record) time() (int64, bool) {
	v := r.value(fTime)
	if len(v) == 0 {
		return 0, false
	}
	ns, _, te := parseTime(v)
	return ns, te == timeOK
}

func (r *record) city(f field, ft *fault) (transit.City, error) {
	v := r.value(f)
	if len(v) == 0 {
		r.emptyFault(f, ft)
		return 0, transit.ErrEmpty
	}
	c, err := transit.ParseCity(v)
	if err != nil {
		*ft = fault{code: faultCity, field: f, val: v, num: r.num&f.bit() != 0}
	}
	return c, err
}

// emptyFault reports a required value that is absent (faultMissing) or
// given but empty (faultEmpty).
func (r *record) emptyFault(f field, ft *fault) bool {
	code := faultEmpty
	if r.got&f.bit() == 0 {
		code = faultMissing
	}
	*ft = fault{code: code, field: f}
	return false
}

func (r *record) idFault(f field, err error, ft *fault) bool {
	v := r.value(f)
	if len(v) == 0 {
		return r.emptyFault(f, ft)
	}
	*ft = fault{code: faultID, field: f, val: v, err: err}
	return false
}

func (r *record) enumFault(f field, v []byte, err error, ft *fault) bool {
	if len(v) == 0 {
		return r.emptyFault(f, ft)
	}
	*ft = fault{code: faultEnum, field: f, val: v, err: err}
	return false
}
