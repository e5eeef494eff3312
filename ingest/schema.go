package ingest

// field is a field of the tap schema. The order of the constants is the
// canonical column order: the order the Writer emits, and the order in which
// a record's fields are validated, so the first bad field in that order is
// the one a reject names.
type field uint8

const (
	fTapID field = iota
	fCardID
	fProduct
	fIssuer
	fCity
	fMode
	fLine
	fStop
	fAction
	fTime
	fDevice
	numFields
)

// noField marks a fault of the whole record rather than of one field.
const noField field = 0xff

// fieldNames are the CSV column names and JSON keys, indexed by field.
var fieldNames = [numFields]string{
	fTapID:   "tap_id",
	fCardID:  "card_id",
	fProduct: "card_product",
	fIssuer:  "issuer",
	fCity:    "city",
	fMode:    "mode",
	fLine:    "line",
	fStop:    "stop",
	fAction:  "action",
	fTime:    "time",
	fDevice:  "device",
}

// fieldMask is a set of fields, one bit per field.
type fieldMask uint16

func (f field) bit() fieldMask { return 1 << f }

// requiredFields must hold a value in every record. A CSV header must name
// each of them; the optional columns (line, stop, device) may be left out of
// a file altogether. stop is optional in the header because a file of bus
// taps need not carry it; a metro tap without a stop is rejected.
const requiredFields = 1<<fTapID | 1<<fCardID | 1<<fProduct | 1<<fIssuer | 1<<fCity |
	1<<fMode | 1<<fAction | 1<<fTime

// name returns the schema name of f, or "" for noField.
func (f field) name() string {
	if f < numFields {
		return fieldNames[f]
	}
	return ""
}

// lookupField returns the field named name.
func lookupField(name []byte) (field, bool) {
	switch string(name) {
	case "tap_id":
		return fTapID, true
	case "card_id":
		return fCardID, true
	case "card_product":
		return fProduct, true
	case "issuer":
		return fIssuer, true
	case "city":
		return fCity, true
	case "mode":
		return fMode, true
	case "line":
		return fLine, true
	case "stop":
		return fStop, true
	case "action":
		return fAction, true
	case "time":
		return fTime, true
	case "device":
		return fDevice, true
	}
	return noField, false
}

// Columns returns the schema's field names in canonical order: the CSV
// header the Writer emits and the JSON keys it writes.
func Columns() []string {
	out := make([]string, numFields)
	copy(out, fieldNames[:])
	return out
}
