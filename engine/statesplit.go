package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/tapsettle/tapsettle/internal/varint"
	"github.com/tapsettle/tapsettle/transit"
)

// Splitting and joining state by card.
//
// Every record of a state (see WriteState) but its head and end belongs
// to one card: a card's state and tap_ids to the card of their key, a
// held tap and a kept charge to theirs. The batch job prices a day too
// large for its memory a group of card partitions at a time
// (CardPartition), each in an engine of its own; with a state folder it
// splits the state the same way (StateRecords), loads into each group's
// engine the records of its cards between a head and an end
// (AppendStateHead, AppendStateEnd, then ReadState), and joins the
// states the groups' engines write into one (StateRecords of each, after
// one head). A card's records stay together and in their order, which is
// all ReadState needs of them: the state so joined loads as the state of
// one engine that priced every card.

// AppendStateHead appends to b the head of a state whose last closed day
// is closed, written with the dedup window dedupDays: what WriteState
// writes before the records.
func AppendStateHead(b []byte, closed transit.Day, dedupDays int) []byte {
	b = append(b, stateMagic...)
	b = binary.AppendVarint(b, int64(closed))
	return binary.AppendUvarint(b, uint64(dedupDays))
}

// AppendStateEnd appends to b the end of a state: what WriteState writes
// after the records.
func AppendStateEnd(b []byte) []byte { return append(b, stateEnd, 0) }

// StateRecords reads a state written by WriteState and calls f with each
// record, whole (its kind, its length and its body, as written), and the
// card it belongs to, in their order; rec is valid until f returns. It
// returns the state's last closed day and dedup window. It checks the
// records' framing and finds their cards, not their contents: ReadState
// checks those.
func StateRecords(r io.Reader, f func(card *transit.CardID, rec []byte) error) (transit.Day, int, error) {
	sr, closed, dedup, err := newStateReader(r)
	if err != nil {
		return 0, 0, err
	}
	if dedup > math.MaxInt32 {
		return 0, 0, fmt.Errorf("dedup window: %w", ErrState)
	}
	for {
		kind, body, whole, err := sr.next()
		if err != nil {
			return 0, 0, err
		}
		if kind == stateEnd {
			return closed, int(dedup), nil
		}
		var card transit.CardID
		switch kind {
		case stateCard, stateID:
			if len(body) < cardKeySize {
				return 0, 0, fmt.Errorf("record %d: kind %q of %d bytes: %w", sr.n, kind, len(body), ErrState)
			}
			copy(card[:], body)
		case stateHeld:
			var t transit.Tap
			if rest, err := t.DecodeCompact(body); err != nil || len(rest) != 0 {
				return 0, 0, fmt.Errorf("record %d: held tap: %v: %w", sr.n, err, ErrState)
			}
			card = t.Card
		case stateCharge:
			_, b, err := varint.Int32(body)
			if err != nil {
				return 0, 0, fmt.Errorf("record %d: %w: %w", sr.n, err, ErrState)
			}
			var p transit.Priced
			if len(b) > maxChargeRecord {
				return 0, 0, fmt.Errorf("record %d: charge record of %d bytes: %w", sr.n, len(b), ErrState)
			}
			if err := decodeCharge(b, &p); err != nil {
				return 0, 0, fmt.Errorf("record %d: %w: %w", sr.n, err, ErrState)
			}
			card = p.Card
		default:
			return 0, 0, fmt.Errorf("record %d: kind %q: %w", sr.n, kind, ErrState)
		}
		if err := f(&card, whole); err != nil {
			return 0, 0, err
		}
	}
}
