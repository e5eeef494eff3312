package settlement

import (
	"fmt"
	"strconv"

	"github.com/tapsettle/tapsettle/transit"
)

// BatchClass says what a batch holds: the day's journeys, or adjustments
// of journeys settled on earlier days.
type BatchClass uint8

// Batch classes, in the order their batches follow each other within an
// acquirer's batches.
const (
	// ClassJourneys: charged and incomplete journeys of the day.
	ClassJourneys BatchClass = iota + 1
	// ClassAdjustments: adjustments booked on the day (status
	// adjustment), with signed amounts.
	ClassAdjustments
	numClasses
)

var classNames = [numClasses]string{ClassJourneys: "journeys", ClassAdjustments: "adjustments"}

// String returns the class's name in the batch header.
func (c BatchClass) String() string {
	if c > 0 && c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

func parseClass(b []byte) (BatchClass, bool) {
	for c := ClassJourneys; c < numClasses; c++ {
		if string(b) == classNames[c] {
			return c, true
		}
	}
	return 0, false
}

// classOf returns the class of the batch that holds a detail of status s.
func classOf(s transit.Status) BatchClass {
	if s == transit.StatusAdjustment {
		return ClassAdjustments
	}
	return ClassJourneys
}

// BatchHeader is record type 5: it opens the batch of one acquirer (the
// payee: the city that carried the rides), one class and one mode.
type BatchHeader struct {
	Batch    int // 1-based, consecutive
	Mode     transit.Mode
	Issuer   transit.City
	Acquirer transit.City
	Day      transit.Day
	Class    BatchClass
}

// batchHeaderFields are the schema names of the batch header's fields.
var batchHeaderFields = []string{"record_type", "batch_number", "mode", "issuer", "acquirer", "settlement_day", "class"}

// Append appends the record's line, newline included.
func (h *BatchHeader) Append(b []byte) []byte {
	b = append(b, RecordBatchHeader, '|')
	b = strconv.AppendInt(b, int64(h.Batch), 10)
	b = append(b, '|')
	b = append(b, h.Mode.String()...)
	b = append(b, '|')
	b = h.Issuer.AppendText(b)
	b = append(b, '|')
	b = h.Acquirer.AppendText(b)
	b = append(b, '|')
	b = appendDay(b, h.Day)
	b = append(b, '|')
	b = append(b, h.Class.String()...)
	return append(b, '\n')
}

// Parse parses a batch header line (without newline), strictly.
func (h *BatchHeader) Parse(line []byte) error {
	var buf [maxRecordFields][]byte
	f, err := splitRecord(&buf, line, RecordBatchHeader, batchHeaderFields)
	if err != nil {
		return err
	}
	var ok bool
	*h = BatchHeader{}
	if h.Batch, err = parseBatchNumber(f[1]); err != nil {
		return err
	}
	if h.Mode, ok = parseMode(f[2]); !ok {
		return fieldError("mode", "unknown mode")
	}
	if h.Issuer, ok = parseCity(f[3]); !ok {
		return fieldError("issuer", "not a city code")
	}
	if h.Acquirer, ok = parseCity(f[4]); !ok {
		return fieldError("acquirer", "not a city code")
	}
	if h.Day, ok = parseDay(f[5]); !ok {
		return fieldError("settlement_day", "not a YYYY-MM-DD date")
	}
	if h.Class, ok = parseClass(f[6]); !ok {
		return fieldError("class", "neither journeys nor adjustments")
	}
	var out [512]byte
	return canonical(line, h.Append(out[:0]))
}

// Validate checks what the batch header alone can decide: a batch number
// in range, a mode, a class, city codes, and an acquirer other than the issuer (a
// local ride is not cleared). Numbering, the issuer and day of the file
// and the order of batches are ReadClearingFile's.
func (h *BatchHeader) Validate() error {
	switch {
	case h.Batch < 1 || h.Batch > maxBatches:
		return fieldError("batch_number", "not a batch number")
	case h.Mode < 1 || h.Mode >= transit.NumModes:
		return fieldError("mode", "unknown mode")
	case h.Class < 1 || h.Class >= numClasses:
		return fieldError("class", "neither journeys nor adjustments")
	case !h.Issuer.Valid():
		return fieldError("issuer", "not a city code")
	case !h.Acquirer.Valid():
		return fieldError("acquirer", "not a city code")
	case h.Acquirer == h.Issuer:
		return fieldError("acquirer", "equals the issuer: a local ride is not cleared")
	}
	return nil
}
