package feed

import (
	"fmt"

	"github.com/tapsettle/tapsettle/transit"
)

// Control messages are marked by a record header; their key is empty but
// a correction's.
const (
	// HeaderControl is the name of the record header that marks a control
	// message. Its value names the control (ControlCloseDay).
	HeaderControl = "tapsettle-control"
	// ControlCloseDay says that the authority's feed for the settlement
	// day in the message value (YYYY-MM-DD) is complete. Publisher.CloseDay
	// sends one to every partition.
	ControlCloseDay = "close-day"
	// ControlCorrection marks a message of corrections (transit.Correction)
	// for the cards' partition: its key is the card, its value one
	// correction as a JSON object or several as JSON lines, in the
	// correction file's JSON form (package ingest).
	ControlCorrection = "correction"
)

// Message is one record read from a partition. Key and Value belong to the
// caller: PartitionReader.Fetch overwrites them in place, reusing their
// capacity, the next time the same element of the buffer is passed in.
type Message struct {
	// Offset is the record's offset in its partition.
	Offset int64
	// HighWaterMark is the partition's high-water mark (the offset after
	// the last record that every in-sync replica has) when the record was
	// fetched; HighWaterMark-Offset-1 is the consumer's lag.
	HighWaterMark int64
	// Key is the card_id of the tap, or of the first tap of a batch;
	// empty for a control message.
	Key []byte
	// Value is one tap as a JSON object, a batch of taps as JSON lines, or
	// the payload of a control message.
	Value []byte
	// Control is the value of the HeaderControl header ("" for taps),
	// such as ControlCloseDay.
	Control string
	// Null reports a record whose value is NULL (Value is then empty):
	// a tombstone, which a tap feed should never hold.
	Null bool
}

// ParseCloseDay returns the settlement day that a close-day control
// message closes. It returns an error for any other message, or when the
// value is not a canonical YYYY-MM-DD date.
func ParseCloseDay(m *Message) (transit.Day, error) {
	if m.Control != ControlCloseDay {
		return 0, fmt.Errorf("feed: offset %d is not a %s control message (control %q)", m.Offset, ControlCloseDay, m.Control)
	}
	// transit.ParseDay is strict: exactly the YYYY-MM-DD that
	// transit.Day.String writes, so every producer names a day alike.
	d, err := transit.ParseDay(string(m.Value))
	if err != nil {
		return 0, fmt.Errorf("feed: %s control message at offset %d: %w", ControlCloseDay, m.Offset, err)
	}
	return d, nil
}

// controlName returns the Control string for a header value, without
// allocating for the controls this package defines.
func controlName(v []byte) string {
	if string(v) == ControlCloseDay {
		return ControlCloseDay
	}
	return string(v)
}
